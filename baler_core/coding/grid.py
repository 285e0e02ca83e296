"""Model-free coding of one column (or one field block): put every value on a uniform grid that keeps the
error bound and entropy-code the grid indices. This is the ``grid`` column mode.

It is the codec's fast path (``baler compress -m none``) and the floor every model has to beat. It needs no
torch and does its arithmetic in the column's own float dtype: a float32 column stays float32, several
times faster than the float64 path of model predictions. Values are rebuilt as ``origin + q * step`` in that
dtype by the same numpy operations at compression and at decompression, so the compressor checks the bound on
exactly the values the decompressor will return; any value that misses it is stored exactly as an exception.
Integer-valued columns get ``step = 1`` and come back exact. Field blocks try the predictors of
:mod:`baler_core.coding.predictors` (Lorenzo, interpolation, the spline, the DCT) and keep the smallest.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from baler_core.coding.entropy import decode_ints, encode_ints, unzstd
from baler_core.coding.error_bounds import Bound
from baler_core.coding.predictors import PREDICTOR_REGISTRY, PREDICTORS, GridBlock, predictor_for
from baler_core.coding.predictors.base import (
    MARGIN,
    coded,
    dither_offsets,
    estimated_size,
    exception_streams,
    grid_indices,
    grid_offsets,
    grid_values,
    misses,
)
from baler_core.coding.quantization import SAFETY
from baler_core.errors import FormatError, InputError

DITHER_SEED_VALUES = 4096  # the dither seed is the CRC-32 of a column's first values: columns get other offsets
DITHERED = "dgrid"  # the mode of a dithered grid column
GRID_MODES = ("grid", DITHERED)
GRID_LIMIT = 2**22  # at most this many steps either side of the center: indices stay exact in float32
SAMPLE_FROM = 1 << 19  # field blocks of this many values or more choose their predictor on a sample
SAMPLE_SHARE = 1 / 8
SAMPLE_AXIS = 16
# a predictor within this factor of the best on the sample also runs on the whole block: the middle of a square
# cylinder's wake at range 1e-2 put the DCT 8 % ahead of the spline, which the whole block codes 23 % smaller;
# elsewhere (five flows, bounds 1e-2 to 1e-4) the sample's winner led by 19 % or more and was right
SAMPLE_RUNOFF = 1.15
VARIANT_RUNOFF = 1.05  # the same for a predictor's variants (spline axis orders, DCT steps), which lie closer


def _grid(x: np.ndarray, bound: Bound) -> dict | None:
    """Grid parameters for a finite float column, or None where the grid does not apply."""
    lo, hi = x.min(), x.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None  # NaN or +-Inf present: the general path stores them as exceptions
    col_range = float(hi) - float(lo)
    if np.array_equal(np.rint(x), x):  # integer-valued: exact, like the model path's ``int`` mode
        if col_range > 2 * GRID_LIMIT:
            return None  # too wide for exact float32 indices: the general path's int mode keeps it exact
        return {"origin": float(lo), "step": 1.0, "tol": 0.0, "range": col_range}
    tol = bound.value if bound.kind == "abs" else bound.value * col_range
    step = float(x.dtype.type(2 * tol * SAFETY))
    if col_range == 0:
        step = 1.0  # every index is 0
    if not (np.isfinite(step) and step > 0) or col_range / step > 2 * GRID_LIMIT:
        return None
    return {"origin": float(lo), "step": step, "tol": tol, "range": col_range}


def encode_grid(x: np.ndarray, bound: Bound, entropy: str, level: int, shape: tuple[int, ...] | None = None,
                predictors: tuple[str, ...] = ("lorenzo",),
                dither: bool = False) -> tuple[dict, dict[str, bytes]] | None:
    """Code a float column (any shape, coded flat) on its grid; None where the general path must do it
    (non-finite values, a grid too fine for the dtype, a bound other than abs/range). Fields pass their block
    ``shape`` and the ``predictors`` to try (``lorenzo``, ``interp``, ``spline``, ``dct``); the smallest result
    wins. ``dither`` (table columns only) codes with subtractive dither (``predictors.base.dither_offsets``)."""
    if x.dtype not in MARGIN or bound.kind not in ("abs", "range") or x.size == 0:
        return None
    x = np.ascontiguousarray(x).ravel()
    p = _grid(x, bound)
    if p is None:
        return None
    unknown = [name for name in predictors if name not in PREDICTORS]
    if unknown:
        raise InputError(f"field predictor {unknown[0]!r} unknown; choose from {', '.join(PREDICTORS)}")
    zero_possible = p["origin"] <= 0 <= p["origin"] + p["range"]
    rec = {"mode": "grid", "origin": p["origin"], "step": p["step"], "range": p["range"]}
    if shape is None:
        return _table_column(x, p, rec, zero_possible, entropy, level, dither)
    block = GridBlock(x, tuple(shape), p["origin"], p["step"], p["tol"], zero_possible, entropy, level)
    names = [name for name in PREDICTORS if name in predictors]
    cands = []
    # the predictor chosen on a sample, where there is a choice
    sample = sample_block(block) if len(names) > 1 or "lorenzo" not in names else None
    if sample is not None:
        sizes: dict[str, list[tuple[int, object]]] = {}  # each predictor's variants on the sample
        for name in names:
            for _, streams, variant in PREDICTOR_REGISTRY[name].encode(sample):
                sizes.setdefault(name, []).append((estimated_size(streams), variant))
        lead = min((size for tried in sizes.values() for size, _ in tried), default=0)
        for name, tried in sizes.items():  # the runners-up close to the lead run too
            own = min(size for size, _ in tried)
            if own <= lead * SAMPLE_RUNOFF:
                variants = tuple(variant for size, variant in tried if size <= own * VARIANT_RUNOFF)
                cands.extend(PREDICTOR_REGISTRY[name].encode(block, variants))
    if not cands:
        cands = [c for name in names for c in PREDICTOR_REGISTRY[name].encode(block)]
    if not cands:  # only spline or dct was asked for and it does not apply
        cands = PREDICTOR_REGISTRY["lorenzo"].encode(block)
    # estimated sizes decide, and only the winner is coded
    extra, streams, _ = cands[0] if len(cands) == 1 else min(cands, key=lambda c: estimated_size(c[1]))
    return {**rec, **extra}, coded(streams)


def _table_column(x: np.ndarray, p: dict, rec: dict, zero_possible: bool, entropy: str, level: int,
                  dither: bool) -> tuple[dict, dict[str, bytes]]:
    """A table column on its grid (``p``), dithered where asked and the bound allows."""
    if not (dither and p["tol"] > 0):
        q, idx = grid_indices(x, p["origin"], p["step"], p["tol"], zero_possible)
        return {**rec, "n_exceptions": int(idx.size)}, {**exception_streams(x, idx, level),
                                                        "r": encode_ints(q, entropy, level)}
    t = x.dtype.type
    seed = zlib.crc32(x[:DITHER_SEED_VALUES].tobytes())
    q = x - t(p["origin"])  # >= 0, so the indices need no zigzag
    q *= t(1 / p["step"])
    at_min = q < t(0.5)  # index 0 stays the minimum itself; the rest is dithered, one up (grid_offsets)
    q -= dither_offsets(seed, x.size, x.dtype)
    np.rint(q, out=q)
    q += t(1)
    q[at_min] = 0
    qi = q.astype(np.int32)
    del q
    recon = grid_values(qi, p["origin"], p["step"], x.dtype, grid_offsets(qi, seed, x.dtype))
    idx = np.flatnonzero(misses(x, recon, p["tol"], zero_possible))
    del recon
    qi[idx] = 0
    # a mode of its own: a 1.6 reader refuses it rather than rebuild it undithered
    return ({**rec, "mode": DITHERED, "dither": seed, "n_exceptions": int(idx.size)},
            {**exception_streams(x, idx, level), "r": encode_ints(qi, entropy, level)})


def sample_block(block: GridBlock) -> GridBlock | None:
    """The middle of a block large enough to sample (``SAMPLE_FROM`` values or more), about ``SAMPLE_SHARE`` of
    its values, each axis cut by the same fraction (at least ``SAMPLE_AXIS`` long): the predictors and their
    variants are compared on it, and only the winner (and any within ``SAMPLE_RUNOFF`` of it) runs on the whole
    block."""
    shape = block.shape
    if block.x.size < SAMPLE_FROM:
        return None
    f = SAMPLE_SHARE ** (1 / len(shape))
    region = tuple(slice((n - m) // 2, (n - m) // 2 + m) for n in shape
                   for m in [min(n, max(SAMPLE_AXIS, int(round(n * f))))])
    sub = tuple(s.stop - s.start for s in region)
    x = np.ascontiguousarray(block.x.reshape(shape)[region]).ravel()
    # its grid, where a predictor asks, from its own values: the grid is value by value
    return GridBlock(x, sub, block.origin, block.step, block.tol, block.zero_possible, block.entropy, block.level)


def decode_grid(rec: dict, read: Callable[[str], bytes], n: int, dtype: np.dtype) -> np.ndarray:
    """Rebuild a ``grid`` column of ``n`` values of ``dtype`` (float32 or float64)."""
    if np.dtype(dtype) not in MARGIN:
        raise FormatError(f"grid column has dtype {dtype}, expected float32 or float64")
    try:
        float(rec["origin"]), float(rec["step"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"grid column record malformed ({exc})") from exc
    if (rec.get("mode") == DITHERED) != ("dither" in rec):
        raise FormatError(f"grid column record malformed (mode {rec.get('mode')!r} with dither "
                          f"{rec.get('dither')!r})")
    out = predictor_for(rec).decode(rec, read, n, dtype)
    k = rec.get("n_exceptions", 0)
    if not isinstance(k, int) or not 0 <= k <= n:
        raise FormatError(f"exception count {k!r} out of range")
    if k:
        idx = np.cumsum(decode_ints(read("exc_idx"), k))
        if idx[0] < 0 or idx[-1] >= n or np.any(np.diff(idx) <= 0):
            raise FormatError("exception indices out of range")
        size = k * np.dtype(dtype).itemsize
        raw = unzstd(read("exc_val"), size, "exception values")
        out[idx] = np.frombuffer(raw, dtype=dtype)
    return out

