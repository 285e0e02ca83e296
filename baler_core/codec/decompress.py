"""Rebuild tables and fields from a ``.baler`` file and the decoder alone.

Every declared size is checked before anything is allocated; anything malformed raises FormatError."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.codec.inference import engage_kernels, float64_decoder, latent_shape, run_decoder, sequential_prediction
from baler_core.codec.latent import read_latent
from baler_core.codec.priors import Prior, header_template, prior_set
from baler_core.coding import hugepages, jit, parallel
from baler_core.coding.columns import decode_column, free_pred, prior_streams
from baler_core.coding.grid import GRID_MODES, decode_grid
from baler_core.coding.parallel import ordered_map
from baler_core.coding.prior_tables import BlockReader, ColumnPriors
from baler_core.errors import FormatError, InputError, ModelMismatchError
from baler_core.format.container import ContainerReader
from baler_core.format.header import Header
from baler_core.models.auto import is_sequential
from baler_core.models.store import ModelBundle, load_decoder_blob, sha256_hex

MAX_EXPANSION = 4096.0  # most output bytes a file may declare per byte of itself


def resolve_decoder(rd: ContainerReader, bundle: ModelBundle | None, model_source: str) -> ModelBundle:
    """The decoder a file needs: its embedded one, or ``bundle``; either checked against the file's sha256."""
    want = rd.header.get("model", {}).get("decoder_sha256")
    if bundle is None:
        if "decoder" not in rd.header["sections"]:
            raise InputError(f"{rd.path}: no decoder embedded; pass the model with -m MODEL")
        blob = rd.read("decoder")
        if sha256_hex(blob) != want:
            raise FormatError(f"{rd.path}: embedded decoder does not match its recorded sha256")
        return load_decoder_blob(blob, f"{rd.path}:decoder")
    have = sha256_hex(bundle.decoder_blob())
    if have != want:
        raise ModelMismatchError(f"decoder of {model_source} (sha256 {have[:16]}...) does not match the one "
                                 f"{rd.path} was compressed with (sha256 {str(want)[:16]}...)")
    return bundle


def merge_inner(rd: ContainerReader, bundle: ModelBundle) -> None:
    """Read a 1.12 file's column records (``ContainerReader.merge_inner``) with ``bundle``'s header template."""
    key = rd.header.get("priors")
    template = header_template(bundle, key) if isinstance(key, str) else None
    if template is None:
        raise FormatError(f"{rd.path}: its column records are coded against the header template of prior set "
                          f"{key!r}, which its decoder does not hold")
    rd.merge_inner(template)


def inner_reader(bundle: ModelBundle | None, model_source: str = "model") -> Callable[[ContainerReader], None]:
    """For ``file_info`` and ``column_costs``: reads a 1.12 file's column records with its embedded decoder or
    ``bundle``."""
    return lambda rd: merge_inner(rd, resolve_decoder(rd, bundle, model_source))


def iter_decompress(path: str | Path, bundle: ModelBundle | None = None, model_source: str = "model",
                    max_expansion: float = MAX_EXPANSION, threads: int = 0) -> Iterator[pd.DataFrame | np.ndarray]:
    """Yield decompressed blocks: DataFrames for tables, N x H x W arrays for fields.

    Every declared size is checked before anything is allocated: a file may not expand to more than
    ``max_expansion`` times its own size (plus 64 MiB); anything malformed raises FormatError.
    """
    with ContainerReader(path) as rd, np.errstate(over="ignore", invalid="ignore"):
        try:
            yield from _decompress_blocks(rd, bundle, model_source, max_expansion,
                                          parallel.threads(threads))
        except (FormatError, ModelMismatchError, InputError):
            raise
        except (KeyError, TypeError, ValueError, IndexError, OverflowError, RuntimeError, MemoryError) as exc:
            raise FormatError(f"{path}: malformed file ({type(exc).__name__}: {exc})") from exc


