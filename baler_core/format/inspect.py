"""What a ``.baler`` file holds and where its bytes go, read from its header alone."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from baler_core.errors import FormatError, InputError
from baler_core.format.container import INNER_SECTION, ContainerReader

Merge = Callable[[ContainerReader], None]  # reads a 1.12 file's column records (codec.decompress.inner_reader)


def _inner(rd: ContainerReader, merge: Merge | None, path: str | Path) -> None:
    if rd.header.get("inner") is None:
        return
    if merge is None:
        raise InputError(f"{path}: its column records are coded against its model's header template (format "
                         "1.12): give the model (baler info --columns FILE -m MODEL)")
    merge(rd)


def column_costs(path: str | Path, merge: Merge | None = None) -> list[dict]:
    """Where a file's bytes go, per column (all blocks) in the file's column order: dtype, bytes, bits per value,
    the coding mode(s) of its blocks, the largest quantization step, the count of values stored exactly as
    exceptions and the streams coded against the model's prior (``prior``; the others use tables of their own:
    the fallback where the data drift from the training rows; their bytes are those of the block's shared
    section, ``(priors)``). Latents, the embedded decoder and the column records of a 1.12 file follow as
    ``(latent)``, ``(decoder)`` and ``(header)``; ``merge`` reads the latter."""
    with ContainerReader(path) as rd:
        if rd.header.get("kind") in ("events", "gridded"):
            return _nested_costs(rd, path, merge)
        _inner(rd, merge, path)
        h = rd.header
    try:
        names = [str(c["name"]) for c in h.get("columns", [])]
        dtypes = {str(c["name"]): str(np.dtype(c["dtype"])) for c in h.get("columns", [])}
        per_row = math.prod(h["shape"][1:]) if h.get("kind") == "field" else 1
        n_values = int(h.get("n_rows") or 0) * per_row
        rows: dict[str, dict] = {}

        def row_of(key: str) -> dict:
            return rows.setdefault(key, {"column": key, "dtype": dtypes.get(key, ""), "bytes": 0, "modes": set(),
                                         "step": 0.0, "exceptions": 0, "prior": set()})

        for name in names:  # file order, whatever order the model coded them in
            row_of(name)

        for section, (_, length, _) in h["sections"].items():
            parts = section.split("/")  # b<block>/<column or latent>/<stream>, or decoder
            key = ("(decoder)" if section == "decoder" else "(header)" if section == INNER_SECTION
                   else "(latent)" if parts[1:2] == ["latent"]
                   else "(priors)" if len(parts) == 2 and parts[1] == "prior" else parts[1])
            row_of(key)["bytes"] += int(length)
        for blk in h.get("blocks", []):
            for name, rec in zip(names, blk.get("columns", [])):
                row = row_of(name)
                row["modes"].add(str(rec.get("mode")))
                if isinstance(rec.get("step"), (int, float)):
                    row["step"] = max(row["step"], float(rec["step"]))
                row["exceptions"] += int(rec.get("n_exceptions", 0))
                row["prior"].update(str(s) for s in rec.get("prior", []))
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{path}: header malformed ({exc!r})") from exc
    return [{**row, "modes": ",".join(sorted(row["modes"])), "prior": ",".join(sorted(row["prior"])),
             "bits_per_value": 8 * row["bytes"] / n_values if row["column"] in names and n_values else float("nan")}
            for row in rows.values()]


def file_info(path: str | Path, merge: Merge | None = None) -> dict:
    """Sizes and ratios of a ``.baler`` file, with and without the decoder's bytes. A 1.12 file's column count
    needs ``merge`` (None without it)."""
    with ContainerReader(path) as rd:
        inner = rd.header.get("inner") is not None
        if inner and merge is not None:
            merge(rd)
            inner = False
        h = rd.header
        total = rd.size
        used = h.get("model", {}).get("used", True) is not False
        dec = int(h.get("model", {}).get("decoder_bytes", 0)) if used else 0
        if h.get("kind") == "events":  # the decoder sits inside the part the model coded
            embedded = bool(h.get("model", {}).get("embedded")) and used
            data_bytes = total - (dec if embedded else 0)
        else:
            embedded = "decoder" in h["sections"]
            data_bytes = total - (rd.section_bytes("decoder") if embedded else 0)
        raw = int(h.get("raw_bytes", 0))
        return {
            "file": str(path), "kind": h.get("kind"), "rows": h.get("n_rows"), "shape": h.get("shape"),
            "columns": None if inner else len(h.get("columns", [])), "raw_bytes": raw, "compressed_bytes": data_bytes,
            "decoder_bytes": dec, "decoder_embedded": embedded, "file_bytes": total,
            "ratio_without_decoder": raw / data_bytes if data_bytes else float("nan"),
            "ratio_with_decoder": raw / (data_bytes + dec) if data_bytes + dec else float("nan"),
            "error_bound": h.get("error_bound"), "latent": h.get("latent"), "model": h.get("model"),
            "format_version": ".".join(map(str, rd.version)), "priors": h.get("priors"),
        }


def _nested_costs(rd: ContainerReader, path: str | Path, merge: Merge | None) -> list[dict]:
    """Events and gridded files: the columns of every nested part (a gridded field is named after its
    variable); a variable kept exactly is one row of mode ``exact``."""
    import tempfile

    h, out = rd.header, []
    try:
        nested = h["parts"] if h["kind"] == "events" else [r for r in h["variables"] if r["coded"] == "field"]
        with tempfile.TemporaryDirectory() as tmp:
            for rec in nested:
                if rec.get("section") is None:
                    continue
                part = Path(tmp) / "part.baler"
                part.write_bytes(rd.read(str(rec["section"])))
                for row in column_costs(part, merge):
                    out.append({**row, "column": str(rec["name"]) if h["kind"] == "gridded" else row["column"]})
        for rec in h.get("variables", []):
            if rec["coded"] == "exact":
                size = sum(int(v[1]) for k, v in h["sections"].items() if k.startswith(f"{rec['section']}/"))
                n = math.prod(int(d) for d in rec["shape"])
                out.append({"column": str(rec["name"]), "dtype": str(np.dtype(rec["dtype"])), "bytes": size,
                            "modes": "exact", "step": 0.0,
                            "exceptions": 0, "bits_per_value": 8 * size / n if n else float("nan")})
        if h.get("order"):  # gridded: the file's variable order
            rank = {str(n): i for i, n in enumerate(h["order"])}
            out.sort(key=lambda r: rank.get(r["column"], len(rank)))
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{path}: header malformed ({exc!r})") from exc
    return out
