"""Compiled rANS coding and decoding (numba, the GIL released): ``constriction``'s stack coder with 32-bit words, 64-bit
state and 24-bit probabilities, and its fast quantization of float probabilities (``Categorical(probs,
perfect=False)``), reproduced bit for bit, so every stream either writes reads with either.

Why: constriction's decoder holds the GIL and reads about 40 M symbols/s; this one reads about 120 M/s on one
core (its lookup table holding most symbols' intervals whole), and blocks and columns decoding in threads run in
parallel. Its encoder holds the GIL too, so coding threads waited on each other; the one here codes 210-270 M
symbols/s on one core (a multiplication by each width's reciprocal instead of a division: 80 M/s with one).
``tests/test_rans_kernels.py`` checks both against constriction on random models and streams.

constriction's scheme, for the reader of this file: a symbol's interval is ``[cdf[s], cdf[s + 1])`` of 2^24;
``cdf[s] = floor(c_s * (2^24 - n) / sum(p)) + s`` with ``c_s`` the running float64 sum of the probabilities
before ``s`` (every symbol keeps a weight of at least 1). Decoding one symbol: the quantile is the state's low
24 bits, the state becomes ``(state >> 24) * width + quantile - cdf[s]``, and a word is popped from the end of
the word array whenever the state falls below 2^32. The state starts from the last one or two words and must
end at 0 with every word read. Encoding is the inverse, symbols last to first from state 0: before a symbol of
width ``w`` the state's low word is pushed (and the state shifted down a word) if ``state >> 40 >= w``, then the
state becomes ``(state // w) << 24 | (state % w + cdf[s])``; at the end the state's low word and, if not zero,
its high word follow the pushed ones.
"""

from __future__ import annotations

import numpy as np
from numba import njit

PRECISION = 24
LOOKUP_BITS = 12  # the quantile's top bits index the first symbol whose interval may hold it
PACKED_SYMBOLS = 1 << 15  # symbols whose interval a lookup entry can hold (15 bits above left and width)
CHUNK = 1 << 14  # the encoder's symbols between checks of its word array's room


@njit(cache=True, nogil=True)
def quantized_cdf(p: np.ndarray) -> np.ndarray:
    """The 2^24-scale left cumulatives of ``p`` (float64, at least 2 entries) and the total, as constriction
    quantizes them; an empty array where constriction refuses the model."""
    n = p.size
    total = 1 << PRECISION
    norm = 0.0
    for i in range(n):
        norm += p[i]
    if n < 2 or n >= total - 1 or not (norm > 2.2250738585072014e-308 and norm < np.inf):
        return np.empty(0, dtype=np.uint32)
    scale = (total - n) / norm
    cdf = np.empty(n + 1, dtype=np.uint32)
    cum = 0.0
    for i in range(n):
        cdf[i] = np.uint32(np.uint64(cum * scale)) + np.uint32(i)
        cum += p[i]
    cdf[n] = total
    return cdf


@njit(cache=True, nogil=True)
def lookup(cdf: np.ndarray) -> np.ndarray:
    """For each value of a quantile's top ``LOOKUP_BITS`` bits: where one symbol's interval holds every quantile
    with those bits (most of them), that interval packed, ``left | width << 24 | symbol << 48``, so that decoding
    it takes one load; elsewhere ``-1 -`` the first symbol whose interval may hold the quantile."""
    nsym = cdf.size - 1
    shift = PRECISION - LOOKUP_BITS
    lut = np.empty((1 << LOOKUP_BITS) + 1, dtype=np.int64)
    s = 0
    for b in range(lut.size):
        q = b << shift
        while s + 1 < nsym and cdf[s + 1] <= q:
            s += 1
        left, right = np.int64(cdf[s]), np.int64(cdf[s + 1])
        if s < PACKED_SYMBOLS and left <= q and right >= q + (1 << shift):
            lut[b] = left | ((right - left) << 24) | (np.int64(s) << 48)
        else:
            lut[b] = -1 - s
    return lut


@njit(cache=True, nogil=True)
def start(words: np.ndarray) -> tuple[int, np.uint64]:
    """(words left, state) of a coder over ``words``: the state is the last one or two words."""
    pos = words.size
    state = np.uint64(0)
    if pos > 0:
        pos -= 1
        state = np.uint64(words[pos])
        if pos > 0:
            pos -= 1
            state = (state << np.uint64(32)) | np.uint64(words[pos])
    return pos, state


