"""Coefficient contexts of the transform coder (format 1.15, ``dct_ctx`` in a block's record).

Up to 1.14 a coefficient was coded in the group of its envelope block's level, a step function of position. From
1.15 a block may take the envelope levels interpolated multilinearly between the envelope blocks' centres
(integer arithmetic, so both sides agree exactly), and may split each level's group by a context: the magnitude
of the coefficient before it along axis 0 (time, for a field's frames: a mode's amplitude changes slowly, so
neighbouring temporal frequencies are alike), capped. Each block keeps the scheme of ``SCHEMES`` whose streams are
smallest (small blocks pay for more groups' tables and keep fewer).

A context reads the previous plane along axis 0 only, so the streams stay in C order: the compiled kernel decodes
coefficient by coefficient, numpy a plane at a time. (Contexts of the neighbours within a plane were tried too:
their groups' tables cost more than they saved on every field measured.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType

import numpy as np

from baler_core.coding.entropy import decode_ints
from baler_core.coding.estimates import estimate_counted, estimate_groups, merged
from baler_core.coding.predictors.base import Pending, Streams, coded, estimated_size
from baler_core.coding.predictors.dct_envelope import MAX_LEVEL, envelope_ids, envelope_sizes
from baler_core.errors import FormatError

# (cap on the previous magnitude along axis 0, levels interpolated) tried per block, the smallest kept
SCHEMES: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (3, 0), (3, 1))
MAX_CAP = 15  # readers refuse larger caps
BATCH_BELOW = 1 << 14  # streams of fewer values than this on average have their estimates made together


def interpolated_levels(lv: np.ndarray, shape: tuple[int, ...], cut: tuple[int, ...],
                        kernels: ModuleType | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each coefficient's envelope level interpolated multilinearly between the envelope blocks' centres (blocks
    ``cut`` long along each axis, levels ``lv`` in C order), rounded half up (int16), and each level's count.
    Exact integers: along an axis of block length ``c`` a position lies ``2p + 1 - c`` half-steps of ``1 / 2c``
    from the first centre. The axes after the first are interpolated first (a small array), axis 0 last
    (compiled where ``kernels``)."""
    nbs = [-(-n // c) for n, c in zip(shape, cut)]
    acc = lv.astype(np.int64).reshape(nbs)
    denom = 1
    for axis in range(len(shape) - 1, 0, -1):
        j0, j1, w0, w1 = _weights(shape[axis], cut[axis], nbs[axis])
        view = [1] * len(shape)
        view[axis] = shape[axis]
        acc = np.take(acc, j0, axis=axis) * w0.reshape(view) + np.take(acc, j1, axis=axis) * w1.reshape(view)
        denom *= 2 * cut[axis]
    j0, j1, w0, w1 = _weights(shape[0], cut[0], nbs[0])
    denom *= 2 * cut[0]
    rows = acc.reshape(nbs[0], -1)
    if kernels is not None:
        return kernels.interpolate_rows(rows, j0, j1, w0, w1, denom, MAX_LEVEL)
    full = rows[j0] * w0[:, None] + rows[j1] * w1[:, None]
    lev = ((2 * full + denom) // (2 * denom)).astype(np.int16).ravel()
    return lev, np.bincount(lev, minlength=MAX_LEVEL + 1)


def _weights(n: int, c: int, nb: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Along one axis: each position's two envelope blocks and their integer weights (summing to ``2c``)."""
    num = 2 * np.arange(n, dtype=np.int64) + 1 - c
    j0 = np.clip(num // (2 * c), 0, nb - 1)
    frac = np.where((num < 0) | (j0 >= nb - 1), 0, num - 2 * c * j0)
    return j0, np.minimum(j0 + 1, nb - 1), 2 * c - frac, frac


def contexts(q: np.ndarray, inner: int, cap: int) -> np.ndarray:
    """Each coefficient's context (int16): ``min(|the coefficient one plane before along axis 0|, cap)``, 0 on
    the first plane (``inner`` coefficients)."""
    ctx = np.zeros(q.size, dtype=np.int16)
    if q.size > inner:
        ctx[inner:] = np.minimum(np.abs(q[:-inner]), cap)
    return ctx


def coefficient_streams(q: np.ndarray, lv: np.ndarray, shape: tuple[int, ...], cut: tuple[int, ...], entropy: str,
                        level: int, kernels: ModuleType | None = None,
                        scheme: tuple[int, int] | None = None) -> tuple[tuple[int, int], Streams]:
    """The scheme kept and its coefficient streams: ``cc<key>`` per group in C order, ``cn`` the groups' counts
    (where there are contexts). The levels without contexts first (by envelope block or interpolated, whichever
    is estimated smaller), then those levels with contexts (``SCHEMES``). Under entropy ``auto`` zstd may code
    streams smaller than the estimates say (a quarter on a laminar flow, and not alike for every scheme): there
    the schemes are coded to choose. A ``scheme`` chosen on the grid's sample of a large block fixes the levels,
    and the contexts where it has them (the sample, an eighth of the block, pays eight times as much for the
    groups' tables: it keeps contexts less often than the block would)."""
    levels: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # by interpolated: the schemes of one levels share them

    def grouped(scheme: tuple[int, int]) -> Streams:
        if scheme[1] not in levels:
            levels[scheme[1]] = levels_of(lv, shape, cut, scheme[1], kernels)
        return _streams(q, *levels[scheme[1]], shape, scheme, entropy, level, kernels)

    if scheme is not None and scheme[0]:
        return scheme, grouped(scheme)

    def run(scheme: tuple[int, int]) -> tuple[int, tuple[int, int], Streams]:
        streams = grouped(scheme)
        return estimated_size(streams), scheme, streams

    if scheme is not None and entropy != "auto":  # a sample's levels: the plain groups only where they win
        runs = [run(s) for s in SCHEMES if s[0] and s[1] == scheme[1]]
        if runs:
            plain = _plain_size(runs[0][2], runs[0][1][0] + 1, q, levels[scheme[1]][0], entropy, level)
            size, kept, streams = min(runs, key=lambda t: t[0])  # the first of equals, as below
            return (scheme, grouped(scheme)) if plain <= size else (kept, streams)
    tried = [run(s) for s in SCHEMES if not s[0] and (scheme is None or s == scheme)]
    interp = min(tried, key=lambda t: t[0])[1][1] if tried else None
    tried += [run(scheme) for scheme in SCHEMES if scheme[0] and interp in (None, scheme[1])]
    best = min(size for size, _, _ in tried)
    if entropy != "auto":  # no zstd: the estimates hold
        return next((scheme, streams) for size, scheme, streams in tried if size == best)
    # the kept streams stay pending: the grid compares them with other predictors' by estimate, as theirs
    _, scheme, streams = min(((sum(map(len, coded(streams).values())), scheme, streams)
                              for _, scheme, streams in tried), key=lambda c: c[0])
    return scheme, streams


def _plain_size(streams: Streams, nctx: int, q: np.ndarray, lev: np.ndarray, entropy: str, level: int) -> int:
    """The estimated size of the same levels' streams without contexts, from a context scheme's (``cc<level *
    nctx + context>``; the coefficients ``q`` of levels ``lev``): each level's histogram merged from its contexts'
    (the estimates read histograms only, so the numbers are those of the plain groups themselves), and where a
    level's estimate needs its values (hybrid tokens), those values picked from ``q`` in order."""
    by_level: dict[int, list[Pending]] = {}
    for name, stream in streams.items():
        if name.startswith("cc") and isinstance(stream, Pending):
            by_level.setdefault(int(name[2:]) // nctx, []).append(stream)
    total, wanted = 0, []
    for key, parts in by_level.items():
        size = estimate_counted(sum(p.values.size for p in parts), merged([p.counted() for p in parts]), entropy,
                                level)
        if size is None:
            wanted.append(key)
        else:
            total += size
    if wanted:  # one pass picks every such level's coefficients, in C order
        at = np.flatnonzero(np.isin(lev, wanted))
        picked, picked_lev = q[at], lev[at]
        total += sum(Pending(picked[picked_lev == key], entropy, level).size() for key in wanted)
    return total


def levels_of(lv: np.ndarray, shape: tuple[int, ...], cut: tuple[int, ...], interpolated: int,
              kernels: ModuleType | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each coefficient's level (int16): interpolated (``interpolated_levels``) or its envelope block's; and
    each level's count."""
    if interpolated:
        return interpolated_levels(lv, shape, cut, kernels)
    per_level = np.bincount(lv, envelope_sizes(shape), MAX_LEVEL + 1).astype(np.int64)
    return lv.astype(np.int16)[envelope_ids(shape)[0]], per_level


def _streams(q: np.ndarray, lev: np.ndarray, per_level: np.ndarray, shape: tuple[int, ...], scheme: tuple[int, int],
             entropy: str, level: int, kernels: ModuleType | None) -> Streams:
    """``scheme``'s streams of the coefficients ``q`` whose levels are ``lev`` (``levels_of``: and each level's
    count, ``per_level``)."""
    cap = scheme[0]
    present = np.flatnonzero(per_level)
    nctx = cap + 1
    if kernels is not None:
        values, counts = kernels.group_contexts(lev, q, math.prod(shape[1:]), cap, (MAX_LEVEL + 1) * nctx)
    else:
        keys = lev * np.int16(nctx) + contexts(q, math.prod(shape[1:]), cap) if cap else lev
        order = np.argsort(keys, kind="stable")  # 16-bit keys: numpy's radix sort
        counts = np.bincount(keys, minlength=(MAX_LEVEL + 1) * nctx)
        values = q[order]
        del order, keys
    streams: Streams = {}
    if nctx > 1:
        streams["cn"] = Pending(counts.reshape(-1, nctx)[present].ravel(), entropy, level)
    used = np.flatnonzero(counts)
    ends = np.cumsum(counts[used])
    # short streams' estimates in one call (their Python overhead outweighs their passes); long ones plan one by
    # one, and the plan of those coded is kept for their coding
    batch = used.size and values.size < BATCH_BELOW * used.size
    sizes = (estimate_groups(values, ends, entropy, level) if batch else None) or [None] * used.size
    for key, part, size in zip(used, np.split(values, ends[:-1]), sizes):
        streams[f"cc{int(key)}"] = Pending(part, entropy, level, estimate=size)
    return streams


def read_scheme(rec: dict) -> tuple[int, int]:
    """A record's ``dct_ctx`` (cap, interpolated), validated."""
    scheme = rec.get("dct_ctx")
    if not (isinstance(scheme, list) and len(scheme) == 2
            and all(isinstance(c, int) and not isinstance(c, bool) for c in scheme)
            and 0 <= scheme[0] <= MAX_CAP and scheme[1] in (0, 1)):
        raise FormatError(f"transform block record malformed (dct_ctx {scheme!r})")
    return scheme[0], scheme[1]


def read_coefficients(read: Callable[[str], bytes], lv: np.ndarray, shape: tuple[int, ...], cut: tuple[int, ...],
                      scheme: tuple[int, int], step: float, limit: int, kernels: ModuleType | None,
                      dtype: type = np.float64) -> np.ndarray:
    """The coefficients (indices times ``step`` in float64, then ``dtype``; C order) of a block coded under ``scheme``
    (``coefficient_streams``); ``FormatError`` where the streams disagree with the levels or an index lies
    beyond +-``limit``."""
    cap, interp = scheme
    lev, per_level = levels_of(lv, shape, cut, interp, kernels)
    present = np.flatnonzero(per_level)
    nctx = cap + 1
    counts = np.zeros((MAX_LEVEL + 1) * nctx, dtype=np.int64)
    if nctx > 1:
        cn = decode_ints(read("cn"), present.size * nctx).reshape(-1, nctx)
        if cn.size and (cn.min() < 0 or not np.array_equal(cn.sum(axis=1), per_level[present])):
            raise FormatError("transform context counts disagree with the envelope")
        counts.reshape(-1, nctx)[present] = cn
    else:
        counts[: per_level.size] = per_level
    used = np.flatnonzero(counts)
    values = np.concatenate([decode_ints(read(f"cc{int(k)}"), int(counts[k]), narrow=True) for k in used]) \
        if used.size else np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    starts = ends - counts
    inner = math.prod(shape[1:])
    if kernels is not None:
        coef = np.empty(lev.size, dtype=dtype)
        status = kernels.ungroup_contexts(lev, inner, cap, values, starts, ends, step, limit, coef)
    else:
        if values.size and (values.min() < -limit or values.max() > limit):  # not np.abs: it wraps at the minimum
            raise FormatError("transform coefficient out of range")
        q, ok = _ungroup_planes(lev, inner, cap, values, starts, ends)
        coef, status = (q * step).astype(dtype, copy=False), 0 if ok else 2
    if status == 2:
        raise FormatError("transform context counts disagree with the coefficients' contexts")
    if status == 1:
        raise FormatError("transform coefficient out of range")
    return coef


def _ungroup_planes(lev: np.ndarray, inner: int, cap: int, values: np.ndarray, starts: np.ndarray,
                    ends: np.ndarray) -> tuple[np.ndarray, bool]:
    """numpy's way: a plane along axis 0 at a time (its contexts read the plane before); False where a group's
    run is shorter than the coefficients of its key."""
    q = np.zeros(lev.size, dtype=np.int64)
    pos = starts.copy()
    for s0 in range(0, lev.size, max(inner, 1)) if cap else [0]:
        s1 = min(s0 + inner, lev.size) if cap else lev.size
        key = lev[s0:s1].astype(np.int64) * (cap + 1)
        if cap and s0:
            key += np.minimum(np.abs(q[s0 - inner:s1 - inner]), cap)
        order = np.argsort(key, kind="stable")
        sk = key[order]
        first = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        rank = np.arange(sk.size) - np.repeat(first, np.diff(np.r_[first, sk.size]))
        src = pos[sk] + rank
        if (src >= ends[sk]).any():
            return q, False
        q[s0 + order] = values[src]
        pos += np.bincount(key, minlength=pos.size)
    return q, True
