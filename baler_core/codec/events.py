"""Compress and decompress HEP events (``io.events.Events``) as one ``.baler`` file of kind ``events``.

Each part (the per-event table with the counters, then one table of objects per collection) is coded as a
complete table ``.baler`` and stored whole as the section ``part/<i>``; the outer header says how the parts
make the events back (tree, layout, branch order, counters). The model, if any, codes the part whose columns
are the model's; the other parts are coded without a model under the same bounds. Counters are integer
columns, which every bound keeps exact, so every event keeps its objects.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from baler_core import __version__
from baler_core.codec.decompress import decompress
from baler_core.codec.table import compress_table
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.coding.options import CompressionOptions
from baler_core.errors import FormatError, InputError, ModelMismatchError
from baler_core.format.container import ContainerReader, ContainerWriter
from baler_core.io.events import EVENT_PART, LAYOUTS, Collection, EventChunks, Events
from baler_core.models.store import ModelBundle


def _none_to_exact(bounds: BoundSpec) -> BoundSpec:
    exact = parse_bound("exact")
    swap = lambda b: exact if b.kind == "none" else b  # noqa: E731
    return BoundSpec(swap(bounds.default), {k: swap(v) for k, v in bounds.columns.items()}, bounds.spans)


def _part_bounds(bounds: BoundSpec, table: pd.DataFrame) -> BoundSpec:
    return BoundSpec(bounds.default, {k: v for k, v in bounds.columns.items() if k in table.columns}, bounds.spans)


def compress_events(ev: Events | EventChunks, bundle: ModelBundle | None, out_path: str | Path,
                    opts: CompressionOptions, source: str = "input") -> dict:
    """Write ``ev`` (events in memory, or :class:`EventChunks` read chunk by chunk) to ``out_path``; returns the
    outer header. Chunked events are read once per part, so memory holds one chunk of one part at a time."""
    first = ev if isinstance(ev, Events) else ev.first()
    parts = first.parts()
    every = {c for _, t in parts for c in t.columns}
    unknown = sorted(set(opts.bounds.columns) - every)
    if unknown:
        raise InputError(f"{source}: error-bound overrides name branches not in the events: {', '.join(unknown)}; "
                         f"branches: {', '.join(sorted(every))}")
    model_part = None
    if bundle is not None:
        fits = [name for name, t in parts if set(t.columns) == set(bundle.columns)]
        if not fits:
            raise InputError(f"{source}: the model's columns ({', '.join(bundle.columns)}) are not the branches of "
                             "one collection or of the per-event values: "
                             + "; ".join(f"{name}: {', '.join(t.columns)}" for name, t in parts))
        model_part = fits[0]
    out_path = Path(out_path)
    records, raw, n_events = [], 0, None
    model_record: dict = {"decoder_sha256": None, "decoder_bytes": 0, "embedded": False}
    with ContainerWriter(out_path) as w, tempfile.TemporaryDirectory(dir=out_path.parent) as tmp:
        for i, (name, table) in enumerate(parts):
            seen = {"rows": 0, "bytes": 0, "events": 0}

            def tables(name: str = name, seen: dict = seen) -> Iterator[pd.DataFrame]:
                for chunk in [ev] if isinstance(ev, Events) else ev.part_chunks(name):
                    t = dict(chunk.parts())[name]
                    seen["rows"] += len(t)
                    seen["events"] += chunk.n_events
                    seen["bytes"] += sum(t[c].dtype.itemsize * len(t) for c in t.columns)
                    yield t

            if table.shape[1] == 0:
                for _ in tables():
                    pass
                records.append({"name": name, "section": None, "rows": seen["rows"]})
            else:
                part_opts = dataclasses.replace(opts, bounds=_part_bounds(opts.bounds, table))
                use = bundle if name == model_part else None
                if use is None and any(part_opts.bounds.for_column(c).kind == "none" for c in table.columns):
                    if bundle is None:
                        raise InputError(f"{source}: {name}: branches coded without a model need an error bound "
                                         "(abs=, rel=, range=, rms= or exact), not none")
                    # `none` asks for the model's reconstruction; a part the model does not code is kept exact
                    part_opts = dataclasses.replace(part_opts, bounds=_none_to_exact(part_opts.bounds))
                part_path = Path(tmp) / f"part{i}.baler"
                part_header = compress_table(tables(), use, part_path, part_opts, f"{source}:{name}")
                w.add(f"part/{i}", part_path.read_bytes())
                used = use is not None and part_header["model"].get("used", True) is not False
                records.append({"name": name, "section": f"part/{i}", "rows": seen["rows"], "model": used})
                if used:
                    model_record = {k: part_header["model"][k] for k in ("decoder_sha256", "decoder_bytes",
                                                                         "embedded")}
            raw += seen["bytes"]
            if n_events is None:
                n_events = seen["events"]
            elif seen["events"] != n_events:  # the file changed between two passes
                raise InputError(f"{source}: {seen['events']} events read for {name!r}, {n_events} before")
        header = {
            "format": "baler", "kind": "events", "baler_version": __version__, "n_rows": n_events,
            "tree": first.tree, "layout": first.layout, "order": first.order,
            "synthetic_counters": first.synthetic_counters, "per_event_columns": list(first.per_event.columns),
            "collections": [{"name": c.name, "counter": c.counter, "fields": c.fields, "branches": c.branches}
                            for c in first.collections],
            "parts": records, "raw_bytes": raw, "error_bound": opts.bounds.to_dict(),
            "model": {"name": bundle.record["model"] if bundle is not None else "none", "part": model_part,
                      "used": any(r.get("model") for r in records), **model_record},
        }
        w.finish(header)
    return header


def _str_list(v, what: str, path) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise FormatError(f"{path}: events header: {what} is not a list of names")
    return v


def decompress_events(path: str | Path, bundle: ModelBundle | None = None, model_source: str = "model",
                      threads: int = 0) -> Events:
    """Rebuild the events of a file written by :func:`compress_events`."""
    path = Path(path)
    with ContainerReader(path) as rd, tempfile.TemporaryDirectory() as tmp:
        h = rd.header
        if h.get("kind") != "events":
            raise InputError(f"{path}: holds a {h.get('kind')}, not events")
        try:
            layout, tree, n = h["layout"], str(h["tree"]), int(h["n_rows"])
            if layout not in LAYOUTS:
                raise FormatError(f"{path}: unknown events layout {layout!r}")
            tables: dict[str, pd.DataFrame] = {}
            for rec in h["parts"]:
                name = str(rec["name"])
                if rec["section"] is None:
                    tables[name] = pd.DataFrame(index=range(int(rec["rows"])))
                    continue
                part_path = Path(tmp) / "part.baler"
                part_path.write_bytes(rd.read(str(rec["section"])))
                use = bundle if rec.get("model") else None
                try:
                    tables[name] = decompress(part_path, use, model_source, threads=threads)
                except (InputError, FormatError, ModelMismatchError) as exc:  # name the file the user gave
                    raise type(exc)(str(exc).replace(str(part_path), f"{path} (part {name!r})")) from exc
                if len(tables[name]) != int(rec["rows"]):
                    raise FormatError(f"{path}: part {name!r} holds {len(tables[name])} rows, header says "
                                      f"{rec['rows']}")
            per_event = tables[EVENT_PART]
            if list(per_event.columns) != _str_list(h["per_event_columns"], "per_event_columns", path) \
                    or len(per_event) != n:
                raise FormatError(f"{path}: the per-event part does not match the header")
            collections = []
            for c in h["collections"]:
                objects = tables[str(c["name"])]
                branches = _str_list(c["branches"], "branches", path)
                if list(objects.columns) != branches:
                    raise FormatError(f"{path}: collection {c['name']!r}: columns do not match the header")
                collections.append(Collection(str(c["name"]), str(c["counter"]),
                                              _str_list(c["fields"], "fields", path), branches, objects))
            ev = Events(tree, layout, per_event, collections, _str_list(h["order"], "order", path),
                        _str_list(h.get("synthetic_counters", []), "synthetic_counters", path))
        except (InputError, FormatError, ModelMismatchError):
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"{path}: events header malformed ({type(exc).__name__}: {exc})") from exc
    try:
        ev.check(str(path))
    except InputError as exc:
        raise FormatError(str(exc)) from exc
    return ev


def is_events_file(path: str | Path) -> bool:
    with ContainerReader(path, verify=False) as rd:
        return rd.header.get("kind") == "events"


