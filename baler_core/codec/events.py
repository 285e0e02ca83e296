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

import numpy as np
import pandas as pd

from baler_core import __version__
from baler_core.codec.decompress import iter_decompress
from baler_core.codec.table import compress_table
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.coding.options import CompressionOptions
from baler_core.errors import FormatError, InputError, ModelMismatchError
from baler_core.format.container import ContainerReader, ContainerWriter
from baler_core.io.events import EVENT_CHUNK, EVENT_PART, LAYOUTS, Collection, EventChunks, Events
from baler_core.models.store import ModelBundle

CHUNK_BYTES = 64 << 20  # values per chunk of events decompressed (each part's block comes on top)


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


class _PartRows:
    """One part's rows in order, taken ``k`` at a time from its blocks as they decode (one block held)."""

    def __init__(self, name: str, rows: int, blocks: Iterator[pd.DataFrame] | None, path: Path,
                 part_path: Path | None) -> None:
        self.name, self.rows, self.blocks, self.path, self.part_path = name, rows, blocks, path, part_path
        self.pending: list[pd.DataFrame] = []
        self.have = self.taken = 0

    def _next(self) -> pd.DataFrame | None:
        try:
            return next(self.blocks, None)
        except (InputError, FormatError, ModelMismatchError) as exc:  # name the file the user gave
            raise type(exc)(str(exc).replace(str(self.part_path), f"{self.path} (part {self.name!r})")) from exc

    def take(self, k: int) -> pd.DataFrame:
        if self.blocks is None:  # a part without columns: only its row count is stored
            self.taken += k
            if self.taken > self.rows:
                raise FormatError(f"{self.path}: part {self.name!r} holds {self.rows} rows, the counters need more")
            return pd.DataFrame(index=range(k))
        while self.have < k:
            blk = self._next()
            if blk is None:
                raise FormatError(f"{self.path}: part {self.name!r} ends after {self.taken + self.have} rows; the "
                                  f"counters need {self.taken + k}")
            self.pending.append(blk)
            self.have += len(blk)
        got, need = [], k
        while need:
            blk = self.pending[0]
            if len(blk) <= need:
                got.append(self.pending.pop(0))
                need -= len(blk)
            else:
                got.append(blk.iloc[:need])
                self.pending[0], need = blk.iloc[need:], 0
        self.have -= k
        self.taken += k
        if not got:
            return self.pending[0].iloc[:0].reset_index(drop=True) if self.pending else self._empty()
        if len(got) == 1:
            return got[0].reset_index(drop=True)
        return pd.DataFrame({c: np.concatenate([g[c].to_numpy() for g in got]) for c in got[0].columns},
                            columns=list(got[0].columns), copy=False)

    def _empty(self) -> pd.DataFrame:
        blk = self._next()  # a part decodes to at least one (maybe empty) block: its columns and dtypes
        if blk is None:
            raise FormatError(f"{self.path}: part {self.name!r} holds no blocks")
        self.pending.append(blk)
        self.have += len(blk)
        return blk.iloc[:0].reset_index(drop=True)

    def finish(self) -> None:
        """Every row was taken, and the header's count is the part's."""
        extra = self.have + (0 if self.blocks is None else sum(len(b) for b in iter(self._next, None)))
        if extra or self.taken != self.rows:
            raise FormatError(f"{self.path}: part {self.name!r} holds {self.taken + extra} rows, the header says "
                              f"{self.rows} and the counters {self.taken}")


def _chunk_events(h: dict, step: int | None) -> int:
    """Events per chunk: ``step``, or (None) about CHUNK_BYTES of values, at most EVENT_CHUNK events."""
    if step is not None:
        if step < 1:
            raise InputError(f"the event chunk must be at least 1 event, got {step}")
        return int(step)
    per_event = max(int(h.get("raw_bytes", 0)), 1) / max(int(h["n_rows"]), 1)
    return max(1, min(EVENT_CHUNK, int(CHUNK_BYTES / per_event)))


