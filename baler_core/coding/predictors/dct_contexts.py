"""Coefficient contexts of the transform coder (format 1.15, ``dct_ctx`` in a block's record).

Up to 1.14 a coefficient was coded in the group of its envelope block's level, a step function of position. From
1.15 its group is the envelope levels interpolated multilinearly between the envelope blocks' centres (integer
arithmetic, so both sides agree exactly), times a context of the magnitudes of the coefficients before it: the
previous one along axis 0 (time, for a field's frames: a mode's amplitude changes slowly, so its neighbouring
temporal frequencies are alike), capped at ``caps[0]``, and the sum of the previous ones along the other axes,
capped at ``caps[1]``. Each block keeps the caps of ``CAPS`` whose streams are estimated smallest (small blocks
pay for the groups' tables and keep fewer contexts).

A context depends on coefficients decoded before, so where a block has contexts its streams hold the values in
order of the sum of their coordinates (then C order): every coefficient a context reads lies on an earlier such
hyperplane, and numpy decodes a hyperplane at once (a few hundred steps a block), the compiled kernel one by one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType

import numpy as np

from baler_core.coding.entropy import decode_ints
from baler_core.coding.predictors.base import Pending, Streams, coded, estimated_size
from baler_core.errors import FormatError

# (cap along axis 0, cap along the others, levels interpolated) tried per block, the smallest kept
CAPS: tuple[tuple[int, int, int], ...] = ((0, 0, 0), (0, 0, 1), (3, 0, 0), (3, 0, 1), (0, 2, 1), (3, 2, 1))
MAX_CAP = 15  # readers refuse larger caps
ESTIMATE_RUNOFF = 1.02  # schemes estimated within 2 % of the smallest are coded to choose
MAX_LEVEL = 100  # envelope levels lie in 0..MAX_LEVEL


def interpolated_levels(lv: np.ndarray, shape: tuple[int, ...], cut: tuple[int, ...]) -> np.ndarray:
    """Each coefficient's envelope level interpolated multilinearly between the envelope blocks' centres (blocks
    ``cut`` long along each axis, levels ``lv`` in C order), rounded half up (int16). Exact integers: along an axis
    of block length ``c`` a position lies ``2p + 1 - c`` half-steps of ``1 / 2c`` from the first centre."""
    nbs = [-(-n // c) for n, c in zip(shape, cut)]
    acc = lv.astype(np.int64).reshape(nbs)
    denom = 1
    for axis, (n, c, nb) in enumerate(zip(shape, cut, nbs)):
        num = 2 * np.arange(n, dtype=np.int64) + 1 - c
        j0 = np.clip(num // (2 * c), 0, nb - 1)
        frac = np.where((num < 0) | (j0 >= nb - 1), 0, num - 2 * c * j0)
        j1 = np.minimum(j0 + 1, nb - 1)
        view = [1] * len(shape)
        view[axis] = n
        acc = (np.take(acc, j0, axis=axis) * (2 * c - frac).reshape(view)
               + np.take(acc, j1, axis=axis) * frac.reshape(view))
        denom *= 2 * c
    return ((2 * acc + denom) // (2 * denom)).astype(np.int16).ravel()


def contexts(q: np.ndarray, shape: tuple[int, ...], caps: tuple[int, int]) -> np.ndarray:
    """Each coefficient's context (int16): ``min(|previous along axis 0|, caps[0]) * (caps[1] + 1) + min(sum of
    |previous| along the other axes, caps[1])``, 0 on the block's first planes."""
    pc, sc = caps
    a = np.abs(q.reshape(shape))
    ctx = np.zeros(shape, dtype=np.int16)
    if sc:
        s = np.zeros(shape, dtype=np.int16)
        clipped = np.minimum(a, sc).astype(np.int16)
        for axis in range(1, len(shape)):
            _add_previous(s, clipped, axis)
        np.minimum(s, sc, out=s)
        ctx += s
    if pc and shape[0] > 1:
        p = np.zeros(shape, dtype=np.int16)
        _add_previous(p, np.minimum(a, pc).astype(np.int16), 0)
        ctx += p * np.int16(sc + 1)
    return ctx.ravel()


