"""Transform coding of field blocks (the ``dct`` field predictor): an orthonormal DCT-II along every axis, the
coefficients quantized to one uniform step and entropy-coded in groups by a coarse spectral envelope, then the
values the inverse transform leaves outside the bound corrected on a grid twice the bound wide.

A smooth field puts its energy into few coefficients, so a step of two to three times the bound leaves most
values well inside it (errors are a sum of many small coefficient errors, nearly Gaussian); the correction pass
makes every value keep the bound. This is SPERR's plan (a transform, then outlier correction; Li, Lindstrom and
Clyne, IPDPS 2023) with a DCT in place of its wavelet.

The inverse transform (scipy's FFT; matrix products up to format 1.10) may sum in another order on another
machine: the bound is checked with a margin (``margin``), and a value that misses it is stored exactly by the
caller. From 1.14 a float32 block whose bound lies far above float32's rounding is rebuilt by a float32 inverse
(``dct_f32``); from 1.15 the coefficients are grouped by ``dct_contexts``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType

import numpy as np

from baler_core.coding import jit
from baler_core.coding.entropy import decode_ints
from baler_core.coding.predictors.base import (
    Candidate,
    GridBlock,
    Pending,
    Predictor,
    Streams,
    block_shape,
    exception_streams,
)
from baler_core.coding.predictors.dct_contexts import coefficient_streams, read_coefficients, read_scheme
from baler_core.coding.predictors.dct_corrections import (
    MAX_COEF,
    correction_streams,
    corrections,
    narrow,
    read_corrections,
)
from baler_core.coding.predictors.dct_envelope import MAX_LEVEL, envelope_cut, envelope_ids, envelope_sizes
from baler_core.coding.predictors.dct_quantize import STEP_FACTORS, indices
from baler_core.errors import FormatError

MAX_AXIS = 1024  # longer axes are not transformed (readers refuse them: formats up to 1.10 used matrix products)
_MARGIN = 1e-9  # of the block's largest magnitude: covers float64 rounding differences of the transform
# A float32 inverse transform (1.14, ``dct_f32``) errs by up to about 3 float32 epsilons of the largest magnitude
# (measured on turbulence blocks of 16-160 frames); two machines' results differ by at most twice that
_MARGIN32 = 16 * float(np.finfo(np.float32).eps)
FORWARD32_FROM = 1e-4  # bound / largest magnitude from which float32 blocks transform forward in float32


def _transform(x: np.ndarray, inverse: bool, overwrite: bool = False) -> np.ndarray:
    """Orthonormal DCT-II (or its inverse) along every axis of a float64 array, by scipy's FFT (a third
    faster than the matrix products of formats up to 1.10, and equal to them within 1e-12 of the largest value,
    far inside ``margin``); ``overwrite`` lets it reuse ``x``."""
    import scipy.fft

    axes = [a for a, n in enumerate(x.shape) if n > 1]
    if not axes:
        return x.copy()
    return (scipy.fft.idctn if inverse else scipy.fft.dctn)(x, type=2, norm="ortho", axes=axes, overwrite_x=overwrite)


def peak(x: np.ndarray) -> float:
    """A finite block's largest magnitude, ``max|x|`` (0 when empty), without an array of magnitudes."""
    return max(-float(x.min()), float(x.max())) if x.size else 0.0


def margin(x: np.ndarray, tol: float, f32: bool = False, top: float | None = None) -> float:
    """Slack kept below the bound so that another machine's transform (float64, or float32 where ``f32``)
    rebuilds values within it (scaled by the largest value a rebuilt value can have, ``max|x| + tol``; ``top``:
    ``peak(x)``, where known)."""
    scale = (peak(x) if top is None else top) + tol
    return ((_MARGIN32 if f32 else _MARGIN) + 2 * float(np.finfo(x.dtype).eps)) * scale


def inverse32(x: np.ndarray, tol: float, top: float | None = None) -> bool:
    """Whether a block's inverse transform runs in float32 (1.14): float32 values whose bound lies far above
    float32's rounding (``FORWARD32_FROM`` of the largest magnitude, ``top`` where known). Twice as fast as
    float64's, on both sides."""
    return x.dtype == np.float32 and x.size > 0 and tol >= FORWARD32_FROM * (peak(x) if top is None else top)