def iter_events(path: str | Path, bundle: ModelBundle | None = None, model_source: str = "model",
                threads: int = 0, step: int | None = None) -> Iterator[Events]:
    """Rebuild the events of a file written by :func:`compress_events` in chunks of ``step`` events (default:
    about CHUNK_BYTES of values each); at least one chunk, so a file of no events still gives its structure.
    Memory holds one chunk and one block of each part, whatever the file's size."""
    path = Path(path)
    with ContainerReader(path) as rd, tempfile.TemporaryDirectory() as tmp:
        h = rd.header
        if h.get("kind") != "events":
            raise InputError(f"{path}: holds a {h.get('kind')}, not events")
        parts: dict[str, _PartRows] = {}
        try:
            try:
                layout, tree, n = h["layout"], str(h["tree"]), int(h["n_rows"])
                if layout not in LAYOUTS:
                    raise FormatError(f"{path}: unknown events layout {layout!r}")
                step = _chunk_events(h, step)
                for i, rec in enumerate(h["parts"]):
                    name, blocks, part_path = str(rec["name"]), None, None
                    if rec["section"] is not None:
                        part_path = Path(tmp) / f"part{i}.baler"
                        part_path.write_bytes(rd.read(str(rec["section"])))
                        blocks = iter_decompress(part_path, bundle if rec.get("model") else None, model_source,
                                                 threads=threads)
                    parts[name] = _PartRows(name, int(rec["rows"]), blocks, path, part_path)
                per_event_columns = _str_list(h["per_event_columns"], "per_event_columns", path)
                order = _str_list(h["order"], "order", path)
                synthetic = _str_list(h.get("synthetic_counters", []), "synthetic_counters", path)
                specs = [(str(c["name"]), str(c["counter"]), _str_list(c["fields"], "fields", path),
                          _str_list(c["branches"], "branches", path)) for c in h["collections"]]
                if EVENT_PART not in parts or any(s[0] not in parts for s in specs):
                    raise FormatError(f"{path}: the parts do not match the collections of the header")
            except (KeyError, TypeError, ValueError) as exc:
                raise FormatError(f"{path}: events header malformed ({type(exc).__name__}: {exc})") from exc
            for s in range(0, max(n, 1), step):
                per_event = parts[EVENT_PART].take(min(step, n - s))
                if list(per_event.columns) != per_event_columns:
                    raise FormatError(f"{path}: the per-event part does not match the header")
                collections = []
                for name, counter, fields, branches in specs:
                    if counter not in per_event.columns:
                        raise FormatError(f"{path}: collection {name!r}: counter {counter!r} is not stored")
                    counts = per_event[counter].to_numpy()
                    if counts.dtype.kind not in "iu" or counts.min(initial=0) < 0:
                        raise FormatError(f"{path}: collection {name!r}: counter {counter!r} holds negative or "
                                          "non-integer counts")
                    objects = parts[name].take(int(counts.sum()))
                    if list(objects.columns) != branches:
                        raise FormatError(f"{path}: collection {name!r}: columns do not match the header")
                    collections.append(Collection(name, counter, fields, branches, objects))
                yield Events(tree, layout, per_event, collections, order, synthetic)
            for part in parts.values():
                part.finish()
        finally:
            for part in parts.values():  # close the decoders before their files go
                if part.blocks is not None:
                    part.blocks.close()


def decompress_events(path: str | Path, bundle: ModelBundle | None = None, model_source: str = "model",
                      threads: int = 0) -> Events:
    """Rebuild the events of a file written by :func:`compress_events`, whole, in memory."""
    with ContainerReader(path, verify=False) as rd:
        n = rd.header.get("n_rows")
    step = n if isinstance(n, int) and n >= 1 else None
    chunks = list(iter_events(path, bundle, model_source, threads, step))
    if len(chunks) != 1:
        raise FormatError(f"{path}: events header malformed (n_rows {n!r})")
    return chunks[0]


def is_events_file(path: str | Path) -> bool:
    with ContainerReader(path, verify=False) as rd:
        return rd.header.get("kind") == "events"


