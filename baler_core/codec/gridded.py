"""Compress and decompress gridded files (HDF5, NetCDF, zarr: ``io.gridded.Gridded``) as one ``.baler`` of kind
``gridded``.

Each field (a float variable T x H x W or T x D x H x W) is coded under its own bound (the default, or the bound
named after the variable in ``--error-bound-file``) as a complete field ``.baler``, stored whole as the section
``field/<i>``: without a model, or, for the variables named as the model's (``model_variables``: a campaign's
model learns one variable, say ``u``), with it (since 1.10; the decoder, when embedded, once, as the section
``decoder``); every other variable (coordinates, masks, integer arrays) is kept bit for
bit (byte shuffle + zstd or pcodec: the ``exact`` coder) as ``exact/<j>``. The outer header keeps the variables'
order, names, dimensions, dtypes, shapes and attributes, and the file's attributes, so the file is written back
as it was read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from baler_core import __version__
from baler_core.codec.decompress import iter_decompress, resolve_decoder
from baler_core.codec.fallback import keep_smaller
from baler_core.codec.field import compress_field
from baler_core.codec.inference import model_header
from baler_core.coding.error_bounds import BoundSpec
from baler_core.coding.lossless import decode_exact, encode_exact
from baler_core.coding.options import CompressionOptions
from baler_core.errors import FormatError, InputError
from baler_core.format.container import ContainerReader, ContainerWriter
from baler_core.io.gridded import FrameReader, Gridded, GriddedWriter, Variable, gather
from baler_core.models.store import ModelBundle

NO_MODEL = {"name": "none", "decoder_sha256": None, "decoder_bytes": 0, "embedded": False}


def compress_gridded(g: Gridded, out_path: str | Path, opts: CompressionOptions, source: str = "input",
                     bundle: ModelBundle | None = None, model_variables: list[str] | None = None) -> dict:
    """Write ``g`` to ``out_path``; returns the outer header. With ``bundle``, the fields named in
    ``model_variables`` are coded with the model (each block choosing between it and the model-free coder), the
    rest without; with the decoder embedded, the file is also coded without the model and the smaller kept."""
    names = [v.name for v in g.fields]
    unknown = sorted(set(opts.bounds.columns) - set(names))
    if unknown:
        raise InputError(f"{source}: error-bound overrides name variables that are not fields: {', '.join(unknown)}; "
                         f"fields: {', '.join(names)}")
    modelled = set(model_variables or [])
    if bundle is not None and not modelled:
        raise InputError(f"{source}: name the variables the model codes (--model-variables); fields: "
                         f"{', '.join(names)}")
    if bundle is None and modelled:
        raise InputError(f"{source}: --model-variables needs a model (-m MODEL)")
    missing = sorted(modelled - set(names))
    if missing:
        raise InputError(f"{source}: model variables {', '.join(missing)} are not fields of the file; fields: "
                         f"{', '.join(names)}")
    out_path = Path(out_path)
    if bundle is not None and opts.embed_decoder and opts.model_fallback:
        header = compress_gridded(g, out_path, dataclasses.replace(opts, model_fallback=False), source, bundle,
                                  model_variables)
        return keep_smaller(out_path, header, lambda p: compress_gridded(g, p, opts, source), source)
    blob = bundle.decoder_blob() if bundle is not None else b""
    records, raw = [], 0
    with ContainerWriter(out_path) as w, tempfile.TemporaryDirectory(dir=out_path.parent) as tmp:
        if bundle is not None and opts.embed_decoder:
            w.add("decoder", blob)
        for i, var in enumerate(g.fields):
            part_opts = dataclasses.replace(opts, bounds=BoundSpec(opts.bounds.for_column(var.name), {}),
                                            embed_decoder=False)
            part = Path(tmp) / f"field{i}.baler"
            model = bundle if var.name in modelled else None
            h = compress_field(FrameReader(var), model, part, part_opts, f"{source}:{var.name}")
            w.add(f"field/{i}", part.read_bytes())
            records.append({**_record(var), "section": f"field/{i}", "coded": "field",
                            **({"model": bool(h["model"]["used"])} if model is not None else {})})
            raw += int(np.prod(var.shape)) * var.dtype.itemsize
        for j, var in enumerate(g.exact):
            arr = np.ascontiguousarray(np.asarray(var.data[...]))
            rec, streams, _ = encode_exact(arr.reshape(-1), opts.level)
            for k, v in streams.items():
                w.add(f"exact/{j}/{k}", v)
            records.append({**_record(var), "section": f"exact/{j}", "coded": "exact", "mode": rec})
            raw += arr.nbytes
        header = {"format": "baler", "kind": "gridded", "baler_version": __version__, "n_rows": len(records),
                  "source_format": g.format, "attrs": g.attrs, "variables": records, "raw_bytes": raw,
                  "order": g.order or [r["name"] for r in records],
                  "error_bound": opts.bounds.to_dict(),
                  "model": model_header(bundle, blob, opts.embed_decoder) if bundle is not None else NO_MODEL}
        w.finish(header)
    return header


def _record(var: Variable) -> dict:
    return {"name": var.name, "dims": var.dims, "attrs": var.attrs, "dtype": var.dtype.str, "shape": list(var.shape),
            "coordinate": var.coordinate}


def _ordered(h: dict) -> list[dict]:
    """The variable records in the file's order (the header lists fields first)."""
    recs = list(h["variables"])
    order = {str(name): i for i, name in enumerate(h.get("order", []))}
    if set(order) != {str(r["name"]) for r in recs}:
        return recs
    return sorted(recs, key=lambda r: order[str(r["name"])])