def _add_previous(out: np.ndarray, a: np.ndarray, axis: int) -> None:
    """``out[..., i, ...] += a[..., i - 1, ...]`` along ``axis``."""
    dst = [slice(None)] * a.ndim
    src = [slice(None)] * a.ndim
    dst[axis], src[axis] = slice(1, None), slice(None, -1)
    out[tuple(dst)] += a[tuple(src)]


def wave_order(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Positions (C order) by the sum of their coordinates, then C order, and where each sum's run begins (one
    more entry: the end)."""
    d = np.zeros((1,) * len(shape), dtype=np.int16)  # sums < 4 * 1024 (dct.MAX_AXIS): 16 bits, a radix sort
    for axis, n in enumerate(shape):
        d = d + np.arange(n, dtype=np.int16).reshape([-1 if a == axis else 1 for a in range(len(shape))])
    d = np.broadcast_to(d, shape).ravel()
    bounds = np.concatenate([[0], np.cumsum(np.bincount(d))])
    return np.argsort(d, kind="stable"), bounds


def coefficient_streams(q: np.ndarray, lv: np.ndarray, shape: tuple[int, ...], cut: tuple[int, ...], entropy: str,
                        level: int) -> tuple[tuple[int, int], Streams]:
    """The caps kept (the smallest estimate of ``CAPS``) and the coefficient streams: ``cc<key>`` per group in
    stream order, ``cn`` the groups' counts (where there are contexts)."""
    tried = sorted(((estimated_size(streams), i, caps, streams)
                    for i, (caps, streams) in enumerate(_streams(q, lv, shape, cut, caps, entropy, level)
                                                        for caps in CAPS)), key=lambda t: t[:2])
    # the estimates leave out zstd, which codes short streams smaller: the close ones are coded to choose
    close = [(caps, coded(streams)) for size, _, caps, streams in tried if size <= tried[0][0] * ESTIMATE_RUNOFF]
    return min(close, key=lambda c: sum(map(len, c[1].values())))