def _inverse(q: np.ndarray, shape: tuple[int, ...], step: float, f32: bool = False,
             kernels: ModuleType | None = None) -> np.ndarray:
    """The inverse transform of indices ``q`` times ``step`` (products in float64, rounded to float32 where
    ``f32``: in one compiled pass where ``kernels``)."""
    if f32 and kernels is not None:
        coef = np.empty(q.size, dtype=np.float32)
        kernels.scale32(q, step, coef)
        return _transform(coef.reshape(shape), inverse=True, overwrite=True).ravel()
    return _back(q * step, shape, f32)


def _back(coef: np.ndarray, shape: tuple[int, ...], f32: bool) -> np.ndarray:
    """The inverse transform of float64 coefficients (rounded to float32 first where ``f32``), flat."""
    coef = coef.reshape(shape)
    return _transform(coef.astype(np.float32) if f32 else coef, inverse=True, overwrite=True).ravel()


def _rebuild(rec: np.ndarray, k: np.ndarray, half: float, zero: np.ndarray | None, dtype: np.dtype,
             kernels: ModuleType | None = None) -> np.ndarray:
    """The values both sides compute from the inverse transform ``rec`` (overwritten): plus ``k`` corrections of
    ``2 half``, cast to ``dtype``, exact zeros (``zero``: 1 for +0.0, 2 for -0.0) put back."""
    if kernels is not None:  # k is within the format's limit here
        out = np.empty(rec.size, dtype=dtype)
        has_zero = zero is not None
        kernels.rebuild(rec, k, 2 * half, zero if has_zero else np.zeros(0, np.int8), has_zero, MAX_COEF, out)
        return out
    with np.errstate(over="ignore", invalid="ignore"):
        rec = rec.astype(np.float64, copy=False)  # a float32 inverse is summed in float64, as the kernel does
        rec += k * (2 * half)
        out = rec.astype(dtype)
    if zero is not None:
        out[zero == 1] = 0.0
        out[zero == 2] = -0.0
    return out