def _blocks(rd: ContainerReader, rec: dict, tmp: str, threads: int, bundle: ModelBundle | None = None
            ) -> Iterator[np.ndarray]:
    """A variable's values: a field's frame blocks as they decode, an exact variable whole; shapes checked."""
    path, name = rd.path, str(rec["name"])
    dtype, shape = np.dtype(rec["dtype"]), tuple(int(v) for v in rec["shape"])
    if rec["coded"] == "field":
        part = Path(tmp) / "part.baler"
        part.write_bytes(rd.read(str(rec["section"])))
        blocks: Iterable[np.ndarray] = iter_decompress(part, bundle if rec.get("model") else None, threads=threads)
    elif rec["coded"] == "exact":
        sec = str(rec["section"])
        blocks = [decode_exact(rec["mode"], lambda k: rd.read(f"{sec}/{k}"), int(np.prod(shape)), dtype)
                  .reshape(shape)]
    else:
        raise FormatError(f"{path}: variable {name!r} coded as {rec['coded']!r}, unknown")
    n = 0
    for b in blocks:
        if b.dtype != dtype or b.shape[1:] != shape[1:] or b.ndim != len(shape):
            raise FormatError(f"{path}: variable {name!r} decodes to {b.dtype} {b.shape}, header says {dtype} "
                              f"{shape}")
        n += len(b) if shape else 1
        yield b
    if n != (shape[0] if shape else 1):
        raise FormatError(f"{path}: variable {name!r} decodes to {n} frames, header says {shape}")


def _variable(rec: dict) -> Variable:
    return Variable(str(rec["name"]), None, [str(d) for d in rec["dims"]], dict(rec["attrs"]),
                    bool(rec.get("coordinate")))


def _decoder(rd: ContainerReader, h: dict, bundle: ModelBundle | None, model_source: str) -> ModelBundle | None:
    """The model the file's modelled variables need (embedded, or ``bundle`` checked against the file), or None
    where no variable used one."""
    if not any(rec.get("model") for rec in h["variables"]):
        return None
    return resolve_decoder(rd, bundle, model_source)


def decompress_gridded(path: str | Path, threads: int = 0, bundle: ModelBundle | None = None,
                       model_source: str = "model") -> tuple[list[tuple[Variable, np.ndarray]], dict, str]:
    """Variables (in the file's order) with their arrays, the file attributes and the source format."""
    out = []
    with _open(path) as (rd, h), tempfile.TemporaryDirectory() as tmp, _malformed(path):
        bundle = _decoder(rd, h, bundle, model_source)
        for rec in _ordered(h):
            var = _variable(rec)
            var.data = gather(_blocks(rd, rec, tmp, threads, bundle), tuple(int(v) for v in rec["shape"]),
                              np.dtype(rec["dtype"]))
            out.append((var, var.data))
        return out, dict(h.get("attrs", {})), str(h.get("source_format", ""))


def write_decompressed(path: str | Path, out_path: str | Path, fmt: str | None = None, threads: int = 0,
                       bundle: ModelBundle | None = None, model_source: str = "model") -> None:
    """Write a gridded ``.baler`` back as HDF5, NetCDF or zarr, each field frame block by frame block (HDF5 and
    zarr never hold a whole field in memory)."""
    with _open(path) as (rd, h), tempfile.TemporaryDirectory() as tmp, _malformed(path):
        bundle = _decoder(rd, h, bundle, model_source)
        w = GriddedWriter(out_path, fmt, h.get("attrs", {}))
        try:
            for rec in _ordered(h):
                w.add(_variable(rec), tuple(int(v) for v in rec["shape"]), np.dtype(rec["dtype"]),
                      _blocks(rd, rec, tmp, threads, bundle))
        finally:
            w.close()


@contextlib.contextmanager
def _open(path):
    with ContainerReader(path) as rd:
        if rd.header.get("kind") != "gridded":
            raise InputError(f"{path}: holds a {rd.header.get('kind')}, not gridded variables")
        yield rd, rd.header


@contextlib.contextmanager
def _malformed(path):
    try:
        yield
    except (FormatError, InputError):
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{path}: gridded header malformed ({type(exc).__name__}: {exc})") from exc


def is_gridded_file(path: str | Path) -> bool:
    with ContainerReader(path, verify=False) as rd:
        return rd.header.get("kind") == "gridded"