def levels_of(lv: np.ndarray, shape: tuple[int, ...], cut: tuple[int, ...], interpolated: int) -> np.ndarray:
    """Each coefficient's level (int16): interpolated (``interpolated_levels``) or its envelope block's."""
    if interpolated:
        return interpolated_levels(lv, shape, cut)
    ids = np.zeros((1,) * len(shape), dtype=np.int64)
    for axis, (n, c) in enumerate(zip(shape, cut)):
        along = (np.arange(n) // c).reshape([-1 if a == axis else 1 for a in range(len(shape))])
        ids = ids * -(-n // c) + along
    return lv.astype(np.int16)[np.broadcast_to(ids, shape).ravel()]


def _streams(q: np.ndarray, lv: np.ndarray, shape: tuple[int, ...], cut: tuple[int, ...], caps: tuple[int, ...],
             entropy: str, level: int) -> tuple[tuple[int, ...], Streams]:
    i1 = levels_of(lv, shape, cut, caps[2])
    present = np.flatnonzero(np.bincount(i1, minlength=MAX_LEVEL + 1))
    nctx = (caps[0] + 1) * (caps[1] + 1)
    keys = i1 if nctx == 1 else i1 * np.int16(nctx) + contexts(q, shape, caps[:2])
    if nctx > 1:
        perm, _ = wave_order(shape)
        keys, q = keys[perm], q[perm]
        del perm
    order = np.argsort(keys, kind="stable")
    counts = np.bincount(keys, minlength=(MAX_LEVEL + 1) * nctx)
    values = q[order]
    del order, keys
    streams: Streams = {}
    if nctx > 1:
        streams["cn"] = Pending(counts.reshape(-1, nctx)[present].ravel(), entropy, level)
    used = np.flatnonzero(counts)
    for key, part in zip(used, np.split(values, np.cumsum(counts[used])[:-1])):
        streams[f"cc{int(key)}"] = Pending(part, entropy, level)
    return caps, streams


def read_caps(rec: dict) -> tuple[int, int, int]:
    """A record's ``dct_ctx``, validated."""
    caps = rec.get("dct_ctx")
    if not (isinstance(caps, list) and len(caps) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= MAX_CAP for c in caps)
            and caps[2] in (0, 1)):
        raise FormatError(f"transform block record malformed (dct_ctx {caps!r})")
    return caps[0], caps[1], caps[2]


def read_coefficients(read: Callable[[str], bytes], lv: np.ndarray, shape: tuple[int, ...], cut: tuple[int, ...],
                      caps: tuple[int, int, int], limit: int, kernels: ModuleType | None) -> np.ndarray:
    """The coefficient indices (int64, C order) of a block coded with contexts ``caps`` (``coefficient_streams``);
    ``FormatError`` where the streams disagree with the levels or an index lies beyond +-``limit``."""
    n = math.prod(shape)
    i1 = levels_of(lv, shape, cut, caps[2])
    per_level = np.bincount(i1, minlength=MAX_LEVEL + 1)
    present = np.flatnonzero(per_level)
    nctx = (caps[0] + 1) * (caps[1] + 1)
    counts = np.zeros((MAX_LEVEL + 1) * nctx, dtype=np.int64)
    if nctx > 1:
        cn = decode_ints(read("cn"), present.size * nctx).reshape(-1, nctx)
        if cn.size and (cn.min() < 0 or not np.array_equal(cn.sum(axis=1), per_level[present])):
            raise FormatError("transform context counts disagree with the envelope")
        counts.reshape(-1, nctx)[present] = cn
    else:
        counts[: per_level.size] = per_level
    used = np.flatnonzero(counts)
    values = np.concatenate([decode_ints(read(f"cc{int(k)}"), int(counts[k])) for k in used]) if used.size else \
        np.zeros(0, dtype=np.int64)
    if values.size and (values.min() < -limit or values.max() > limit):  # not np.abs: it wraps at int64's minimum
        raise FormatError("transform coefficient out of range")
    ends = np.cumsum(counts)
    starts = ends - counts
    if nctx == 1:
        q = np.empty(n, dtype=np.int64)
        q[np.argsort(i1, kind="stable")] = values
        return q
    if kernels is not None:
        padded = np.array((1,) * (4 - len(shape)) + tuple(shape), dtype=np.int64)
        q, ok = kernels.ungroup_contexts(i1, padded, 4 - len(shape), caps[0], caps[1], values, starts, ends)
    else:
        q, ok = _ungroup_waves(i1, shape, caps[:2], values, starts, ends)
    if not ok:
        raise FormatError("transform context counts disagree with the coefficients' contexts")
    return q


def _ungroup_waves(i1: np.ndarray, shape: tuple[int, ...], caps: tuple[int, int], values: np.ndarray,
                   starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, bool]:
    """numpy's way: one hyperplane of equal coordinate sums at a time (its contexts read earlier ones only);
    False where a group's run is shorter than the coefficients of its key."""
    pc, sc = caps
    perm, bounds = wave_order(shape)
    strides = [math.prod(shape[a + 1:]) for a in range(len(shape))]
    q = np.zeros(i1.size, dtype=np.int64)
    pos = starts.copy()
    for b0, b1 in zip(bounds[:-1], bounds[1:]):
        idx = perm[b0:b1]
        coords = np.unravel_index(idx, shape)
        ctx = np.zeros(idx.size, dtype=np.int64)
        if sc:
            for axis in range(1, len(shape)):
                has = coords[axis] > 0
                ctx += np.where(has, np.minimum(np.abs(q[idx - strides[axis] * has]), sc), 0)
            np.minimum(ctx, sc, out=ctx)
        if pc:
            ctx += (sc + 1) * np.where(coords[0] > 0, np.minimum(np.abs(q[idx - strides[0] * (coords[0] > 0)]), pc), 0)
        key = i1[idx].astype(np.int64) * ((pc + 1) * (sc + 1)) + ctx
        order = np.argsort(key, kind="stable")
        sk = key[order]
        first = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        rank = np.arange(sk.size) - np.repeat(first, np.diff(np.r_[first, sk.size]))
        src = pos[sk] + rank
        if (src >= ends[sk]).any():
            return q, False
        q[idx[order]] = values[src]
        pos += np.bincount(key, minlength=pos.size)
    return q, True
