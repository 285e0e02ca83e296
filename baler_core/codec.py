"""Compress tables and fields into ``.baler`` files and rebuild them from the file and the decoder alone.

Per block of rows (or frames): normalize with the model's stored normalization, encode, quantize the
latent, decode the *dequantized* latent into a prediction, then per column store what the bound needs:

- ``int``: integer-valued columns, exact: residual to the rounded prediction.
- ``lin``: ``abs``/``range`` bounds, uniform residual bins of width 2*bound.
- ``log``: ``rel`` bounds, residual bins in log|x| plus zero and sign-flip flags.
- ``ae``: no bound, the autoencoder's reconstruction as it is (the original Baler's behaviour).
- ``const`` and ``raw``: constant columns, and integer columns too wide for float64 predictions.
- ``grid``: no model (``bundle=None``, ``baler compress -m none``), values on a uniform grid in their own
  dtype (:mod:`baler_core.direct`); columns (and field blocks) are coded in parallel threads.

The compressor rebuilds every value exactly as the decompressor will (same function, same float64
decoder arithmetic on the CPU), checks the bound on the output dtype, and stores any value that misses it,
and every NaN and +-Inf, exactly as an exception. Decompression never needs the original input.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import zstandard

from . import __version__, contexts
from .container import ContainerReader, ContainerWriter
from .direct import AUTO_PREDICTORS, decode_grid, encode_grid, inverse_lorenzo, lorenzo, ordered_map
from .entropy import decode_ints, encode_ints, unzstd
from .error_bounds import RMS_MEAN_FRACTION, Bound, BoundSpec
from .errors import FormatError, InputError, ModelMismatchError
from .fields import NpyFrames
from .model_store import ModelBundle, load_decoder_blob, sha256_hex
from .quantization import (MAX_RESIDUAL, aligned_base, dequantize_latent, fragile, log_magnitude, quantize_latent,
                           quantize_residual, reconstruct, residual_step)
from .tables import check_columns
from .transform import MAX_AXIS

log = logging.getLogger(__name__)

INFER_BATCH = 32768
ZSTD_LEVEL = 9
MAX_EXPANSION = 4096.0  # most output bytes a file may declare per byte of itself


@dataclass
class CompressionOptions:
    bounds: BoundSpec
    embed_decoder: bool = False
    entropy: str = "auto"  # auto | ans | zstd
    block_rows: int = 1 << 18
    level: int = ZSTD_LEVEL
    threads: int = 0  # 0: every core this process may use
    field_predictor: str = "auto"  # model-free field blocks: lorenzo, interp, spline, dct, or auto (all but interp)


def _threads(requested: int) -> int:
    """``requested`` threads, or with 0 every core this process may use."""
    if requested > 0:
        return requested
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# ------------------------------------------------------------------ model inference
def _float64_decoder(bundle: ModelBundle) -> torch.nn.Module:
    """A float64 CPU copy: predictions identical across machines to ~1e-16, far inside the safety margin."""
    return copy.deepcopy(bundle.model).to("cpu").double().eval()


def _batch_rows(shape: tuple[int, ...] | None) -> int:
    """Rows (or frames) per inference batch: about INFER_BATCH values, so memory stays bounded for fields."""
    return max(1, INFER_BATCH // (shape[-2] * shape[-1])) if shape else INFER_BATCH


@torch.no_grad()
def _encode(bundle: ModelBundle, xn: np.ndarray) -> np.ndarray:
    model = bundle.model.to("cpu").eval()
    step = _batch_rows(xn.shape[1:] if xn.ndim == 3 else None)
    outs = [model.encode(torch.from_numpy(xn[s : s + step])).numpy() for s in range(0, len(xn), step)]
    z = np.concatenate(outs) if outs else np.zeros((0,), np.float32)
    # float64 values beyond float32's range overflow the float32 model: such rows get a zero latent (their
    # prediction is then poor and the residual, or an exception, carries them) instead of a NaN latent scale
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)


@torch.no_grad()
def _decode(dec64: torch.nn.Module, z: np.ndarray, shape: tuple[int, ...] | None) -> np.ndarray:
    step = _batch_rows(shape)
    outs = [dec64.decode(torch.from_numpy(z[s : s + step].astype(np.float64)), shape).numpy()
            for s in range(0, len(z), step)]
    return np.concatenate(outs)


def _latent_channels(bundle: ModelBundle, n_rows: int, frame_shape: tuple[int, int] | None) -> tuple[int, ...]:
    m = bundle.model
    if frame_shape is None:
        return (n_rows, m.latent_dim)
    return (n_rows, *m.latent_shape(*frame_shape))


# ------------------------------------------------------------------ per-column coding
def _is_integer_column(x: np.ndarray, finite: np.ndarray) -> bool:
    if x.dtype.kind in "biu":
        return True
    v = x[finite]
    return bool(v.size) and bool(np.all(v == np.rint(v))) and bool(np.all(np.abs(v) < 2**52))


def _needs_raw(x: np.ndarray) -> bool:
    """Integer columns whose values float64 cannot hold exactly, or whose spread overflows int64 residuals."""
    if x.dtype.kind not in "iu" or x.size == 0:
        return False
    lo, hi = int(x.min()), int(x.max())
    return max(abs(lo), abs(hi)) >= 2**52 or hi - lo >= 2**52


def _check(mode: str, x: np.ndarray, recon: np.ndarray, bound: Bound, params: dict) -> np.ndarray:
    """Mask of values that miss their bound (or exactness) in the output dtype."""
    if mode == "ae":
        return np.zeros(x.shape, bool)
    xf = x.astype(np.float64)
    rf = recon.astype(np.float64)
    if mode in ("int", "const"):
        bad = rf != xf
    elif mode in ("lin", "alin"):
        tol = bound.value if bound.kind == "abs" else bound.value * params["range"]
        with np.errstate(invalid="ignore", over="ignore"):
            bad = ~(np.abs(rf - xf) <= tol)
    else:  # log
        with np.errstate(invalid="ignore", over="ignore"):
            bad = ~(np.abs(rf - xf) <= bound.value * np.abs(xf))
    if x.dtype.kind == "f":
        bad |= (xf == 0) & (np.signbit(xf) != np.signbit(rf))  # a zero keeps its sign (and the bound)
    return bad


def _encode_column(x: np.ndarray, pred: np.ndarray, bound: Bound, entropy: str, level: int,
                   lorenzo_shape: tuple[int, ...] | None = None, aligned: bool = False, stored_pred: bool = False
                   ) -> tuple[dict, dict[str, bytes], np.ndarray]:
    """Code one column (1-D values, any numeric dtype) against its float64 prediction. Fields pass their
    block shape as ``lorenzo_shape`` to code the residuals' Lorenzo differences instead. ``aligned`` codes
    float columns on the grid of multiples of the step (modes ``alin``/``alog``): the residual is the difference
    of the value's and the prediction's grid indices. ``stored_pred``: the prediction is a constant stored in
    the record, read back bit for bit, so no value needs guarding against a prediction computed differently."""
    n = x.size
    streams: dict[str, bytes] = {}
    if x.dtype.kind == "b":
        x = x.astype(np.uint8)
    if _needs_raw(x):
        streams["raw"] = zstandard.ZstdCompressor(level=level, write_checksum=True).compress(np.ascontiguousarray(x).tobytes())
        return {"mode": "raw"}, streams, x
    xf = x.astype(np.float64)
    finite = np.isfinite(xf)
    pred = np.nan_to_num(pred, nan=0.0, posinf=1e300, neginf=-1e300)
    fin_vals = xf[finite]
    params: dict = {}
    r = zero = flip = None
    guard = None  # predictions on a rounding boundary, stored exactly (see quantization.fragile)
    if _is_integer_column(x, finite):
        mode = "int"
        lo, hi = (int(fin_vals.min()), int(fin_vals.max())) if fin_vals.size else (0, 0)
        params = {"lo": lo, "hi": hi}
        guard = fragile(pred, 1.0)
        p = np.clip(np.rint(pred), lo, hi).astype(np.int64)
        xi = np.where(finite, xf, 0).astype(np.int64) if x.dtype.kind == "f" else x.astype(np.int64)
        r = np.where(finite, xi - p, 0)
    elif fin_vals.size and np.all(fin_vals == fin_vals[0]) and bound.kind != "none":
        mode, params = "const", {"value": float(fin_vals[0])}
    elif bound.kind == "none":
        mode = "ae"
    elif bound.kind in ("abs", "range"):
        mode = "lin"
        with np.errstate(over="ignore"):  # a span beyond float64 is clamped (the header is strict JSON)
            span = float(fin_vals.max() - fin_vals.min()) if fin_vals.size else 0.0
        col_range = min(span, float(np.finfo(np.float64).max))
        params = {"step": residual_step(bound.kind, bound.value, col_range), "range": col_range}
        if params["step"] <= 0 or not np.isfinite(params["step"]):
            params["step"] = 1.0
        if aligned:
            mode = "alin"
            r = _aligned_residual(np.where(finite, xf, 0.0), pred, params["step"])
            guard = fragile(pred, params["step"])
        else:
            r, _ = quantize_residual(np.where(finite, xf - pred, 0.0), params["step"])
    else:  # rel
        mode = "alog" if aligned else "log"
        params = {"step": residual_step("rel", bound.value, 0.0)}
        zero = (xf == 0) & finite
        with np.errstate(divide="ignore"):
            lx = np.log(np.abs(np.where(finite & ~zero, xf, 1.0)))
        if aligned:
            r = np.where(finite & ~zero, _aligned_residual(lx, log_magnitude(pred), params["step"]), 0)
            guard = fragile(log_magnitude(pred), params["step"])
        else:
            r, _ = quantize_residual(np.where(finite & ~zero, lx - log_magnitude(pred), 0.0), params["step"])
            guard = np.zeros(n, dtype=bool)  # only the sign check below
        flip = ((xf < 0) != (pred < 0)) & finite & ~zero
    recon = reconstruct(mode, pred, r, params, zero, flip)
    with np.errstate(invalid="ignore", over="ignore"):
        out = recon.astype(x.dtype)
    bad = ~finite | _check(mode, x, out, bound, params)
    if guard is not None and not stored_pred:
        if mode in ("log", "alog"):  # the sign of a prediction within rounding of zero may differ elsewhere
            scale = float(np.max(np.abs(fin_vals))) if fin_vals.size else 0.0
            guard |= np.abs(pred) <= 1e-9 * scale
        bad |= guard
    if r is not None:
        r = np.where(bad, 0, r)
        if lorenzo_shape is not None and mode in ("lin", "int"):
            params["lorenzo"] = list(lorenzo_shape)
            streams["r"] = encode_ints(lorenzo(r, lorenzo_shape), entropy, level)
        else:
            streams["r"] = encode_ints(r, entropy, level)
    if zero is not None:
        streams["zero"] = encode_ints(zero.astype(np.int64), entropy, level)
        streams["flip"] = encode_ints(np.where(bad, 0, flip).astype(np.int64), entropy, level)
    idx = np.flatnonzero(bad)
    if idx.size:
        streams["exc_idx"] = encode_ints(np.diff(idx, prepend=0), "zstd", level)
        streams["exc_val"] = zstandard.ZstdCompressor(level=level, write_checksum=True).compress(np.ascontiguousarray(x[idx]).tobytes())
        out[idx] = x[idx]
    return {"mode": mode, "n_exceptions": int(idx.size), **params}, streams, out


RMS_SAFETY = 0.999  # an rms=T column is kept at a measured response RMS <= 0.999 T


def _response(x: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    """RMS and mean of (out - x) / x over the finite nonzero values of ``x``."""
    xf = x.astype(np.float64)
    nz = np.isfinite(xf) & (xf != 0)
    if not nz.any():
        return 0.0, 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        r = (out[nz].astype(np.float64) - xf[nz]) / xf[nz]
    return float(np.sqrt(np.mean(r**2))), float(np.mean(r))


def _encode_rms(x: np.ndarray, bound: Bound, code: Callable[[Bound], tuple]) -> tuple:
    """Code a column under ``rms=T`` with ``code(rel bound)``: first the pointwise relative bound whose uniform
    errors have an RMS just under T, then, while the column's measured response RMS exceeds T or its mean
    exceeds T/10, a tighter one. Errors are uniform only where the grid is independent of the value; a
    prediction whose own error is about one step wide folds them towards the edges (a jet's charged-hadron
    energy from its energy minus the others measured 1.05 T), hence the check on the real values. The last
    resort, |error| <= T/10 on every value, meets both by construction."""
    target = bound.value * RMS_SAFETY
    h = math.sqrt(3) * target
    best, missed, midpoint = None, None, False
    for _ in range(12):
        got = code(Bound("rel", h))
        rms, mean = _response(x, got[-1])
        if rms <= target and abs(mean) <= RMS_MEAN_FRACTION * target:
            if best is not None and _size(got) >= _size(best):
                break
            best = got
            if missed is not None:  # between a bound that missed and one that held: one midpoint, then stop
                if midpoint:
                    break
                h, midpoint = math.sqrt(h * missed), True
                continue
            if rms > 0.95 * target:
                break
            h *= min(4.0, target / max(rms, 1e-300))  # errors smaller than the grid's: widen it
        elif best is not None:
            break
        else:  # shrink by at least 5 % a try: a near miss must not creep towards the last resort
            missed = h
            h *= min(0.95, target / rms if rms > target else 1.0,
                     0.5 if abs(mean) > RMS_MEAN_FRACTION * target else 1.0)
    return best if best is not None else code(Bound("rel", RMS_MEAN_FRACTION * target))


def _size(coded: tuple) -> int:
    """Bytes of a coded column's streams (``(record, streams, ...)``)."""
    return sum(map(len, coded[1].values()))


