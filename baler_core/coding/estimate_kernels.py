"""Size estimates of many integer streams in one compiled call (numba, the GIL released): what ``entropy``'s
``plan_ints`` reads from each stream before it runs zstd on the tables (``estimates.estimate_groups``).

A transform block's candidate coefficient schemes hold a few dozen streams each, many of a few hundred values;
estimated one by one, a stream cost about 100 us of Python and numpy calls, most of compressing a field's
samples. Here each stream's bounds, histogram and, where ``entropy`` would try them, its hybrid tokens' model
bits and raw bits come from one pass per stream, by the very kernels ``entropy`` calls.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from baler_core.coding.rans_kernels import bounds, histogram, model_bits
from baler_core.coding.token_kernels import token_counts


@njit(cache=True, nogil=True)
def group_stats(values: np.ndarray, ends: np.ndarray, max_alphabet: int, hyb_width: int, hyb_distinct: int,
                split: int, msb: int, limit: int, mantissa: np.ndarray, per_octave: int):
    """For each stream ``values[ends[g - 1]:ends[g]]`` (none empty): ``kind`` (0 constant, 1 rANS applies, 2 rANS
    and hybrid tokens apply, -1 an alphabet wider than ``max_alphabet``: the caller plans it itself), its
    bounds, its histogram (``tables`` from ``at``), and for hybrid tokens their model's bits, raw bytes and
    quantized counts (``htables`` from ``hat``)."""
    n_groups = ends.size
    kind = np.zeros(n_groups, dtype=np.int64)
    lo = np.zeros(n_groups, dtype=np.int64)
    hi = np.zeros(n_groups, dtype=np.int64)
    bits = np.zeros(n_groups, dtype=np.float64)  # the hybrid tokens' model
    raw = np.zeros(n_groups, dtype=np.int64)
    at = np.zeros(n_groups + 1, dtype=np.int64)
    hat = np.zeros(n_groups + 1, dtype=np.int64)
    tables = []
    htables = []
    start = 0
    for g in range(n_groups):
        x = values[start : ends[g]]
        start = ends[g]
        a, b = bounds(x)
        lo[g], hi[g] = a, b
        at[g + 1], hat[g + 1] = at[g], hat[g]
        if a == b:
            continue
        distinct = -1
        if b - a < max_alphabet:
            counts = histogram(x, a, b - a + 1)
            tables.append(counts)
            at[g + 1] = at[g] + 1
            kind[g] = 1
            distinct = 0
            for c in counts:
                distinct += c > 0
        if b - a >= hyb_width:
            if distinct < 0:
                kind[g] = -1  # a wide alphabet: ``entropy`` counts distinct values itself
                continue
            if distinct * hyb_distinct > x.size:
                s = np.sort(x[:: max(1, x.size // 8192)])
                center = np.int64(s[s.size // 2])
                if b - center >= 2**62 or center - a >= 2**62:
                    continue  # no hybrid tokens (``entropy._hyb_plan``)
                tok, widths = token_counts(x, center, split, msb, limit)
                top = 0
                used = 0
                for t in range(tok.size):
                    if tok[t]:
                        top = t
                        used += 1
                if used >= 2:
                    _, hq, hbits = model_bits(tok[: top + 1], mantissa, per_octave)
                    bits[g] = hbits
                    for w in range(1, widths.size):
                        raw[g] += (widths[w] * w + 7) // 8
                    htables.append(hq)
                    hat[g + 1] = hat[g] + 1
                    kind[g] = 2
    return kind, lo, hi, bits, raw, at, tables, hat, htables
