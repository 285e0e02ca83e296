"""The transform coder's quantization (``predictors.dct``): coefficients to indices with a dead zone per envelope
block, chosen by the block's level after a first pass, and the envelope levels of indices."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from baler_core.coding.predictors.dct_corrections import MAX_COEF
from baler_core.coding.predictors.dct_envelope import MAX_LEVEL, envelope_cut, envelope_ids, envelope_sizes

# Dead zones by envelope level, (level, dead zone) points interpolated linearly: the sparse groups of high
# frequencies round harder towards zero (a coefficient there costs many bits, its error is spread over every
# value and the corrections catch the few values it pushes out), the dense ones nearly to nearest. Against one
# dead zone of 0.1 at step 2.2 and none at 2.9: turbulence -1.8 % (the throughput field), -0.9 % (campaign files
# not tuned on), 3-D turbulence -1.3 %; wakes -1.4 % (tuned on) and -0.4 % (other windows, and the square flow)
DEAD_BY_LEVEL = ((4, 0.3), (9, 0.05), (12, 0.0))
# (coefficient step / correction half-width, dead zone) tried, the smaller file kept. Best measured: step 2.3 on
# decaying turbulence, 2.6-3.0 on the laminar flow past a square
STEP_FACTORS: tuple[tuple[float, float | tuple], ...] = ((2.2, DEAD_BY_LEVEL), (2.9, DEAD_BY_LEVEL))
FIRST_DEAD = 0.1  # the dead zone of the first pass, whose envelope levels choose each block's dead zone


def levels(q: np.ndarray, ids: np.ndarray, count: int) -> np.ndarray:
    """Envelope level per block: twice the log2 of the RMS of its quantized coefficients, 0 for (nearly) zero."""
    return level_of(np.bincount(ids, weights=np.square(q, dtype=np.float64), minlength=count)
                    / np.bincount(ids, minlength=count))


def level_of(ms: np.ndarray) -> np.ndarray:
    """Envelope levels from the blocks' mean squared indices."""
    with np.errstate(divide="ignore"):
        lv = np.rint(np.log2(np.maximum(ms, 2.0**-8))) + 8
    return np.clip(lv, 0, MAX_LEVEL).astype(np.int64)


def indices(coef: np.ndarray, step: float, dead: float | tuple, kernels: ModuleType | None,
            shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """The coefficients' grid indices (int64; compiled: int32 where they fit), rounded with a dead zone of ``dead``
    steps towards zero (or, for ``(level, dead zone)`` points, of each envelope block's level after a first pass
    at ``FIRST_DEAD``), in ``coef``'s dtype, and their envelope levels (``block_levels``); None where one exceeds
    the format's limit."""
    t = coef.dtype.type
    if kernels is None:
        if not isinstance(dead, tuple):
            qi = _rounded(coef, step, 0.5 - dead)
            return None if qi is None else (qi, block_levels(qi, shape, None))
        first = _rounded(coef, step, 0.5 - FIRST_DEAD)
        if first is None:
            return None
        offset = _dead_offsets(block_levels(first, shape, None), dead, t)
        del first
        qi = _rounded(coef, step, offset[envelope_ids(shape)[0]])
        return None if qi is None else (qi, block_levels(qi, shape, None))
    dims, cut = np.array(shape, dtype=np.int64), envelope_cut(shape)
    if not isinstance(dead, tuple):
        for dtype in (np.int32, np.int64):
            qi = np.empty(coef.size, dtype=dtype)
            status = kernels.quantize(coef, t(step), t(0.5 - dead), MAX_COEF, qi)
            if status != 2:
                return None if status else (qi, block_levels(qi, shape, kernels))
    # the first pass's envelope straight from the coefficients; the second's summed as it writes the indices
    energy, ok = kernels.quantized_energy(coef, t(step), t(0.5 - FIRST_DEAD), MAX_COEF, dims, cut)
    if not ok:
        return None
    offset = _dead_offsets(level_of(energy / envelope_sizes(shape)), dead, t)
    for dtype in (np.int32, np.int64):
        qi = np.empty(coef.size, dtype=dtype)
        energy = np.zeros(offset.size, dtype=np.float64)
        status = kernels.quantize_blocks(coef, t(step), offset, dims, cut, MAX_COEF, qi, energy)
        if status != 2:
            return None if status else (qi, level_of(energy / envelope_sizes(shape)))
    return None  # pragma: no cover - int64 holds every index within the limit


def _dead_offsets(levels: np.ndarray, dead: tuple, t: type) -> np.ndarray:
    """Each envelope block's rounding offset, ``0.5`` less its dead zone interpolated at its level."""
    xs, ys = zip(*dead)
    return (0.5 - np.interp(levels, xs, ys)).astype(t)


def _rounded(coef: np.ndarray, step: float, offset: float | np.ndarray) -> np.ndarray | None:
    """numpy's ``copysign(floor(|c| / step + offset), c)`` in ``coef``'s dtype (``offset`` one number, or one per
    coefficient in that dtype), as int64; None where a magnitude exceeds the format's limit."""
    q = np.abs(coef)
    q /= step
    q += offset
    np.floor(q, out=q)
    if not q.max() <= MAX_COEF:
        return None
    np.copysign(q, coef, out=q)
    return q.astype(np.int64)


def block_levels(q: np.ndarray, shape: tuple[int, ...], kernels: ModuleType | None) -> np.ndarray:
    """Each envelope block's level (``levels``; compiled where ``kernels``)."""
    if kernels is not None:
        cut = envelope_cut(shape)
        return level_of(kernels.envelope_energy(q, np.array(shape, dtype=np.int64), cut) / envelope_sizes(shape))
    ids, count = envelope_ids(shape)
    return levels(q, ids, count)