def _bounded(x: np.ndarray, bound: Bound, code: Callable[[Bound], tuple]) -> tuple:
    """``code(bound)``, or for an ``rms`` target :func:`_encode_rms`."""
    return _encode_rms(x, bound, code) if bound.kind == "rms" else code(bound)


def _aligned_residual(v: np.ndarray, pred: np.ndarray, step: float) -> np.ndarray:
    """Grid index of ``v`` minus that of ``pred``; differences too large to store become 0 (then exceptions)."""
    q, big = quantize_residual(v, step)
    r = q - aligned_base(pred, step).astype(np.int64)
    r[big | (np.abs(r) > MAX_RESIDUAL)] = 0
    return r


def _encode_best(x: np.ndarray, pred: np.ndarray, bound: Bound, opts: CompressionOptions
                 ) -> tuple[dict, dict[str, bytes], np.ndarray]:
    """Code a float column three ways and keep the smallest: residuals of the prediction, grid indices
    relative to the prediction's (better where values repeat, e.g. exact zeros), and grid indices relative to
    a constant (better where the model predicts the column worse than its own spread)."""
    first = _encode_column(x, pred, bound, opts.entropy, opts.level)
    if first[0]["mode"] not in ("lin", "log"):
        return first
    center = _free_center(x, bound)
    const = _encode_column(x, np.full(x.shape, center), bound, opts.entropy, opts.level, aligned=True,
                           stored_pred=True)
    const[0]["pred"] = center
    cands = [first, _encode_column(x, pred, bound, opts.entropy, opts.level, aligned=True), const]
    return min(cands, key=_size)


