"""Compiled joining of hybrid integer tokens with their raw low bits (numba, the GIL released): the values
``tokens.join_tokens`` gives, in two passes over the tokens instead of numpy's dozen (a mask, a bit unpacking
and a gather for every width of low bits).

The layout, for the reader of this file: a token below ``2**split`` is its value; above, it holds the value's
bit length ``e + 1`` (``e = split + (token - 2**split) >> msb``) and the ``msb`` bits below the leading one, and
``e - msb`` low bits follow raw. The low bits are grouped by their count, smallest count first, each group
starting on a byte and holding its values' fields in order, most significant bit first.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def join(tok: np.ndarray, blob: np.ndarray, pos: int, split: int, msb: int) -> tuple[np.ndarray, int, int]:
    """Zigzagged values (uint64) from ``tok`` and the low bits at ``blob[pos:]``, the position after them and a
    status: 1 where a token holds a value beyond 64 bits, 2 where the low bits run past the blob, else 0."""
    n = tok.size
    z = np.empty(n, dtype=np.uint64)
    base = np.int64(1) << split
    mask = (np.int64(1) << msb) - 1
    counts = np.zeros(64, dtype=np.int64)
    for i in range(n):
        t = np.int64(tok[i])
        if t >= base:
            e = split + ((t - base) >> msb)
            if e > 63:
                return z, pos, 1
            counts[e - msb] += 1
    cursor = np.zeros(64, dtype=np.int64)  # each width's next bit, from the blob's start
    end = pos
    for w in range(1, 64):
        if counts[w]:
            cursor[w] = 8 * end
            end += (counts[w] * w + 7) // 8
    if end > blob.size:
        return z, pos, 2
    for i in range(n):
        t = np.int64(tok[i])
        if t < base:
            z[i] = np.uint64(t)
            continue
        w = split + ((t - base) >> msb) - msb
        v = np.uint64((np.int64(1) << msb) | (t & mask)) << np.uint64(w)
        if w:
            b = cursor[w]
            cursor[w] = b + w
            acc = np.uint64(0)
            rem = w
            while rem:
                avail = 8 - (b & 7)
                take = min(avail, rem)
                bits = (np.int64(blob[b >> 3]) >> (avail - take)) & ((np.int64(1) << take) - 1)
                acc = (acc << np.uint64(take)) | np.uint64(bits)
                b += take
                rem -= take
            v |= acc
        z[i] = v
    return z, end, 0


@njit(cache=True, nogil=True)
def token_counts(x: np.ndarray, center: int, split: int, msb: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """For a size estimate of ``entropy``'s method 5 without building the tokens: how many values of ``x``
    take each token (``limit`` of them, ``tokens.token_limit``) of ``zigzag(x - center)``, and how many have
    each count of raw low bits (64). ``x - center`` must fit int64 (the caller checks)."""
    counts = np.zeros(limit, dtype=np.int64)
    widths = np.zeros(64, dtype=np.int64)
    small = np.uint64(1) << np.uint64(split)
    mask = np.uint64((1 << msb) - 1)
    for i in range(x.size):
        v = np.int64(x[i]) - center
        z = np.uint64(v << 1) ^ np.uint64(v >> 63)
        if z < small:
            counts[np.int64(z)] += 1
            continue
        e = 0  # the bit length of z, less one
        t = z
        for shift in (32, 16, 8, 4, 2, 1):
            if t >> np.uint64(shift):
                t >>= np.uint64(shift)
                e += shift
        nlow = e - msb
        top = np.int64((z >> np.uint64(nlow)) & mask)
        counts[(1 << split) + (e - split) * (1 << msb) + top] += 1
        widths[nlow] += 1
    return counts, widths