@njit(cache=True, nogil=True)
def decode(words: np.ndarray, pos: int, state: np.uint64, cdf: np.ndarray, lut: np.ndarray, n: int,
           hist: np.ndarray) -> tuple[np.ndarray, int, np.uint64]:
    """``n`` symbols under ``cdf`` from a coder at (``pos``, ``state``); returns them and the coder's new
    position and state. A non-empty ``hist`` (one count per symbol) counts the symbols decoded, which the
    stream's integrity check needs, without a second pass."""
    state = np.uint64(state)  # mixed with int64, numba would compute in float64
    out = np.empty(n, dtype=np.int32)
    shift = PRECISION - LOOKUP_BITS
    mask = np.uint64((1 << PRECISION) - 1)
    low = np.uint64(1 << 32)
    count = hist.size > 0
    for i in range(n):
        quant = np.uint32(state & mask)
        e = lut[quant >> shift]
        if e >= 0:  # one symbol's interval holds the quantile (about 98 % of lookups on residuals)
            sym = np.int32(e >> 48)
            left = np.uint32(e & 0xFFFFFF)
            width = np.uint32((e >> 24) & 0xFFFFFF)
        else:
            sym = np.int32(-1 - e)
            while cdf[sym + 1] <= quant:
                sym += 1
            left = cdf[sym]
            width = cdf[sym + 1] - left
        state = (state >> np.uint64(PRECISION)) * np.uint64(width) + np.uint64(quant - left)
        if state < low and pos > 0:
            pos -= 1
            state = (state << np.uint64(32)) | np.uint64(words[pos])
        out[i] = sym
        if count:
            hist[sym] += 1
    return out, pos, state