def _decompress_blocks(rd: ContainerReader, bundle: ModelBundle | None, model_source: str, max_expansion: float,
                       n_threads: int) -> Iterator[pd.DataFrame | np.ndarray]:
    path = rd.path
    resolved = rd.header.get("inner") is not None
    if resolved:  # 1.12: the column records need the decoder's header template
        bundle = resolve_decoder(rd, bundle, model_source)
        merge_inner(rd, bundle)
    hd = Header.parse(rd.header, path)
    names, dtypes, blocks, frame, spec = hd.names, hd.dtypes, hd.blocks, hd.frame, hd.latent_dtype
    per_row = hd.values_per_row
    limit = max_expansion * rd.size + (64 << 20)
    if hd.output_bytes > limit:
        raise FormatError(f"{path}: declares {hd.output_bytes} output bytes from a {rd.size}-byte file "
                          f"(limit {int(limit)}); refusing to allocate")
    jit.engage(hd.output_bytes)  # the compiled decoders, where the file is large enough to pay their start
    hugepages.relax(hd.output_bytes)
    if not hd.model_used:  # every block was coded without the autoencoder: no decoder is needed
        yield from _decompress_free(rd, blocks, names, dtypes, frame, n_threads)
        return
    bundle = bundle if resolved else resolve_decoder(rd, bundle, model_source)
    engage_kernels(bundle, hd.output_bytes)
    if bundle.kind != hd.kind:
        raise ModelMismatchError(f"{path}: holds a {hd.kind} but the decoder is for {bundle.kind}s")
    if not blocks:  # zero rows: names, dtypes and frame shape still come back
        if frame:
            yield np.zeros((0, *frame), dtype=dtypes[0])
        else:
            yield pd.DataFrame({n: np.zeros(0, dtype=d) for n, d in zip(names, dtypes)}, columns=names)
        return
    dec64 = float64_decoder(bundle)
    norm = bundle.normalizer
    priors = _priors_of(rd, bundle)

    def one(b: int) -> pd.DataFrame | np.ndarray:
        blk = blocks[b]
        n = blk["rows"]
        recs = blk.get("columns")
        if not isinstance(recs, list) or len(recs) != len(names) or not all(isinstance(r, dict) for r in recs):
            raise FormatError(f"{path}: block {b} column records do not match the columns")
        if is_sequential(bundle.model):
            by_name = dict(zip(names, zip(dtypes, recs)))
            if set(by_name) != set(bundle.columns):
                raise ModelMismatchError(f"{path}: columns do not match the sequential decoder's")
            recon_n = np.zeros((n, len(bundle.columns)), order="F")  # a column written at a time
            relations = bundle.record.get("relations") or {}
            data = {}
            section = _prior_section(rd, b, [rec for _, rec in by_name.values()])
            for j, name in enumerate(bundle.columns):
                dt, rec = by_name[name]
                pred = sequential_prediction(dec64, norm, j, recon_n, data, relations)
                cp = ColumnPriors(priors.get(name, {}), section) if section is not None else None
                data[name] = decode_column(rec, lambda k, name=name: rd.read(f"b{b}/{name}/{k}"), n, pred, dt, data,
                                           cp)
                recon_n[:, j] = norm.transform_column(j, data[name])
            if section is not None:
                section.finish()
            return pd.DataFrame({c: data[c] for c in names}, columns=names)
        if frame and blk.get("predictor") == "none":
            vals = decode_column(recs[0], lambda k: rd.read(f"b{b}/field/{k}"), n * per_row,
                                  free_pred(recs[0], n * per_row), dtypes[0])
            return vals.reshape(n, *frame)
        zshape = latent_shape(bundle, n, frame)
        z = read_latent(rd, f"b{b}", zshape, spec, blk.get("latent", {}))
        out = run_decoder(dec64, z, frame)
        if frame:
            pred = norm.inverse(out.reshape(-1, 1)).reshape(-1)
            vals = decode_column(recs[0], lambda k: rd.read(f"b{b}/field/{k}"), n * per_row, pred, dtypes[0])
            return vals.reshape(n, *frame)
        pred = norm.inverse(out)
        data = {}
        for name, dt, rec in zip(names, dtypes, recs):
            if name not in bundle.columns:
                raise ModelMismatchError(f"{path}: column {name!r} is unknown to the decoder")
            j = bundle.columns.index(name)
            data[name] = decode_column(rec, lambda k, name=name: rd.read(f"b{b}/{name}/{k}"), n, pred[:, j], dt)
        return pd.DataFrame(data, columns=names)

    # blocks decode in parallel threads (numpy, torch and file reads release the GIL), in order
    yield from parallel.ordered_map(one, range(len(blocks)), n_threads, ahead=n_threads)