def _decode_column(rec: dict, read, n: int, pred: np.ndarray, dtype: np.dtype,
                   decoded: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """One column from its record and streams; ``decoded`` holds the columns decoded before it (sequential
    blocks), which a context-split residual stream needs."""
    mode = rec.get("mode")
    if mode == "grid":
        return decode_grid(rec, read, n, dtype)
    store_dtype = np.dtype(np.uint8) if dtype.kind == "b" else dtype
    if mode == "raw":
        raw = _unzstd(read("raw"), n * store_dtype.itemsize)
        return np.frombuffer(raw, dtype=store_dtype).copy().astype(dtype)
    if mode in ("alin", "alog") and "pred" in rec:  # the column was coded against a constant
        pred = _free_pred(rec, n)
    pred = np.nan_to_num(pred, nan=0.0, posinf=1e300, neginf=-1e300)
    r = _read_ints(rec, read, n, decoded, "r") if mode in ("int", "lin", "log", "alin", "alog") else None
    if r is not None and rec.get("lorenzo") is not None:
        shape = tuple(int(v) for v in rec["lorenzo"])
        if math.prod(shape) != n or min(shape, default=1) < 0:
            raise FormatError(f"Lorenzo shape {shape} does not hold {n} values")
        r = inverse_lorenzo(r, shape)
    zero = _read_ints(rec, read, n, decoded, "zero") if mode in ("log", "alog") else None
    flip = decode_ints(read("flip"), n) if mode in ("log", "alog") else None
    try:
        recon = reconstruct(mode, pred, r, rec, zero, flip)
    except (KeyError, TypeError) as exc:
        raise FormatError(f"column record malformed ({exc})") from exc
    with np.errstate(invalid="ignore", over="ignore"):
        out = recon.astype(store_dtype)
    k = rec.get("n_exceptions", 0)
    if not isinstance(k, int) or not 0 <= k <= n:
        raise FormatError(f"exception count {k!r} out of range")
    if k:
        idx = np.cumsum(decode_ints(read("exc_idx"), k))
        if idx.size and (idx[0] < 0 or idx[-1] >= n or np.any(np.diff(idx) <= 0)):
            raise FormatError("exception indices out of range")
        out[idx] = np.frombuffer(_unzstd(read("exc_val"), k * store_dtype.itemsize), dtype=store_dtype)
    return out.astype(dtype)


def _read_ints(rec: dict, read, n: int, decoded: dict[str, np.ndarray] | None, stream: str) -> np.ndarray:
    """A column's integer ``stream``: one stream, or groups split by earlier decoded columns (``contexts``)."""
    if contexts.record_key(stream) not in rec:
        return decode_ints(read(stream), n)
    if decoded is None:
        raise FormatError("a context-coded column outside a sequential block")
    return contexts.decode_split(read, rec, n, decoded, stream)


def _unzstd(blob: bytes, size: int) -> bytes:
    return unzstd(blob, size, "section")


# ------------------------------------------------------------------ latent coding
def _latent_blobs(stored: np.ndarray, spec: str, opts: CompressionOptions) -> list[bytes]:
    blobs = []
    for c in range(stored.shape[1]):
        ch = np.ascontiguousarray(stored[:, c])
        if spec.startswith("int"):
            blobs.append(encode_ints(ch.ravel(), opts.entropy, opts.level))
        else:
            blobs.append(zstandard.ZstdCompressor(level=opts.level, write_checksum=True).compress(ch.tobytes()))
    return blobs


def _write_latent(w: ContainerWriter, prefix: str, z: np.ndarray, spec: str, opts: CompressionOptions
                  ) -> tuple[dict, np.ndarray]:
    stored, params = quantize_latent(z, spec)
    for c, blob in enumerate(_latent_blobs(stored, spec, opts)):
        w.add(f"{prefix}/latent/{c}", blob)
    return params, dequantize_latent(stored, spec, params)


def _read_latent(rd: ContainerReader, prefix: str, shape: tuple[int, ...], spec: str, params: dict) -> np.ndarray:
    per = int(np.prod(shape[2:], dtype=np.int64)) * shape[0]
    chans = []
    for c in range(shape[1]):
        blob = rd.read(f"{prefix}/latent/{c}")
        if spec.startswith("int"):
            ch = decode_ints(blob, per)
        else:
            dt = np.float32 if spec == "float32" else np.float16
            ch = np.frombuffer(_unzstd(blob, per * np.dtype(dt).itemsize), dtype=dt)
        chans.append(ch.reshape((shape[0], *shape[2:])))
    stored = np.stack(chans, axis=1) if chans else np.zeros(shape)
    return dequantize_latent(stored, spec, params)


# ------------------------------------------------------------------ tables
def _model_header(bundle: ModelBundle, blob: bytes, embedded: bool) -> dict:
    return {"name": bundle.record["model"], "decoder_sha256": sha256_hex(blob), "decoder_bytes": len(blob),
            "embedded": embedded}


def _check_table_columns(df: pd.DataFrame, bundle: ModelBundle, source: str) -> None:
    expected = bundle.columns
    missing = [c for c in expected if c not in df.columns]
    extra = [c for c in df.columns if c not in expected]
    if missing:
        raise InputError(f"{source}: column(s) the model expects are missing: {', '.join(missing)}")
    if extra:
        raise InputError(f"{source}: column(s) the model was not trained on: {', '.join(extra)}; "
                         "select the model's columns or train a model for them")


def _free_center(x: np.ndarray, bound: Bound) -> float:
    """A constant prediction for a column coded without a model on the general path: the middle of its
    finite values (in log magnitude for ``rel`` bounds, whose residuals are log ratios)."""
    v = x[np.isfinite(x)].astype(np.float64) if x.dtype.kind == "f" else x.astype(np.float64)
    if bound.kind == "rel":
        v = np.abs(v[v != 0])
        return float(np.exp((np.log(v.min()) + np.log(v.max())) / 2)) if v.size else 1.0
    return float(v.min() / 2 + v.max() / 2) if v.size else 0.0  # halves first: no overflow near float64's max


def _encode_free_column(x: np.ndarray, bound: Bound, opts: CompressionOptions,
                        shape: tuple[int, ...] | None = None) -> tuple[dict, dict[str, bytes]]:
    """Code a column without a model: on its grid where that applies, else the general path against a
    constant prediction (stored as ``pred``)."""
    if bound.kind == "rms":
        def code(b: Bound) -> tuple:
            rec, streams = _encode_free_column(x, b, opts, shape)
            return rec, streams, _decode_column(rec, streams.__getitem__, x.size, _free_pred(rec, x.size), x.dtype)

        return _encode_rms(x.ravel(), bound, code)[:2]
    if bound.kind == "none":
        raise InputError("compressing without a model needs an error bound (abs=, rel= or range=)")
    predictors = AUTO_PREDICTORS if opts.field_predictor == "auto" else (opts.field_predictor,)
    got = encode_grid(x, bound, opts.entropy, opts.level, shape, predictors)
    if got is not None:
        return got
    center = _free_center(x, bound) if shape is None else 0.0
    rec, streams, _ = _encode_column(x.ravel(), np.full(x.size, center), bound, opts.entropy, opts.level, shape,
                                     stored_pred=True)
    return {**rec, "pred": center}, streams


def _free_pred(rec: dict, n: int) -> np.ndarray:
    pred = rec.get("pred", 0.0)
    if not isinstance(pred, (int, float)) or isinstance(pred, bool):
        raise FormatError(f"column record's constant prediction {pred!r} is not a number")
    return np.full(n, float(pred))


def _one_block(chunks: Iterable[pd.DataFrame], rows: int) -> tuple[Iterable[pd.DataFrame], pd.DataFrame | None]:
    """``(chunks, None)`` with the chunks intact, or ``(chunks, table)`` where the whole input has at most
    ``rows`` rows (read ahead only that far)."""
    it = iter(chunks)
    head: list[pd.DataFrame] = []
    n = 0
    for chunk in it:
        head.append(chunk)
        n += len(chunk)
        if n > rows:
            return itertools.chain(head, it), None
    table = pd.concat(head, ignore_index=True) if len(head) > 1 else (head[0] if head else None)
    return head, table


def _smaller_with_embedded_decoder(table: pd.DataFrame, bundle: ModelBundle, out_path: Path,
                                   opts: CompressionOptions, source: str) -> dict:
    """A table of one block with its decoder embedded: also code it without a model and keep the smaller
    file. On a few hundred rows the decoder alone can outweigh what the model saves (the pipeline's 693-row
    HZZ split: 0.8-2.5x with the decoder, 3.6x without a model)."""
    header = compress_table([table], bundle, out_path, opts, source, _compare=False)
    free_path = out_path.with_name(out_path.name + ".model-free.part")
    try:
        try:
            free = compress_table([table], None, free_path, opts, source)
        except InputError:  # a column the model-free coder cannot take: keep the model's file
            return header
        if free_path.stat().st_size < out_path.stat().st_size:
            log.info("%s: the embedded decoder costs more than the model saves on %d rows; wrote the "
                     "model-free coding (%d bytes, with the model %d)", source, len(table),
                     free_path.stat().st_size, out_path.stat().st_size)
            os.replace(free_path, out_path)
            header = free
    finally:
        free_path.unlink(missing_ok=True)
    return header


def compress_table(chunks: Iterable[pd.DataFrame], bundle: ModelBundle | None, out_path: str | Path,
                   opts: CompressionOptions, source: str = "input", _compare: bool = True) -> dict:
    """Stream table chunks into ``out_path``; returns the header written. ``bundle=None`` codes every column
    without a model (``grid`` mode, fastest; needs an error bound). With the decoder embedded, a table of one
    block is also coded without a model and the smaller file kept (see ``_smaller_with_embedded_decoder``)."""
    if bundle is not None and bundle.kind != "table":
        raise InputError(f"{source}: model is for {bundle.kind}s, not tables")
    if (_compare and bundle is not None and opts.embed_decoder
            and all(b.kind != "none" for b in [opts.bounds.default, *opts.bounds.columns.values()])):
        chunks, table = _one_block(chunks, opts.block_rows)
        if table is not None and len(table):
            return _smaller_with_embedded_decoder(table, bundle, Path(out_path), opts, source)
    if bundle is None and any(b.kind == "none" for b in [opts.bounds.default, *opts.bounds.columns.values()]):
        raise InputError(f"{source}: compressing without a model needs an error bound on every column "
                         "(abs=, rel= or range=)")
    blob = bundle.decoder_blob() if bundle is not None else b""
    dec64 = _float64_decoder(bundle) if bundle is not None else None
    spec = bundle.record["latent"]["dtype"] if bundle is not None else "none"
    blocks, n_total, columns = [], 0, None
    t0 = time.perf_counter()
    with ContainerWriter(out_path) as w:
        if opts.embed_decoder and bundle is not None:
            w.add("decoder", blob)
        empty_columns = None
        for chunk in _rechunk(chunks, opts.block_rows):
            check_columns(chunk, source)
            if bundle is not None:
                _check_table_columns(chunk, bundle, source)
            if len(chunk) == 0:
                empty_columns = empty_columns or [{"name": c, "dtype": chunk[c].dtype.str} for c in chunk.columns]
                continue
            if columns is None:
                columns = [{"name": c, "dtype": chunk[c].dtype.str} for c in chunk.columns]
                opts.bounds.check_columns(list(chunk.columns))
            elif [c["name"] for c in columns] != list(chunk.columns):
                raise InputError(f"{source}: column order changed between chunks")
            elif [c["dtype"] for c in columns] != [chunk[c].dtype.str for c in chunk.columns]:
                raise InputError(f"{source}: column dtypes changed between chunks")
            b = len(blocks)
            if bundle is None:
                recs_by_name = _encode_free_block(w, b, chunk, opts)
            elif _is_sequential(bundle):
                recs_by_name = _encode_sequential(w, b, chunk, bundle, dec64, opts)
            else:
                recs_by_name = _encode_dense_block(w, b, chunk, bundle, dec64, opts)
            blocks.append({"rows": len(chunk), "latent": recs_by_name.pop("__latent__", {}),
                           **({"predictor": "none"} if bundle is None else {}),
                           "columns": [recs_by_name[name] for name in chunk.columns]})
            n_total += len(chunk)
        if columns is None:
            if empty_columns is None:
                raise InputError(f"{source}: no rows and no columns to compress")
            columns = empty_columns  # a zero-row table still records its names and dtypes
        model = (_model_header(bundle, blob, opts.embed_decoder) if bundle is not None else
                 {"name": "none", "decoder_sha256": None, "decoder_bytes": 0, "embedded": False, "used": False})
        header = {
            "format": "baler", "kind": "table", "baler_version": __version__, "n_rows": n_total,
            "columns": columns, "model_columns": bundle.columns if bundle is not None else [c["name"] for c in columns],
            "latent": {"dtype": spec}, "model": model, "error_bound": opts.bounds.to_dict(),
            "raw_bytes": int(n_total * sum(np.dtype(c["dtype"]).itemsize for c in columns)), "blocks": blocks,
        }
        size = w.finish(header)
    log.info("compressed %d rows in %.2f s into %s (%d bytes)", n_total, time.perf_counter() - t0, out_path, size)
    return header


def _encode_free_block(w: ContainerWriter, b: int, chunk: pd.DataFrame, opts: CompressionOptions) -> dict[str, dict]:
    """Every column on its own grid, columns in parallel threads."""
    def one(name: str) -> tuple[str, dict, dict[str, bytes]]:
        return (name, *_encode_free_column(chunk[name].to_numpy(), opts.bounds.for_column(name), opts))

    recs = {}
    for name, rec, streams in ordered_map(one, list(chunk.columns), _threads(opts.threads)):
        for k, v in streams.items():
            w.add(f"b{b}/{name}/{k}", v)
        recs[name] = rec
    return recs


def _encode_dense_block(w: ContainerWriter, b: int, chunk: pd.DataFrame, bundle: ModelBundle, dec64,
                        opts: CompressionOptions) -> dict[str, dict]:
    norm = bundle.normalizer
    xn = norm.transform(chunk[bundle.columns].to_numpy(dtype=np.float64))
    lat_params, zdq = _write_latent(w, f"b{b}", _encode(bundle, xn), bundle.record["latent"]["dtype"], opts)
    pred = norm.inverse(_decode(dec64, zdq, None))
    recs: dict[str, dict] = {"__latent__": lat_params}
    for j, name in enumerate(bundle.columns):
        x = chunk[name].to_numpy()
        rec, streams, _ = _bounded(x, opts.bounds.for_column(name), lambda b: _encode_best(x, pred[:, j], b, opts))
        for k, v in streams.items():
            w.add(f"b{b}/{name}/{k}", v)
        recs[name] = rec
    return recs


def _is_sequential(bundle: ModelBundle) -> bool:
    return bool(getattr(bundle.model, "sequential", False))


@torch.no_grad()
def _sequential_prediction(dec64, norm, j: int, recon_n: np.ndarray, recon: dict[str, np.ndarray],
                           relations: dict) -> np.ndarray:
    """Physical-unit prediction of column ``j`` from the reconstructed columns before it (float64, CPU):
    an exact linear relation where the model found one, else the column's MLP."""
    name = norm.columns[j].name
    if name in relations:
        from .relations import apply_relation

        return apply_relation(relations[name], {k: recon[k] for k in relations[name]["inputs"]}, len(recon_n))
    prev = torch.from_numpy(recon_n[:, :j])
    pred_n = np.concatenate([dec64.predict_column(j, prev[s : s + INFER_BATCH]).numpy()
                             for s in range(0, max(len(prev), 1), INFER_BATCH)])[: len(prev)]
    return norm.inverse_column(j, pred_n)


def _encode_sequential(w: ContainerWriter, b: int, chunk: pd.DataFrame, bundle: ModelBundle, dec64,
                       opts: CompressionOptions) -> dict[str, dict]:
    """Code columns in model order, each predicted from the columns already reconstructed."""
    if opts.bounds.default.kind == "none" and any(
            opts.bounds.for_column(c).kind == "none" for c in bundle.columns):
        raise InputError("the sequential model stores no latent: give an error bound (abs=, rel= or range=)")
    norm = bundle.normalizer
    relations = bundle.record.get("relations") or {}
    recon_n = np.zeros((len(chunk), len(bundle.columns)))
    recon: dict[str, np.ndarray] = {}
    sources: dict[tuple[str, bool], contexts.Source] = {}
    recs = {}
    for j, name in enumerate(bundle.columns):
        pred = _sequential_prediction(dec64, norm, j, recon_n, recon, relations)
        x = chunk[name].to_numpy()
        rec, streams, out = _bounded(x, opts.bounds.for_column(name), lambda b: _encode_best(x, pred, b, opts))
        _split_by_context(rec, streams, sources, opts)
        sources.update(contexts.sources_of(name, out))
        for k, v in streams.items():
            w.add(f"b{b}/{name}/{k}", v)
        recs[name] = rec
        recon[name] = out
        recon_n[:, j] = norm.transform_column(j, out)
    return recs


def _split_by_context(rec: dict, streams: dict[str, bytes], sources: dict, opts: CompressionOptions) -> None:
    """Replace the residual stream and the zero flags by per-group streams (see ``contexts``) where smaller."""
    if "lorenzo" in rec or not sources:
        return
    n = len(next(iter(sources.values())).c)
    for stream in ("r", "zero"):
        if stream not in streams:
            continue
        r = decode_ints(streams[stream], n)
        best, size = None, len(streams[stream])
        for (name, magnitude, edges), g, k in contexts.ranked(r, sources):  # the estimates are rough: code them
            split = contexts.encode_split(r, g, k, opts.entropy, opts.level, stream)
            split_size = _size((None, split))
            if split_size < size:
                size = split_size
                best = split, {"col": name, "abs": magnitude, "edges": [float(e) for e in edges]}
        if best is not None:
            del streams[stream]
            streams.update(best[0])
            rec[contexts.record_key(stream)] = [best[1]]


def _rechunk(chunks: Iterable[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Blocks of at most ``rows`` rows; empty chunks pass through so a zero-row table keeps its schema."""
    for chunk in chunks:
        if len(chunk) == 0:
            yield chunk
        for s in range(0, len(chunk), rows):
            yield chunk.iloc[s : s + rows].reset_index(drop=True)


# ------------------------------------------------------------------ fields
def compress_field(field: np.ndarray | NpyFrames, bundle: ModelBundle | None, out_path: str | Path,
                   opts: CompressionOptions, source: str = "input") -> dict:
    """Compress an N x H x W field frame block by frame block. Per block the autoencoder's prediction and the
    model-free coding are both tried under abs and range bounds and the smaller kept; ``bundle=None`` uses only the
    grid, blocks in parallel threads."""
    if bundle is not None and bundle.kind != "field":
        raise InputError(f"{source}: model is for {bundle.kind}s, not fields")
    if not isinstance(field, (np.ndarray, NpyFrames)):
        raise InputError(f"{source}: a field must be a numpy array, got {type(field).__name__}")
    if field.ndim != 3:
        raise InputError(f"{source}: a field must be N x H x W, got shape {field.shape}")
    if min(field.shape[1:]) < 1:
        raise InputError(f"{source}: field frames must be at least 1 x 1, got shape {field.shape}")
    if field.dtype not in (np.float32, np.float64):
        raise InputError(f"{source}: field dtype must be float32 or float64, got {field.dtype}")
    bound = opts.bounds.default
    if bundle is None and bound.kind == "none":
        raise InputError(f"{source}: compressing without a model needs an error bound (abs=, rel= or range=)")
    if bound.kind == "rms":
        raise InputError(f"{source}: rms= is a bound for table columns; give a field abs=, rel= or range=")
    spec = bundle.record["latent"]["dtype"] if bundle is not None else "none"
    blob = bundle.decoder_blob() if bundle is not None else b""
    dec64 = _float64_decoder(bundle) if bundle is not None else None
    n, h, w_ = field.shape
    # model-free blocks are coded in parallel threads, so they are shorter (blocks 4 times longer gave the square
    # flow's DCT 54.5x instead of 47.4x, but raised a 200 MB field's peak RSS from 0.9 to 2.0 GB); no block is
    # longer than the transform takes
    frames_per_block = max(1, min(opts.block_rows // max(h * w_, 1) * (4 if bundle is None else 16), MAX_AXIS))
    starts = range(0, n, frames_per_block)

    def free_block(s: int) -> tuple[str, dict, dict[str, bytes], list[bytes], dict]:
        x = np.asarray(field[s : s + frames_per_block])
        rec, streams = _encode_free_column(x, bound, opts, x.shape if bound.kind in ("abs", "range") else None)
        return "none", rec, streams, [], {}

    def model_block(s: int) -> tuple[str, dict, dict[str, bytes], list[bytes], dict]:
        x = np.asarray(field[s : s + frames_per_block])
        lshape = x.shape if bound.kind in ("abs", "range") else None
        # candidate 1: the autoencoder's prediction (latent stored); candidate 2: no model (the grid)
        xn = bundle.normalizer.transform(x.reshape(-1, 1)).reshape(x.shape)
        stored, lat_params = quantize_latent(_encode(bundle, xn), spec)
        lat_blobs = _latent_blobs(stored, spec, opts)
        pred = bundle.normalizer.inverse(_decode(dec64, dequantize_latent(stored, spec, lat_params), (h, w_))
                                         .reshape(-1, 1)).reshape(-1)
        rec, streams, _ = _encode_column(x.reshape(-1), pred, bound, opts.entropy, opts.level, lshape)
        cands = [("model", rec, streams, lat_blobs, lat_params)]
        # not under rel: a model-free rel block carries a constant prediction that readers of format 1.5 and
        # earlier do not apply to model files' blocks (they would misread it, not refuse it)
        if bound.kind in ("abs", "range"):
            cands.append(free_block(s))
        return min(cands, key=lambda c: sum(map(len, c[2].values())) + sum(map(len, c[3])))

    blocks = []
    with ContainerWriter(out_path) as w:
        if opts.embed_decoder and bundle is not None:
            w.add("decoder", blob)
        coded = ordered_map(free_block, starts, _threads(opts.threads)) if bundle is None else map(model_block, starts)
        for b, (s, (predictor, rec, streams, lat_blobs, lat_params)) in enumerate(zip(starts, coded)):
            for c, latent_blob in enumerate(lat_blobs):
                w.add(f"b{b}/latent/{c}", latent_blob)
            for k, v in streams.items():
                w.add(f"b{b}/field/{k}", v)
            blocks.append({"rows": min(frames_per_block, n - s), "predictor": predictor, "latent": lat_params,
                           "columns": [rec]})
        model_used = any(blk["predictor"] == "model" for blk in blocks) or (not blocks and bundle is not None)
        model = (_model_header(bundle, blob, opts.embed_decoder) if bundle is not None else
                 {"name": "none", "decoder_sha256": None, "decoder_bytes": 0, "embedded": False})
        header = {
            "format": "baler", "kind": "field", "baler_version": __version__, "n_rows": n, "shape": [n, h, w_],
            "columns": [{"name": "field", "dtype": field.dtype.str}], "latent": {"dtype": spec},
            "model": {**model, "used": model_used}, "error_bound": opts.bounds.to_dict(),
            "raw_bytes": int(field.size * field.dtype.itemsize), "blocks": blocks,
        }
        w.finish(header)
    return header


# ------------------------------------------------------------------ decompression
def _resolve_decoder(rd: ContainerReader, bundle: ModelBundle | None, model_source: str) -> ModelBundle:
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


def _header_field(h: dict, key: str, kind: type, path) -> object:
    v = h.get(key) if isinstance(h, dict) else None
    if not isinstance(v, kind) or isinstance(v, bool):
        raise FormatError(f"{path}: header field {key!r} missing or of the wrong type")
    return v


_DTYPE_STR = re.compile(r"[<>|=]?[biuf][1248]")  # what a writer records: numpy's ``dtype.str`` of a number type


def _parse_columns(columns: list, path) -> tuple[list[str], list[np.dtype]]:
    try:
        names = [str(c["name"]) for c in columns]
        kinds = [c["dtype"] for c in columns]
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{path}: column list malformed ({exc})") from exc
    # checked before numpy parses them: np.dtype reads comma lists and Python literals (a mutated ",": SyntaxError)
    if not all(isinstance(k, str) and _DTYPE_STR.fullmatch(k) for k in kinds):
        raise FormatError(f"{path}: column dtypes must be numeric type codes, got {kinds!r:.200}")
    dtypes = [np.dtype(k) for k in kinds]
    if any(d.kind not in "biuf" or d.itemsize > 8 for d in dtypes):
        raise FormatError(f"{path}: column dtypes must be numeric, got {[d.str for d in dtypes]}")
    if len(set(names)) != len(names):
        raise FormatError(f"{path}: duplicate column names")
    return names, dtypes


def iter_decompress(path: str | Path, bundle: ModelBundle | None = None, model_source: str = "model",
                    max_expansion: float = MAX_EXPANSION, threads: int = 0) -> Iterator[pd.DataFrame | np.ndarray]:
    """Yield decompressed blocks: DataFrames for tables, N x H x W arrays for fields.

    Every declared size is checked before anything is allocated: a file may not expand to more than
    ``max_expansion`` times its own size (plus 64 MiB); anything malformed raises FormatError.
    """
    with ContainerReader(path) as rd, np.errstate(over="ignore", invalid="ignore"):
        try:
            yield from _decompress_blocks(rd, bundle, model_source, max_expansion,
                                          _threads(threads))
        except (FormatError, ModelMismatchError, InputError):
            raise
        except (KeyError, TypeError, ValueError, IndexError, OverflowError, RuntimeError, MemoryError) as exc:
            raise FormatError(f"{path}: malformed file ({type(exc).__name__}: {exc})") from exc


def _decompress_blocks(rd: ContainerReader, bundle: ModelBundle | None, model_source: str, max_expansion: float,
                       threads: int) -> Iterator[pd.DataFrame | np.ndarray]:
    path, h = rd.path, rd.header
    if h.get("format") != "baler" or h.get("kind") not in ("table", "field"):
        raise FormatError(f"{path}: header does not describe a baler table or field")
    spec = _header_field(h.get("latent"), "dtype", str, path)
    blocks = _header_field(h, "blocks", list, path)
    names, dtypes = _parse_columns(_header_field(h, "columns", list, path), path)
    n_total = _header_field(h, "n_rows", int, path)
    if n_total < 0 or any(not isinstance(b, dict) or not isinstance(b.get("rows"), int) or b["rows"] < 0
                          for b in blocks) or sum(b["rows"] for b in blocks) != n_total:
        raise FormatError(f"{path}: block row counts do not add up to n_rows")
    frame = None
    if h["kind"] == "field":
        shape = _header_field(h, "shape", list, path)
        if (len(shape) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
                or shape[0] != n_total or min(shape[1:]) < 1 or len(names) != 1):
            raise FormatError(f"{path}: field shape {shape!r} invalid")
        frame = (shape[1], shape[2])
    per_row = frame[0] * frame[1] if frame else 1
    out_bytes = n_total * per_row * sum(d.itemsize for d in dtypes)
    limit = max_expansion * rd.size + (64 << 20)
    if out_bytes > limit:
        raise FormatError(f"{path}: declares {out_bytes} output bytes from a {rd.size}-byte file "
                          f"(limit {int(limit)}); refusing to allocate")
    needs_model = h.get("model", {}).get("used", True) is not False
    if not needs_model:  # every block was coded without the autoencoder: no decoder is needed
        yield from _decompress_free(rd, blocks, names, dtypes, frame, threads)
        return
    bundle = _resolve_decoder(rd, bundle, model_source)
    if bundle.kind != h["kind"]:
        raise ModelMismatchError(f"{path}: holds a {h['kind']} but the decoder is for {bundle.kind}s")
    if not blocks:  # zero rows: names, dtypes and frame shape still come back
        if frame:
            yield np.zeros((0, *frame), dtype=dtypes[0])
        else:
            yield pd.DataFrame({n: np.zeros(0, dtype=d) for n, d in zip(names, dtypes)}, columns=names)
        return
    dec64 = _float64_decoder(bundle)
    norm = bundle.normalizer
    for b, blk in enumerate(blocks):
        n = blk["rows"]
        recs = blk.get("columns")
        if not isinstance(recs, list) or len(recs) != len(names) or not all(isinstance(r, dict) for r in recs):
            raise FormatError(f"{path}: block {b} column records do not match the columns")
        if _is_sequential(bundle):
            by_name = dict(zip(names, zip(dtypes, recs)))
            if set(by_name) != set(bundle.columns):
                raise ModelMismatchError(f"{path}: columns do not match the sequential decoder's")
            recon_n = np.zeros((n, len(bundle.columns)))
            relations = bundle.record.get("relations") or {}
            data = {}
            for j, name in enumerate(bundle.columns):
                dt, rec = by_name[name]
                pred = _sequential_prediction(dec64, norm, j, recon_n, data, relations)
                data[name] = _decode_column(rec, lambda k, name=name: rd.read(f"b{b}/{name}/{k}"), n, pred, dt, data)
                recon_n[:, j] = norm.transform_column(j, data[name])
            yield pd.DataFrame({c: data[c] for c in names}, columns=names)
            continue
        if frame and blk.get("predictor") == "none":
            vals = _decode_column(recs[0], lambda k: rd.read(f"b{b}/field/{k}"), n * per_row,
                                  _free_pred(recs[0], n * per_row), dtypes[0])
            yield vals.reshape(n, *frame)
            continue
        zshape = _latent_channels(bundle, n, frame)
        z = _read_latent(rd, f"b{b}", zshape, spec, blk.get("latent", {}))
        out = _decode(dec64, z, frame)
        if frame:
            pred = norm.inverse(out.reshape(-1, 1)).reshape(-1)
            vals = _decode_column(recs[0], lambda k: rd.read(f"b{b}/field/{k}"), n * per_row, pred, dtypes[0])
            yield vals.reshape(n, *frame)
            continue
        pred = norm.inverse(out)
        data = {}
        for name, dt, rec in zip(names, dtypes, recs):
            if name not in bundle.columns:
                raise ModelMismatchError(f"{path}: column {name!r} is unknown to the decoder")
            j = bundle.columns.index(name)
            data[name] = _decode_column(rec, lambda k, name=name: rd.read(f"b{b}/{name}/{k}"), n, pred[:, j], dt)
        yield pd.DataFrame(data, columns=names)


def _decompress_free(rd: ContainerReader, blocks: list, names: list[str], dtypes: list[np.dtype],
                     frame: tuple[int, int] | None, threads: int) -> Iterator[pd.DataFrame | np.ndarray]:
    """Blocks coded without a model: field blocks in parallel threads, table columns in parallel threads."""
    for b, blk in enumerate(blocks):
        recs = blk.get("columns")
        if (blk.get("predictor") != "none" or not isinstance(recs, list) or len(recs) != len(names)
                or not all(isinstance(r, dict) for r in recs)):
            raise FormatError(f"{rd.path}: block {b} needs a model or its column records are malformed, "
                              "but the header says no model is used")
    per_row = frame[0] * frame[1] if frame else 1

    def column(b: int, j: int) -> np.ndarray:
        rec, n = blocks[b]["columns"][j], blocks[b]["rows"] * per_row
        read = lambda k: rd.read(f"b{b}/{'field' if frame else names[j]}/{k}")  # noqa: E731
        if rec.get("mode") == "grid":
            return decode_grid(rec, read, n, dtypes[j])
        return _decode_column(rec, read, n, _free_pred(rec, n), dtypes[j])

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


def column_costs(path: str | Path) -> list[dict]:
    """Where a file's bytes go, per column (all blocks): bytes, bits per value, the coding mode(s) of its
    blocks, the largest quantization step and the count of values stored exactly as exceptions. Latents and
    the embedded decoder are listed under ``(latent)`` and ``(decoder)``."""
    with ContainerReader(path) as rd:
        h = rd.header
    try:
        names = [str(c["name"]) for c in h.get("columns", [])]
        per_row = math.prod(h["shape"][1:]) if h.get("kind") == "field" else 1
        n_values = int(h.get("n_rows") or 0) * per_row
        rows: dict[str, dict] = {}

        def row_of(key: str) -> dict:
            return rows.setdefault(key, {"column": key, "bytes": 0, "modes": set(), "step": 0.0, "exceptions": 0})

        for section, (_, length, _) in h["sections"].items():
            parts = section.split("/")  # b<block>/<column or latent>/<stream>, or decoder
            key = "(decoder)" if section == "decoder" else "(latent)" if parts[1:2] == ["latent"] else parts[1]
            row_of(key)["bytes"] += int(length)
        for blk in h.get("blocks", []):
            for name, rec in zip(names, blk.get("columns", [])):
                row = row_of(name)
                row["modes"].add(str(rec.get("mode")))
                if isinstance(rec.get("step"), (int, float)):
                    row["step"] = max(row["step"], float(rec["step"]))
                row["exceptions"] += int(rec.get("n_exceptions", 0))
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{path}: header malformed ({exc!r})") from exc
    return [{**row, "modes": ",".join(sorted(row["modes"])),
             "bits_per_value": 8 * row["bytes"] / n_values if row["column"] in names and n_values else float("nan")}
            for row in rows.values()]


def file_info(path: str | Path) -> dict:
    """Sizes and ratios of a ``.baler`` file, with and without the decoder's bytes."""
    with ContainerReader(path) as rd:
        h = rd.header
        total = rd.size
        used = h.get("model", {}).get("used", True) is not False
        dec = int(h.get("model", {}).get("decoder_bytes", 0)) if used else 0
        embedded = "decoder" in h["sections"]
        data_bytes = total - (rd.section_bytes("decoder") if embedded else 0)
        raw = int(h.get("raw_bytes", 0))
        return {
            "file": str(path), "kind": h.get("kind"), "rows": h.get("n_rows"), "shape": h.get("shape"),
            "columns": len(h.get("columns", [])), "raw_bytes": raw, "compressed_bytes": data_bytes,
            "decoder_bytes": dec, "decoder_embedded": embedded, "file_bytes": total,
            "ratio_without_decoder": raw / data_bytes if data_bytes else float("nan"),
            "ratio_with_decoder": raw / (data_bytes + dec) if data_bytes + dec else float("nan"),
            "error_bound": h.get("error_bound"), "latent": h.get("latent"), "model": h.get("model"),
            "format_version": ".".join(map(str, rd.version)),
        }