@njit(cache=True, nogil=True, error_model="numpy")
def reciprocals(cdf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each symbol's width ``w`` (2 or more) as a multiplier and shift for ``push``: ``m = ceil(2^(63 + l) / w)``
    with ``l = ceil(log2 w)`` (Alverson's reciprocal, as in Giesen's ryg_rans), so that ``mulhi(x, m) >> (l - 1)``
    is ``x // w`` or one more for every 64-bit ``x``; 0 for width 1."""
    n = cdf.size - 1
    mult = np.zeros(n, dtype=np.uint64)
    shift = np.zeros(n, dtype=np.uint64)
    one = np.uint64(1)
    for s in range(n):
        w = np.uint64(cdf[s + 1] - cdf[s])
        if w < 2:
            continue
        lg = np.uint64(1)
        while w > (one << lg):
            lg += one
        high = one << (lg + np.uint64(31))
        t1 = high // w
        t0 = (w - one + ((high % w) << np.uint64(32))) // w
        mult[s] = t0 + (t1 << np.uint64(32))
        shift[s] = lg - one
    return mult, shift


@njit(inline="always")
def _mulhi(a: np.uint64, b: np.uint64) -> np.uint64:
    """The high 64 bits of the 128-bit product ``a * b``."""
    m = np.uint64(0xFFFFFFFF)
    a0, a1, b0, b1 = a & m, a >> np.uint64(32), b & m, b >> np.uint64(32)
    p00, p01, p10 = a0 * b0, a0 * b1, a1 * b0
    mid = (p00 >> np.uint64(32)) + (p10 & m) + (p01 & m)
    return a1 * b1 + (p10 >> np.uint64(32)) + (p01 >> np.uint64(32)) + (mid >> np.uint64(32))


@njit(cache=True, nogil=True, error_model="numpy")
def push(sym: np.ndarray, cdf: np.ndarray, words: np.ndarray, k: int, state: np.uint64
         ) -> tuple[np.ndarray, int, np.uint64, bool]:
    """Encode ``sym`` (to be decoded first to last) onto a coder whose first ``k`` of ``words`` are written and
    whose state is ``state``; returns the (possibly grown) words, their count, the state and whether every
    symbol lay in ``cdf``'s alphabet (else nothing is encoded). The quotient by a symbol's width comes from a
    multiplication by its reciprocal (``reciprocals``) and one correction: a 64-bit division (and numba's
    division check) held this loop to about 80 M symbols/s, 210-270 M/s now; the words are the same."""
    nsym = cdf.size - 1
    for i in range(sym.size):
        if sym[i] < 0 or sym[i] >= nsym:
            return words, k, state, False
    mult, shift = reciprocals(cdf)
    state = np.uint64(state)
    low = np.uint64(0xFFFFFFFF)
    end = sym.size
    while end > 0:  # chunks of symbols with room for a word each: no growth check in the inner loop
        start = max(end - CHUNK, 0)
        if k + end - start > words.size:
            grown = np.empty(max(k + end - start, 2 * words.size), dtype=np.uint32)
            grown[:k] = words[:k]
            words = grown
        for i in range(end - 1, start - 1, -1):
            s = sym[i]
            left = np.uint64(cdf[s])
            width = np.uint64(cdf[s + 1]) - left
            if (state >> np.uint64(64 - PRECISION)) >= width:
                words[k] = np.uint32(state & low)
                k += 1
                state = state >> np.uint64(32)
            if width == np.uint64(1):
                state = (state << np.uint64(PRECISION)) | left
                continue
            q = _mulhi(state, mult[s]) >> shift[s]
            rest = state - q * width  # wraps to 2^64 - w or more where q is one too many
            if rest >= width:
                q -= np.uint64(1)
                rest += width
            state = (q << np.uint64(PRECISION)) | (rest + left)
        end = start
    return words, k, state, True


@njit(cache=True, nogil=True)
def finish(words: np.ndarray, k: int, state: np.uint64) -> np.ndarray:
    """The coder's output: the words pushed, then the state's low word and its high word where not zero."""
    state = np.uint64(state)
    out = np.empty(k + 2, dtype=np.uint32)
    out[:k] = words[:k]
    if state != np.uint64(0):
        out[k] = np.uint32(state & np.uint64(0xFFFFFFFF))
        k += 1
        if state >> np.uint64(32) != np.uint64(0):
            out[k] = np.uint32(state >> np.uint64(32))
            k += 1
    return out[:k]


@njit(cache=True, nogil=True)
def bounds(x: np.ndarray) -> tuple[int, int]:
    """``x.min()`` and ``x.max()`` of a non-empty array in one pass, as int64."""
    lo = hi = np.int64(x[0])
    for i in range(1, x.size):
        v = np.int64(x[i])
        if v < lo:
            lo = v
        elif v > hi:
            hi = v
    return lo, hi


@njit(cache=True, nogil=True)
def histogram(x: np.ndarray, lo: int, k: int) -> np.ndarray:
    """``np.bincount(x - lo, minlength=k)`` in one pass (every value of ``x`` lies in ``lo .. lo + k - 1``)."""
    counts = np.zeros(k, dtype=np.int64)
    for i in range(x.size):
        counts[np.int64(x[i]) - lo] += 1
    return counts


@njit(cache=True, nogil=True)
def model_bits(counts: np.ndarray, mantissa: np.ndarray, per_octave: int) -> tuple[float, np.ndarray, float]:
    """For the size estimates of ``entropy``'s methods 2 and 4, from a histogram in one pass each: the bits of
    the symbols under their exact frequencies, the counts quantized as ``rans.quantized`` does, and the bits
    under ``rans.q_weights`` of those. The weights are exact integers here (mantissa times a power of two below
    2^49, so their sum fits int64 and converts to float64 rounded once, as ``math.fsum`` rounds)."""
    k = counts.size
    total = 0
    for s in range(k):
        total += counts[s]
    q = np.zeros(k, dtype=np.int64)
    weights = np.zeros(k, dtype=np.int64)
    wsum = np.int64(0)
    exact = 0.0
    for s in range(k):
        c = counts[s]
        if c > 0:
            q[s] = 1 + np.int64(np.rint(per_octave * np.log2(np.float64(c))))
            e = max(q[s] - 1, 0)
            weights[s] = np.int64(mantissa[e % per_octave]) << (e // per_octave)
            wsum += weights[s]
            exact -= c * np.log2(c / np.float64(total))
    fsum = np.float64(wsum)
    quant = 0.0
    for s in range(k):
        if counts[s] > 0:
            quant -= counts[s] * np.log2(np.float64(weights[s]) / fsum)
    return exact, q, quant