def _priors_of(rd: ContainerReader, bundle: ModelBundle) -> dict[str, dict[str, Prior]]:
    """The model's prior set the file's streams are coded against (column -> stream -> Prior), if any."""
    key = rd.header.get("priors")
    if key is None:
        return {}
    got = prior_set(bundle, key, "decoder") if isinstance(key, str) else None
    if got is None:
        raise FormatError(f"{rd.path}: coded against the prior set {key!r}, which its decoder does not hold")
    return got


def _prior_section(rd: ContainerReader, b: int, recs: list[dict]) -> BlockReader | None:
    """The reader of block ``b``'s prior-coded streams, if its column records use any."""
    n = sum(len(prior_streams(rec)) for rec in recs)
    return BlockReader(rd.read(f"b{b}/prior"), n) if n else None


def _decompress_free(rd: ContainerReader, blocks: list, names: list[str], dtypes: list[np.dtype],
                     frame: tuple[int, ...] | None, threads: int) -> Iterator[pd.DataFrame | np.ndarray]:
    """Blocks coded without a model: field blocks in parallel threads, table columns in parallel threads."""
    for b, blk in enumerate(blocks):
        recs = blk.get("columns")
        if (blk.get("predictor") != "none" or not isinstance(recs, list) or len(recs) != len(names)
                or not all(isinstance(r, dict) for r in recs)):
            raise FormatError(f"{rd.path}: block {b} needs a model or its column records are malformed, "
                              "but the header says no model is used")
    per_row = math.prod(frame) if frame else 1

    def column(b: int, j: int) -> np.ndarray:
        rec, n = blocks[b]["columns"][j], blocks[b]["rows"] * per_row
        read = lambda k: rd.read(f"b{b}/{'field' if frame else names[j]}/{k}")  # noqa: E731
        if rec.get("mode") in GRID_MODES:
            return decode_grid(rec, read, n, dtypes[j])
        return decode_column(rec, read, n, free_pred(rec, n), dtypes[j])

    if frame:
        for b, vals in enumerate(ordered_map(lambda b: column(b, 0), range(len(blocks)), threads)):
            yield vals.reshape(blocks[b]["rows"], *frame)
        if not blocks:
            yield np.zeros((0, *frame), dtype=dtypes[0])
        return
    for b in range(len(blocks)):
        cols = list(ordered_map(lambda j, b=b: column(b, j), range(len(names)), threads))
        yield pd.DataFrame(dict(zip(names, cols)), columns=names, copy=False)
    if not blocks:
        yield pd.DataFrame({n: np.zeros(0, dtype=d) for n, d in zip(names, dtypes)}, columns=names)


def decompress(path: str | Path, bundle: ModelBundle | None = None, model_source: str = "model",
               threads: int = 0) -> pd.DataFrame | np.ndarray:
    """Decompress a whole file into memory."""
    with ContainerReader(path, verify=False) as rd:  # the shape, to fill one array instead of concatenating
        shape = rd.header.get("shape") if rd.header.get("kind") == "field" else None
    blocks = iter_decompress(path, bundle, model_source, threads=threads)
    if shape is not None:
        out = None
        start = 0
        for part in blocks:  # iter_decompress has checked the shape against the blocks and the file size
            if out is None:
                out = np.empty((int(shape[0]), *part.shape[1:]), dtype=part.dtype)
            out[start : start + len(part)] = part
            start += len(part)
        return out
    parts = list(blocks)
    if len(parts) == 1:
        return parts[0]
    names = list(parts[0].columns)  # one copy per column; pd.concat would copy into 2-D blocks again
    cols = {c: np.concatenate([p[c].to_numpy() for p in parts]) for c in names}
    return pd.DataFrame(cols, columns=names, copy=False)