def _group_order(lv: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficient order grouped by envelope level (stable), the levels present and their counts."""
    g = lv.astype(np.uint8)[ids]  # levels <= MAX_LEVEL: numpy radix-sorts 8-bit keys, 9x faster than int64
    order = np.argsort(g, kind="stable")
    counts = np.bincount(g, minlength=MAX_LEVEL + 1)  # not np.unique: a count needs no sort
    levels = np.flatnonzero(counts)
    return order, levels, counts[levels]


def _forward(x: np.ndarray, shape: tuple[int, ...], tol: float, top: float) -> np.ndarray | None:
    """The coefficients to quantize (flat), None where they overflow. They only choose the grid indices: the bound
    is checked on what the float64 inverse rebuilds from those, as the decoder does. So a float32 block whose
    bound lies far above float32's rounding (``FORWARD32_FROM`` of its largest magnitude) transforms in float32,
    twice as fast; the indices differ from float64's only where a coefficient lies within about 1e-5 steps of a
    rounding edge."""
    with np.errstate(over="ignore", invalid="ignore"):
        if x.dtype == np.float32 and tol >= FORWARD32_FROM * top:  # top: peak(x)
            coef = _transform(x.reshape(shape), inverse=False).ravel()
            if np.isfinite(coef).all():
                return coef
        coef = _transform(x.astype(np.float64).reshape(shape), inverse=False).ravel()
    return coef if np.isfinite(coef).all() else None


def encode_dct(x: np.ndarray, shape: tuple[int, ...], tol: float, entropy: str, level: int,
               factors: tuple | None = None,
               top: float | None = None) -> list[tuple[dict, Streams, np.ndarray, tuple]] | None:
    """Code a finite float block of ``shape`` within ``tol`` with each of ``STEP_FACTORS`` (by index, or index and
    ``dct_contexts`` scheme, in ``factors``; by default all) that applies: per factor the record, the streams
    (not yet entropy-coded), the rebuilt values (the caller stores the values that miss ``tol - margin(x, tol)``
    as exceptions) and the variant (index, scheme). None where the transform does not apply (an axis longer than
    ``MAX_AXIS``, or a bound within the dtype's rounding of the values). ``top``: ``peak(x)``, where known."""
    if not shape or max(shape) > MAX_AXIS or x.size < 2:
        return None
    top = peak(x) if top is None else top
    f32 = inverse32(x, tol, top)
    half = tol - 2 * margin(x, tol, f32, top)
    if not (np.isfinite(half) and half > 0.5 * tol):
        return None
    # the step as in float64 blocks: the float32 margin narrows the corrections only
    base = tol - 2 * margin(x, tol, False, top)
    coef = _forward(x, shape, tol, top)
    if coef is None:  # sums of values near the dtype's maximum overflow
        return None
    kernels = jit.module("transform_kernels") if jit.active() else None
    flat = x.ravel()
    zeros = flat == 0
    zero = np.where(zeros, np.where(np.signbit(flat), 2, 1), 0).astype(np.int8) if zeros.any() else None
    # Memory: the coefficients, a few work arrays, per factor its streams and rebuilt values (in place where numpy
    # allows, the decoder's arithmetic). A factor named with its scheme (a sample's choice) codes that scheme only
    out = []
    for variant in range(len(STEP_FACTORS)) if factors is None else factors:
        index, scheme = (variant, None) if isinstance(variant, int) else (variant[0], tuple(variant[1:]))
        factor, dead = STEP_FACTORS[index]
        step = factor * base
        got = indices(coef, step, dead, kernels, shape)
        if got is None:
            continue
        qi, lv = got
        rec = _inverse(qi, shape, step, f32, kernels)
        k = corrections(flat, rec, half, zeros if zero is not None else None, kernels)
        if k is None:
            continue
        q = narrow(qi)
        del qi, got
        scheme, coefficients = coefficient_streams(q, lv, shape, tuple(envelope_cut(shape)), entropy, level,
                                                   kernels, scheme)
        del q
        drec = {"dct": list(shape), "dct_step": step, "dct_half": half, "dct_zeros": zero is not None,
                "dct_ctx": list(scheme)}
        if f32:
            drec["dct_f32"] = True
        streams: Streams = {"env": Pending(lv, entropy, level), **correction_streams(k, drec, entropy, level)}
        if zero is not None:
            streams["z"] = Pending(zero, entropy, level)
        streams.update(coefficients)
        del coefficients
        out.append((drec, streams, _rebuild(rec, k, half, zero, x.dtype, kernels), (index, *scheme)))
        del rec, k
    return out or None


def _level_streams(read: Callable[[str], bytes], shape: tuple[int, ...], prefix: str) -> tuple[np.ndarray, ...]:
    """The envelope levels, every coefficient stream's values (``prefix<level>``, concatenated by level) and where
    each level's values begin."""
    sizes = envelope_sizes(shape)
    lv = _read_levels(read, sizes.size)
    counts = np.bincount(lv, weights=sizes, minlength=MAX_LEVEL + 1).astype(np.int64)
    levels = np.flatnonzero(counts)
    values = np.concatenate([decode_ints(read(f"{prefix}{int(v)}"), int(counts[v]), narrow=True) for v in levels])
    return lv, values, np.cumsum(counts) - counts


def _read_levels(read: Callable[[str], bytes], count: int) -> np.ndarray:
    lv = decode_ints(read("env"), count)
    if lv.size and (lv.min() < 0 or lv.max() > MAX_LEVEL):
        raise FormatError("transform envelope level out of range")
    return lv


def _coefficients(read: Callable[[str], bytes], shape: tuple[int, ...]) -> np.ndarray:
    ids, count = envelope_ids(shape)
    lv = _read_levels(read, count)
    order, levels, counts = _group_order(lv, ids)
    q = np.empty(ids.size, dtype=np.int64)
    q[order] = np.concatenate([decode_ints(read(f"c{int(v)}"), int(c)) for v, c in zip(levels, counts)])
    if q.size and (q.min() < -MAX_COEF or q.max() > MAX_COEF):  # not np.abs: it wraps at int64's minimum
        raise FormatError("transform coefficient out of range")
    return q


def _contexts_coded(rec: dict, read: Callable[[str], bytes], shape: tuple[int, ...], step: float,
                    kernels: ModuleType | None, dtype: type = np.float64) -> np.ndarray:
    """The coefficients of a 1.15 block (by level and context, ``dct_contexts``), times ``step``."""
    lv = _read_levels(read, envelope_sizes(shape).size)
    return read_coefficients(read, lv, shape, tuple(envelope_cut(shape)), read_scheme(rec), step, MAX_COEF,
                             kernels, dtype)


def _decode_compiled(kernels: ModuleType, drec: dict, read: Callable[[str], bytes], shape: tuple[int, ...],
                     step: float, half: float, dtype: np.dtype, f32: bool) -> np.ndarray:
    """``decode_dct`` by the compiled passes (``transform_kernels``): the same values, fewer passes over memory."""
    ctype = np.float32 if f32 else np.float64  # the kernels round each float64 product to it, as astype would
    if "dct_ctx" in drec and read_scheme(drec) != (0, 0):
        coef = _contexts_coded(drec, read, shape, step, kernels, ctype)
    else:  # by envelope block, no context: 1.14's streams (named cc<level> from 1.15), and its faster kernel
        lv, values, starts = _level_streams(read, shape, "cc" if "dct_ctx" in drec else "c")
        coef = np.empty(math.prod(shape), dtype=ctype)
        if not kernels.ungroup_scaled(lv, np.array(shape, dtype=np.int64), envelope_cut(shape), values, starts,
                                      step, MAX_COEF, coef):
            raise FormatError("transform coefficient out of range")
    rec = _transform(coef.reshape(shape), inverse=True, overwrite=True).ravel()
    n = rec.size
    k = read_corrections(drec, read, n)
    zero = decode_ints(read("z"), n, narrow=True) if drec.get("dct_zeros") is True else np.zeros(0, dtype=np.int8)
    out = np.empty(n, dtype=dtype)
    if not kernels.rebuild(rec, k, 2 * half, zero, zero.size > 0, MAX_COEF, out):
        raise FormatError("transform correction out of range")
    return out


def misses(x: np.ndarray, out: np.ndarray, tol: float, f32: bool = False, top: float | None = None) -> np.ndarray:
    """Positions of the values outside ``tol`` less the margin (a float32 inverse's where ``f32``; ``top``:
    ``peak(x)`` where known), or of zeros whose sign differs."""
    limit = tol - margin(x, tol, f32, top)
    kernels = jit.module("transform_kernels") if jit.active() else None
    if kernels is not None:
        return kernels.misses(x.ravel(), out.ravel(), limit)
    diff = np.abs(out.astype(np.float64).ravel() - x.astype(np.float64).ravel())
    bad = ~(diff <= limit)
    zeros = x.ravel() == 0
    if zeros.any():
        bad |= zeros & (np.signbit(x.ravel()) != np.signbit(out.ravel()))
    return np.flatnonzero(bad)


def decode_dct(rec: dict, read: Callable[[str], bytes], shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Rebuild a ``dct`` block (before its exceptions)."""
    step, half = rec.get("dct_step"), rec.get("dct_half")
    if not all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in (step, half)):
        raise FormatError("transform block record malformed (dct_step, dct_half)")
    if max(shape) > MAX_AXIS:
        raise FormatError(f"transform block shape {shape} has an axis longer than {MAX_AXIS}")
    f32 = rec.get("dct_f32", False)
    if f32 is not True and f32 is not False:
        raise FormatError(f"transform block record malformed (dct_f32 {f32!r})")
    kernels = jit.module("transform_kernels") if jit.active() else None
    if kernels is not None:
        return _decode_compiled(kernels, rec, read, shape, step, half, np.dtype(dtype), f32)
    n = math.prod(shape)
    coef = _contexts_coded(rec, read, shape, step, None) if "dct_ctx" in rec else _coefficients(read, shape) * step
    k = read_corrections(rec, read, n)
    if k.size and (k.min() < -MAX_COEF or k.max() > MAX_COEF):
        raise FormatError("transform correction out of range")
    zero = decode_ints(read("z"), n) if rec.get("dct_zeros") is True else None
    with np.errstate(over="ignore", invalid="ignore"):
        return _rebuild(_back(coef, shape, f32), k, half, zero, np.dtype(dtype))


def _encode(b: GridBlock, variants: tuple | None = None) -> list[Candidate]:
    factors = None if variants is None else tuple(v if isinstance(v, tuple) else int(v) for v in variants)
    top = peak(b.x)
    got = encode_dct(b.x, b.shape, b.tol, b.entropy, b.level, factors, top) if b.tol > 0 else None
    cands = []
    for drec, dstreams, out, index in got or []:
        idx = misses(b.x, out, b.tol, drec.get("dct_f32", False), top)
        cands.append(({**drec, "n_exceptions": int(idx.size)}, {**exception_streams(b.x, idx, b.level), **dstreams},
                      index))
    return cands


def _decode(rec: dict, read: Callable[[str], bytes], n: int, dtype: np.dtype) -> np.ndarray:
    return decode_dct(rec, read, block_shape(rec, "dct", n), dtype)


PREDICTOR = Predictor("dct", ("dct",), _encode, _decode)
