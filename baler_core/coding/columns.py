"""Code one column against a float64 prediction so that every value keeps its bound.

Column modes (the record's ``mode``):
- ``int``: integer-valued columns, exact: residual to the rounded prediction.
- ``lin``: ``abs``/``range`` bounds, uniform residual bins of width 2*bound.
- ``log``: ``rel`` bounds, residual bins in log|x| plus zero and sign-flip flags.
- ``alin``/``alog``: as ``lin``/``log`` on the grid of multiples of the step (grid index differences).
- ``dlin``/``dlog``/``dalin``/``dalog`` (format 1.8): the same with subtractive dither (seed ``dither``, offsets
  ``predictors.base.dither_offsets``): the error is spread evenly over the bound whatever the value and the
  prediction, so neither the grid nor a model's bias shows in a histogram.
- ``ae``: no bound, the autoencoder's reconstruction as it is (the original Baler's behaviour).
- ``const`` and ``raw``: constant columns, and integer columns too wide for float64 predictions.

The coder rebuilds every value exactly as the decoder will, checks the bound on the output dtype and stores
any value that misses it, and every NaN and +-Inf, exactly as an exception.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import zstandard

from baler_core.coding import contexts, prior_tables
from baler_core.coding.entropy import ZSTD_TRIED, decode_ints, encode_ints, unzstd
from baler_core.coding.error_bounds import Bound
from baler_core.coding.grid import DITHER_SEED_VALUES, GRID_MODES, decode_grid
from baler_core.coding.grouping import ungroup
from baler_core.coding.lossless import decode_exact
from baler_core.coding.predictors.base import Pending, dither_offsets
from baler_core.coding.predictors.lorenzo import inverse_lorenzo, lorenzo
from baler_core.coding.quantization import (
    MAX_RESIDUAL,
    aligned_base,
    dither_contexts,
    dithered_base,
    fragile,
    log_magnitude,
    quantize_residual,
    reconstruct,
    residual_step,
)
from baler_core.coding.residual_grid import RESIDUAL_GRID, decode_residual_grid
from baler_core.errors import FormatError

DITHERED_MODES = {"dlin": "lin", "dlog": "log", "dalin": "alin", "dalog": "alog"}  # record mode -> residual mode


# ------------------------------------------------------------------ per-column coding
def is_integer_column(x: np.ndarray, finite: np.ndarray) -> bool:
    if x.dtype.kind in "biu":
        return True
    v = x[finite]
    return bool(v.size) and bool(np.all(v == np.rint(v))) and bool(np.all(np.abs(v) < 2**52))


def needs_raw(x: np.ndarray) -> bool:
    """Integer columns whose values float64 cannot hold exactly, or whose spread overflows int64 residuals."""
    if x.dtype.kind not in "iu" or x.size == 0:
        return False
    lo, hi = int(x.min()), int(x.max())
    return max(abs(lo), abs(hi)) >= 2**52 or hi - lo >= 2**52


def misses_bound(mode: str, x: np.ndarray, recon: np.ndarray, bound: Bound, params: dict) -> np.ndarray:
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


def encode_column(x: np.ndarray, pred: np.ndarray, bound: Bound, entropy: str, level: int,
                   lorenzo_shape: tuple[int, ...] | None = None, aligned: bool = False, stored_pred: bool = False,
                   dither: bool = False, seed: int | None = None, pending: bool = False,
                   zstd_below: int = ZSTD_TRIED) -> tuple[dict, dict, np.ndarray]:
    """Code one column (1-D values, any numeric dtype) against its float64 prediction. Fields pass their
    block shape as ``lorenzo_shape`` to code the residuals' Lorenzo differences instead. ``aligned`` codes
    float columns on the grid of multiples of the step (modes ``alin``/``alog``): the residual is the difference
    of the value's and the prediction's grid indices. ``stored_pred``: the prediction is a constant stored in
    the record, read back bit for bit, so no value needs guarding against a prediction computed differently.
    ``dither``: bounded float columns (not Lorenzo-coded blocks) are coded with subtractive dither, its offsets
    drawn from ``seed`` (by default a checksum of the first values; a table coded with a model passes the
    column's position, a few bits in the header instead of 32: any seed gives data-independent offsets).
    ``pending``: the residual, zero and sign streams are left uncoded (``Pending``: sized by estimate).
    ``zstd_below``: under entropy auto, streams estimated smaller also try zstd (``entropy.plan_ints``)."""
    n = x.size

    def ints(values: np.ndarray) -> bytes | Pending:
        if pending:
            return Pending(values, entropy, level, zstd_below=zstd_below)
        return encode_ints(values, entropy, level, zstd_below)

    streams: dict[str, bytes] = {}
    if x.dtype.kind == "b":
        x = x.astype(np.uint8)
    if needs_raw(x):
        raw = np.ascontiguousarray(x).tobytes()
        streams["raw"] = zstandard.ZstdCompressor(level=level, write_checksum=True).compress(raw)
        return {"mode": "raw"}, streams, x
    xf = x.astype(np.float64)
    finite = np.isfinite(xf)
    pred = np.nan_to_num(pred, nan=0.0, posinf=1e300, neginf=-1e300)
    fin_vals = xf[finite]
    params: dict = {}
    r = zero = flip = None
    guard = None  # predictions on a rounding boundary, stored exactly (see quantization.fragile)
    offsets = None  # subtractive dither, in steps, for the lin / log family
    if dither and lorenzo_shape is None and bound.kind in ("abs", "range", "rel"):
        seed = zlib.crc32(np.ascontiguousarray(x[:DITHER_SEED_VALUES]).tobytes()) if seed is None else seed
    else:
        seed = None
    if is_integer_column(x, finite):
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
        params = {"step": short_step(residual_step(bound.kind, bound.value, col_range)), "range": col_range}
        if params["step"] <= 0 or not np.isfinite(params["step"]):
            params["step"] = 1.0
        step = params["step"]
        offsets, shift = _dither_shift(seed, n, step)
        if aligned and offsets is not None:  # the dithered grid of model-free columns, from the prediction's index
            mode = "alin"
            params["lo"] = float(fin_vals.min()) if fin_vals.size else 0.0
            r = dithered_residual(np.where(finite, xf, params["lo"]), pred, params["lo"], step, offsets)
            guard = fragile(pred - params["lo"] - shift, step)
        elif aligned:
            mode = "alin"
            r = aligned_residual(np.where(finite, xf, 0.0), pred, step)
            guard = fragile(pred, step)
        else:
            r, _ = quantize_residual(np.where(finite, xf - pred - shift, 0.0), step)
    else:  # rel
        mode = "alog" if aligned else "log"
        params = {"step": short_step(residual_step("rel", bound.value, 0.0))}
        zero = (xf == 0) & finite
        with np.errstate(divide="ignore"):
            lx = np.log(np.abs(np.where(finite & ~zero, xf, 1.0)))
        step = params["step"]
        offsets, shift = _dither_shift(seed, n, step)
        lp = log_magnitude(pred)
        if aligned:
            r = np.where(finite & ~zero, aligned_residual(lx - shift, lp - shift, step), 0)
            guard = fragile(lp - shift, step)
        else:
            r, _ = quantize_residual(np.where(finite & ~zero, lx - lp - shift, 0.0), step)
            guard = np.zeros(n, dtype=bool)  # only the sign check below
        flip = ((xf < 0) != (pred < 0)) & finite & ~zero
    recon = reconstruct(mode, pred, r, params, zero, flip, offsets)
    with np.errstate(invalid="ignore", over="ignore"):
        out = recon.astype(x.dtype)
    bad = ~finite | misses_bound(mode, x, out, bound, params)
    if guard is not None and not stored_pred:
        if mode in ("log", "alog"):  # the sign of a prediction within rounding of zero may differ elsewhere
            scale = float(np.max(np.abs(fin_vals))) if fin_vals.size else 0.0
            guard |= np.abs(pred) <= 1e-9 * scale
        bad |= guard
    if r is not None:
        r = np.where(bad, 0, r)
        if lorenzo_shape is not None and mode in ("lin", "int"):
            params["lorenzo"] = list(lorenzo_shape)
            streams["r"] = ints(lorenzo(r, lorenzo_shape))
        else:
            streams["r"] = ints(r)
    if zero is not None:
        streams["zero"] = ints(zero.astype(np.int64))
        streams["flip"] = ints(np.where(bad, 0, flip).astype(np.int64))
    idx = np.flatnonzero(bad)
    if idx.size:
        streams["exc_idx"] = encode_ints(np.diff(idx, prepend=0), "zstd", level)
        raw = np.ascontiguousarray(x[idx]).tobytes()
        streams["exc_val"] = zstandard.ZstdCompressor(level=level, write_checksum=True).compress(raw)
        out[idx] = x[idx]
    if offsets is not None:  # a mode of its own: a 1.7 reader refuses it rather than rebuild it undithered
        mode = "d" + mode
        params["dither"] = seed
    params.pop("range", None)  # for the bound check only: no reader needs it
    return {"mode": mode, **({"n_exceptions": int(idx.size)} if idx.size else {}), **params}, streams, out


def short_step(step: float) -> float:
    """The step rounded down to six significant digits: at most 1e-5 finer (no bound is loosened), and a few
    bytes in the header instead of seventeen digits."""
    if not np.isfinite(step) or step <= 0:
        return step
    short = float(f"{step:.5e}")
    return short if short <= step else float(f"{step * (1 - 1e-5):.5e}")


def _dither_shift(seed: int | None, n: int, step: float) -> tuple[np.ndarray | None, np.ndarray | float]:
    """The dither offsets (in steps; None without a seed) and the same in the coding domain's units."""
    if seed is None:
        return None, 0.0
    offsets = dither_offsets(seed, n, np.dtype(np.float64))
    return offsets, offsets * step


def dithered_residual(v: np.ndarray, pred: np.ndarray, lo: float, step: float, offsets: np.ndarray) -> np.ndarray:
    """Index of ``v`` on the dithered grid above the column minimum ``lo`` (``quantization.dithered_values``)
    minus the prediction's; differences too large to store become 0 (then exceptions)."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        q = np.where(v == lo, 0.0, np.rint((v - lo) / step - offsets) + 1)
    r = q - dithered_base(pred, lo, step, offsets)
    big = ~np.isfinite(r) | (np.abs(r) > MAX_RESIDUAL)
    r[big] = 0
    return r.astype(np.int64)


def aligned_residual(v: np.ndarray, pred: np.ndarray, step: float) -> np.ndarray:
    """Grid index of ``v`` minus that of ``pred``; differences too large to store become 0 (then exceptions)."""
    q, big = quantize_residual(v, step)
    r = q - aligned_base(pred, step).astype(np.int64)
    r[big | (np.abs(r) > MAX_RESIDUAL)] = 0
    return r


def decode_column(rec: dict, read, n: int, pred: np.ndarray, dtype: np.dtype,
                   decoded: dict[str, np.ndarray] | None = None, prior: prior_tables.ColumnPriors | None = None
                  ) -> np.ndarray:
    """One column from its record and streams; ``decoded`` holds the columns decoded before it (sequential
    blocks), which a context-split residual stream needs; ``prior``: the model's priors of the column's streams
    (``codec.priors``), for streams coded against them."""
    mode = rec.get("mode")
    if mode in GRID_MODES:
        return decode_grid(rec, read, n, dtype)
    if mode == RESIDUAL_GRID:  # a field block: the model's prediction plus a grid-coded residual
        return decode_residual_grid(rec, read, n, pred, dtype)
    if mode == "exact":
        return decode_exact(rec, read, n, dtype)
    store_dtype = np.dtype(np.uint8) if dtype.kind == "b" else dtype
    if mode == "raw":
        raw = unzstd_section(read("raw"), n * store_dtype.itemsize)
        return np.frombuffer(raw, dtype=store_dtype).copy().astype(dtype)
    offsets = None
    if mode in DITHERED_MODES:
        seed = rec.get("dither")
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
            raise FormatError(f"column dither seed {seed!r} malformed")
        mode, offsets = DITHERED_MODES[mode], dither_offsets(seed, n, np.dtype(np.float64))
    pred = _coded_prediction(rec, mode, pred)
    dither = None
    if offsets is not None and _splits_by_dither(rec, prior):
        try:
            dither = dither_contexts(mode, pred, rec, offsets)[0]
        except (KeyError, TypeError) as exc:
            raise FormatError(f"column record malformed ({exc})") from exc
    r = read_ints(rec, read, n, decoded, "r", dither, prior) if mode in ("int", "lin", "log", "alin", "alog") else None
    if r is not None and rec.get("lorenzo") is not None:
        shape = tuple(int(v) for v in rec["lorenzo"])
        if math.prod(shape) != n or min(shape, default=1) < 0:
            raise FormatError(f"Lorenzo shape {shape} does not hold {n} values")
        r = inverse_lorenzo(r, shape)
    zero = read_ints(rec, read, n, decoded, "zero", dither, prior) if mode in ("log", "alog") else None
    flip = read_ints(rec, read, n, decoded, "flip", dither, prior) if mode in ("log", "alog") else None
    try:
        recon = reconstruct(mode, pred, r, rec, zero, flip, offsets)
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
        out[idx] = np.frombuffer(unzstd_section(read("exc_val"), k * store_dtype.itemsize), dtype=store_dtype)
    return out.astype(dtype)


def read_ints(rec: dict, read, n: int, decoded: dict[str, np.ndarray] | None, stream: str,
              dither: dict[str, np.ndarray] | None = None, prior: prior_tables.ColumnPriors | None = None
              ) -> np.ndarray:
    """A column's integer ``stream``: one stream, groups split by earlier decoded columns or the column's
    dither contexts (``contexts``), or groups coded against the model's prior (``prior_tables``)."""
    if stream in prior_streams(rec):
        entry = prior.entries.get(stream) if prior is not None else None
        if entry is None:
            raise FormatError(f"stream {stream!r} is coded against a prior the decoder does not hold")
        g, k = contexts.item_groups(entry.ctx, n, decoded, dither)
        if k != len(entry.tables):
            raise FormatError(f"the prior of stream {stream!r} has {len(entry.tables)} tables for {k} groups")
        return ungroup(prior.reader.read(np.bincount(g, minlength=k).tolist(), entry.tables), g, k)
    if contexts.record_key(stream) not in rec:
        return decode_ints(read(stream), n)
    return contexts.decode_split(read, rec, n, decoded, stream, dither)


def prior_streams(rec: dict) -> list[str]:
    """The streams of a column record coded against the model's prior."""
    streams = rec.get("prior", [])
    if not isinstance(streams, list) or not all(s in ("r", "zero", "flip") for s in streams):
        raise FormatError(f"column record's prior streams {streams!r} malformed")
    return streams


def dither_values(rec: dict, pred: np.ndarray) -> tuple[dict[str, np.ndarray], float] | None:
    """The dither phase and position of a coded column (``quantization.dither_contexts``) and the gap around
    their values; None where the column is not dithered."""
    mode = DITHERED_MODES.get(rec.get("mode"))
    if mode is None:
        return None
    offsets = dither_offsets(rec["dither"], pred.size, np.dtype(np.float64))
    return dither_contexts(mode, _coded_prediction(rec, mode, pred), rec, offsets)


def dither_sources(got: tuple[dict[str, np.ndarray], float] | None) -> dict[tuple[str, bool], contexts.Source]:
    """A column's dither position and phase (``dither_values``) as context sources; none where it is not
    dithered."""
    if got is None:
        return {}
    values, gap = got
    return {contexts.PHASE: contexts.Source(values["phase"], gap=gap),
            contexts.POSITION: contexts.IndexSource(values["position"], gap=gap)}


def _coded_prediction(rec: dict, mode: str, pred: np.ndarray) -> np.ndarray:
    """The prediction a column was coded against (``mode`` without the dither prefix): the record's constant
    for aligned columns coded without a model, finite values only."""
    if mode in ("alin", "alog") and "pred" in rec:
        pred = free_pred(rec, pred.size)
    return np.nan_to_num(pred, nan=0.0, posinf=1e300, neginf=-1e300)


def _splits_by_dither(rec: dict, prior: prior_tables.ColumnPriors | None = None) -> bool:
    """Whether a record's context splits, or those of the priors its streams use, use the column's dither
    contexts (so the decoder computes them)."""
    lists = [rec.get(key) for key in ("ctx", "zero_ctx", "flip_ctx")]
    lists += [prior.entries[s].ctx for s in prior_streams(rec) if s in prior.entries] if prior else []
    return any(isinstance(item, dict) and "dither" in item for items in lists
               for item in (items if isinstance(items, list) else ()))


def unzstd_section(blob: bytes, size: int) -> bytes:
    return unzstd(blob, size, "section")


def free_center(x: np.ndarray, bound: Bound) -> float:
    """A constant prediction for a column coded without a model on the general path: the middle of its
    finite values (in log magnitude for ``rel`` bounds, whose residuals are log ratios)."""
    v = x[np.isfinite(x)].astype(np.float64) if x.dtype.kind == "f" else x.astype(np.float64)
    if bound.kind == "rel":
        v = np.abs(v[v != 0])
        return float(np.exp((np.log(v.min()) + np.log(v.max())) / 2)) if v.size else 1.0
    return float(v.min() / 2 + v.max() / 2) if v.size else 0.0  # halves first: no overflow near float64's max


def free_pred(rec: dict, n: int) -> np.ndarray:
    pred = rec.get("pred", 0.0)
    if not isinstance(pred, (int, float)) or isinstance(pred, bool):
        raise FormatError(f"column record's constant prediction {pred!r} is not a number")
    return np.full(n, float(pred))
