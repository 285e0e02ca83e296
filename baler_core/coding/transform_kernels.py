"""Compiled passes of the transform coder (``predictors.dct``; numba, the GIL released), each giving the very
values of numpy's way (``tests/test_transform.py`` checks each against numpy). A coefficient's envelope block
is computed from its position (no id array), and runs of one block along the last axis go together.

Decoder:
- ``ungroup_contexts`` (1.15): the coefficients put back in place from their streams by level and context, one
  by one (numpy: a plane along axis 0 at a time); ``interpolate_rows``: the interpolated levels' last pass.
- ``ungroup_scaled`` (up to 1.14): transform coefficients put back in place from their per-level streams:
  coefficient ``i`` takes the next value of the stream of its envelope block's level, is range-checked and
  multiplied by the step. numpy needs an id per coefficient, a stable sort of every coefficient by level and a
  scattered write for the same (17 % of a turbulence field's decoding), then a check and a product.
- ``rebuild``: the inverse transform plus the corrections, cast to the output dtype, exact zeros put back, in one
  pass instead of four (numpy: ``rec + k * 2 half``, ``astype``, two masked writes).

Encoder: ``quantize`` (the coefficients' indices; ``quantize_blocks`` with a dead zone per envelope block,
``quantized_energy`` its first pass's envelope without the indices), ``scale32`` (indices to float32 coefficients),
``corrections`` (the values the inverse leaves outside the bound), ``envelope_energy`` (each envelope block's
sum of squares, numpy's ``bincount`` order) and ``group_contexts`` (1.15: the indices by level and context).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def ungroup_scaled(levels: np.ndarray, shape: np.ndarray, sizes: np.ndarray, values: np.ndarray,
                   starts: np.ndarray, step: float, limit: int, out: np.ndarray) -> bool:
    """``out[i] = values[p] * step`` (in float64, then ``out``'s type), ``p`` the next unread position of group
    ``levels[e]``, ``e`` the envelope block of position ``i`` of a C-ordered block of ``shape`` cut ``sizes`` long
    along each axis (in the order of ``dct_envelope.envelope_ids``), whose values begin at ``starts[group]`` in
    ``values`` (the groups' values concatenated); False where a value lies outside +-``limit``."""
    nbs, bstride = _block_strides(shape, sizes)
    inner_n, inner_size = shape[-1], sizes[-1]
    n = 1
    for a in range(shape.size):
        n *= shape[a]
    pos = starts.copy()
    ok = True
    i = 0
    for o in range(n // inner_n if inner_n else 0):
        base = _row_block(o, shape, sizes, bstride)
        for b in range(nbs[-1]):  # a run of one envelope block along the last axis: one group
            g = levels[base + b]
            p = pos[g]
            m = min(inner_size, inner_n - b * inner_size)
            for j in range(m):
                v = values[p + j]
                if v < -limit or v > limit:
                    ok = False
                out[i + j] = np.float64(v) * step
            pos[g] = p + m
            i += m
    return ok


@njit(cache=True, nogil=True)
def rebuild(rec: np.ndarray, k: np.ndarray, twice_half: float, zero: np.ndarray, has_zero: bool, limit: int,
            out: np.ndarray) -> bool:
    """``out = (rec + k * twice_half).astype(out.dtype)``, then ``out[zero == 1] = 0.0`` and ``out[zero == 2] =
    -0.0`` where ``has_zero``; False (``out`` incomplete) where a correction lies outside +-``limit``."""
    for i in range(rec.size):
        c = k[i]
        if c < -limit or c > limit:
            return False
        out[i] = rec[i] + np.float64(c) * twice_half
    if has_zero:
        for i in range(rec.size):
            if zero[i] == 1:
                out[i] = 0.0
            elif zero[i] == 2:
                out[i] = -0.0
    return True


@njit(cache=True, nogil=True)
def _block_strides(shape: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Envelope blocks along each axis and the stride of each axis in the block index."""
    nd = shape.size
    nbs = (shape + sizes - 1) // sizes
    bstride = np.ones(nd, dtype=np.int64)
    for a in range(nd - 2, -1, -1):
        bstride[a] = bstride[a + 1] * nbs[a + 1]
    return nbs, bstride


@njit(cache=True, nogil=True)
def _row_block(o: int, shape: np.ndarray, sizes: np.ndarray, bstride: np.ndarray) -> int:
    """The envelope block index of the first value of row ``o`` (a row runs along the last axis)."""
    base = 0
    r = o
    for a in range(shape.size - 2, -1, -1):
        ia = r % shape[a]
        r //= shape[a]
        base += (ia // sizes[a]) * bstride[a]
    return base


@njit(cache=True, nogil=True)
def envelope_energy(q: np.ndarray, shape: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each envelope block's sum of ``float64(q) ** 2``, summed in position order (as ``np.bincount``)."""
    return _energy(q, 1.0, 0.0, 0, shape, sizes, False)[0]


@njit(cache=True, nogil=True)
def quantized_energy(coef: np.ndarray, step: float, offset: float, limit: int, shape: np.ndarray,
                     sizes: np.ndarray) -> tuple[np.ndarray, bool]:
    """``envelope_energy`` of ``quantize``'s indices without writing them (the same sums, in the same order);
    False where a magnitude exceeds ``limit``."""
    return _energy(coef, step, offset, limit, shape, sizes, True)


@njit(cache=True, nogil=True)
def _energy(v: np.ndarray, step: float, offset: float, limit: int, shape: np.ndarray, sizes: np.ndarray,
            quantize: bool) -> tuple[np.ndarray, bool]:
    """The envelope blocks' sums of squares of ``v``, or of ``floor(|v| / step + offset)`` where ``quantize``."""
    nbs, bstride = _block_strides(shape, sizes)
    inner_n, inner_size, nbl = shape[-1], sizes[-1], nbs[-1]
    total = 1
    for a in range(shape.size):
        total *= nbs[a]
    acc = np.zeros(total, dtype=np.float64)
    i = 0
    for o in range(v.size // inner_n if inner_n else 0):
        base = _row_block(o, shape, sizes, bstride)
        for b in range(nbl):
            m = min(inner_size, inner_n - b * inner_size)
            e = acc[base + b]
            for j in range(m):
                if quantize:
                    a = np.floor(abs(v[i + j]) / step + offset)
                    if not a <= limit:
                        return acc, False
                    w = np.float64(a)
                else:
                    w = np.float64(v[i + j])
                e += w * w
            acc[base + b] = e
            i += m
    return acc, True


@njit(cache=True, nogil=True)
def quantize(coef: np.ndarray, step: float, offset: float, limit: int, out: np.ndarray) -> int:
    """``out = copysign(floor(|c| / step + offset), c)`` (int32 or int64), in ``coef``'s dtype (pass ``step`` and
    ``offset`` in it). Returns 0, or 1 where a magnitude exceeds ``limit``, or 2 where one exceeds what ``out``
    holds (the caller then passes an int64 ``out``)."""
    fits = np.float64(np.iinfo(out.dtype).max)
    status = 0
    for i in range(coef.size):
        c = coef[i]
        a = np.floor(abs(c) / step + offset)
        if not a <= limit:
            return 1
        if a > fits:
            status = 2
        out[i] = -a if c < 0 else a
    return status


@njit(cache=True, nogil=True)
def quantize_blocks(coef: np.ndarray, step: float, offsets: np.ndarray, shape: np.ndarray, sizes: np.ndarray,
                    limit: int, out: np.ndarray, energy: np.ndarray) -> int:
    """``quantize`` with the offset of each coefficient's envelope block (``offsets``, in ``coef``'s dtype; numpy:
    ``floor(|c| / step + offsets[ids])``); the same status. Adds each block's ``envelope_energy`` of the indices
    to ``energy`` (zeros; the same sums in the same order)."""
    nbs, bstride = _block_strides(shape, sizes)
    inner_n, inner_size, nbl = shape[-1], sizes[-1], nbs[-1]
    fits = np.float64(np.iinfo(out.dtype).max)
    status = 0
    i = 0
    for o in range(coef.size // inner_n if inner_n else 0):
        base = _row_block(o, shape, sizes, bstride)
        for b in range(nbl):
            offset = offsets[base + b]
            m = min(inner_size, inner_n - b * inner_size)
            e = energy[base + b]
            for j in range(m):
                c = coef[i + j]
                a = np.floor(abs(c) / step + offset)
                if not a <= limit:
                    return 1
                if a > fits:
                    status = 2
                out[i + j] = -a if c < 0 else a
                w = np.float64(a)
                e += w * w
            energy[base + b] = e
            i += m
    return status


@njit(cache=True, nogil=True)
def scale32(q: np.ndarray, step: float, out: np.ndarray) -> None:
    """``out = (q * step).astype(np.float32)``: the product in float64, rounded once."""
    for i in range(q.size):
        out[i] = np.float32(np.float64(q[i]) * step)


@njit(cache=True, nogil=True)
def corrections(x: np.ndarray, rec: np.ndarray, twice_half: float, limit: int, fits: int, out: np.ndarray) -> int:
    """``out = rint((x - rec) / twice_half)`` (float64 arithmetic), 0 where ``x`` is an exact zero. Returns 0, or 1
    where a magnitude exceeds ``limit``, or 2 where one exceeds ``fits`` (what ``out``'s dtype holds)."""
    for i in range(x.size):
        e = np.rint((np.float64(x[i]) - rec[i]) / twice_half)
        if not abs(e) <= limit:
            return 1
        if x[i] == 0:
            out[i] = 0
        elif abs(e) > fits:
            return 2
        else:
            out[i] = np.int64(e)
    return 0


@njit(cache=True, nogil=True)
def misses(x: np.ndarray, out: np.ndarray, limit: float) -> np.ndarray:
    """Positions where ``|float64(out) - float64(x)|`` is not within ``limit``, or where an exact zero of ``x``
    comes back with the other sign (numpy: ``predictors.dct.misses``)."""
    count = 0
    for p in range(2):
        idx = np.empty(count, dtype=np.int64)
        count = 0
        for i in range(x.size):
            v = x[i]
            bad = not abs(np.float64(out[i]) - np.float64(v)) <= limit
            if v == 0 and (math.copysign(1.0, v) < 0) != (math.copysign(1.0, out[i]) < 0):
                bad = True
            if bad:
                if p == 1:
                    idx[count] = i
                count += 1
    return idx


@njit(cache=True, nogil=True)
def ungroup_contexts(lev: np.ndarray, inner: int, cap: int, values: np.ndarray, starts: np.ndarray,
                     ends: np.ndarray, step: float, limit: int, out: np.ndarray) -> int:
    """``predictors.dct_contexts``' coefficients put back in place into ``out`` (C order), times ``step`` (in
    float64, then ``out``'s type): coefficient ``i`` takes the next value of the group of its level ``lev[i]``
    and context ``min(|q[i - inner]|, cap)`` (0 on the first plane; the plane before kept as contexts in a ring
    of ``inner``). Status 1 where a value lies beyond +-``limit``, 2 where a group's run (``starts`` to
    ``ends``) ends first, else 0."""
    n = lev.size
    pos = starts.copy()
    nctx = cap + 1
    ring = np.zeros(max(inner, 1), dtype=np.int64)
    j = 0
    status = 0
    for i in range(n):
        key = np.int64(lev[i]) * nctx + ring[j]
        at = pos[key]
        if at >= ends[key]:
            return 2
        v = values[at]
        pos[key] = at + 1
        if v < -limit or v > limit:
            status = 1
        if cap:
            ring[j] = min(abs(v), cap)
            j += 1
            if j == inner:
                j = 0
        out[i] = np.float64(v) * step
    return status


@njit(cache=True, nogil=True)
def interpolate_rows(rows: np.ndarray, j0: np.ndarray, j1: np.ndarray, w0: np.ndarray, w1: np.ndarray,
                     denom: int, top: int) -> tuple[np.ndarray, np.ndarray]:
    """The last step of ``dct_contexts.interpolated_levels``: along axis 0, ``(2 (rows[j0] w0 + rows[j1] w1) +
    denom) // (2 denom)`` for every position (int16, C order), in one pass, and how many take each level
    (``top + 1`` counts)."""
    n0, m = j0.size, rows.shape[1]
    out = np.empty(n0 * m, dtype=np.int16)
    counts = np.zeros(top + 1, dtype=np.int64)
    for a in range(n0):
        r0, r1, a0, a1 = j0[a], j1[a], w0[a], w1[a]
        for b in range(m):
            v = (2 * (rows[r0, b] * a0 + rows[r1, b] * a1) + denom) // (2 * denom)
            out[a * m + b] = v
            counts[v] += 1
    return out, counts


@njit(cache=True, nogil=True)
def group_contexts(lev: np.ndarray, q: np.ndarray, inner: int, cap: int,
                   n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """``q`` grouped by key ``lev[i] * (cap + 1) + min(|q[i - inner]|, cap)`` (0 on the first plane), each group
    in C order (numpy: a stable sort of the keys), and each key's count: a counting sort in two passes."""
    n = q.size
    nctx = cap + 1
    counts = np.zeros(n_keys, dtype=np.int64)
    for i in range(n):
        key = np.int64(lev[i]) * nctx
        if cap and i >= inner:
            key += min(abs(np.int64(q[i - inner])), cap)
        counts[key] += 1
    pos = np.empty(n_keys, dtype=np.int64)
    total = 0
    for k in range(n_keys):
        pos[k] = total
        total += counts[k]
    out = np.empty_like(q)
    for i in range(n):
        key = np.int64(lev[i]) * nctx
        if cap and i >= inner:
            key += min(abs(np.int64(q[i - inner])), cap)
        out[pos[key]] = q[i]
        pos[key] += 1
    return out, counts
