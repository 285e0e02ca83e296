"""The dither offsets (``predictors.base.dither_offsets``) computed in one compiled pass (numba, the GIL
released): numpy's PCG64 (PCG XSL RR 128/64: a 128-bit LCG whose two halves are xor-folded and rotated)
reproduced bit for bit from the generator's seeded state, and each 64-bit output turned into an offset in
[-0.5, 0.5) as numpy would (top 53 bits times 2^-53, minus a half), written in the output's dtype.

Why: numpy draws the raw words and then converts them in four more passes over the array; decoding a column
without a model spent a fifth of its time there. ``tests/test_dither.py`` checks the kernel against numpy.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341  # PCG's default 128-bit multiplier
_MUL_HI = np.uint64(MULTIPLIER >> 64)
_MUL_LO = np.uint64(MULTIPLIER & 0xFFFFFFFFFFFFFFFF)
_M32 = np.uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True)
def _mulhi(a: np.uint64, b: np.uint64) -> np.uint64:
    """The high 64 bits of the 128-bit product ``a * b``."""
    a_lo, a_hi = a & _M32, a >> np.uint64(32)
    b_lo, b_hi = b & _M32, b >> np.uint64(32)
    p0, p1, p2 = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo
    mid = (p0 >> np.uint64(32)) + (p1 & _M32) + (p2 & _M32)
    return a_hi * b_hi + (p1 >> np.uint64(32)) + (p2 >> np.uint64(32)) + (mid >> np.uint64(32))


@njit(cache=True, nogil=True)
def _fill(s_hi: np.uint64, s_lo: np.uint64, i_hi: np.uint64, i_lo: np.uint64, out: np.ndarray) -> None:
    m_hi, m_lo = _MUL_HI, _MUL_LO
    for k in range(out.size):
        lo = s_lo * m_lo  # state = state * multiplier + increment, mod 2^128
        hi = _mulhi(s_lo, m_lo) + s_lo * m_hi + s_hi * m_lo
        s_lo = lo + i_lo
        s_hi = hi + i_hi + (np.uint64(1) if s_lo < lo else np.uint64(0))
        x = s_hi ^ s_lo
        rot = s_hi >> np.uint64(58)
        word = (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))
        out[k] = float(word >> np.uint64(11)) * 2.0**-53 - 0.5


def dither_offsets(seed: int, n: int, dtype: np.dtype) -> np.ndarray:
    """The same array as ``predictors.base.dither_offsets(seed, n, dtype)``."""
    state = np.random.PCG64(seed).state["state"]
    s, inc = int(state["state"]), int(state["inc"])
    out = np.empty(n, dtype=dtype)
    mask = (1 << 64) - 1
    _fill(np.uint64(s >> 64), np.uint64(s & mask), np.uint64(inc >> 64), np.uint64(inc & mask), out)
    return out
