"""Size estimates of many integer streams at once (``entropy.plan_ints``' estimates, the same numbers): the
transform coder's candidate schemes compare a few dozen coefficient streams each (``estimate_kernels``)."""

from __future__ import annotations

import struct

import numpy as np

from baler_core.coding import entropy, jit
from baler_core.coding.rans import Q_MANTISSA, Q_PER_OCTAVE, payload_bytes
from baler_core.coding.tokens import token_limit

Summary = tuple[int, int, "np.ndarray | None"]  # a stream's smallest and largest value and histogram (from the first)
_HYB_HEAD = struct.calcsize("<BqBBIII")


def estimate_groups(values: np.ndarray, ends: np.ndarray, method: str, level: int) -> list[int] | None:
    """``entropy.estimate_ints(values[ends[g - 1]:ends[g]], method, level)`` for every stream ``g`` (none empty),
    from one compiled pass; None where the kernels do not run or ``method`` is not rANS-based."""
    kernels = jit.module("estimate_kernels") if jit.active() and method in ("auto", "ans") else None
    if kernels is None or not ends.size:
        return None
    width, distinct, split, msb = entropy.HYBRID
    kind, lo, hi, bits, raw, at, tables, hat, htables = kernels.group_stats(
        values, ends, entropy.MAX_ANS_ALPHABET, width, distinct, split, msb, token_limit(split, msb), Q_MANTISSA,
        Q_PER_OCTAVE)
    sizes = []
    start = 0
    for g in range(ends.size):
        if kind[g] == 0:
            sizes.append(9)
        elif kind[g] < 0:
            sizes.append(entropy.plan_ints(values[start : ends[g]], method, level)[0])
        else:
            size = min(entropy.ans_sizes(int(lo[g]), int(hi[g]), tables[at[g]], level))
            if kind[g] == 2:
                size = min(size, _HYB_HEAD + len(entropy.zstd_stream(htables[hat[g]], level))
                           + payload_bytes(bits[g]) + int(raw[g]))
            sizes.append(size)
        start = int(ends[g])
    return sizes


def summary_of(values: np.ndarray) -> Summary:
    """A non-empty stream's ``Summary`` (the histogram where its alphabet is at most ``MAX_ANS_ALPHABET``)."""
    x = np.ascontiguousarray(values).ravel()
    lo, hi = entropy.stream_bounds(x)
    if hi - lo >= entropy.MAX_ANS_ALPHABET:
        return lo, hi, None
    kernels = jit.module("rans_kernels") if jit.active() else None
    if kernels is not None:
        return lo, hi, kernels.histogram(x, lo, hi - lo + 1)
    return lo, hi, np.bincount(x.astype(np.int64) - lo, minlength=hi - lo + 1)


def estimate_counted(n: int, summary: Summary, method: str, level: int) -> int | None:
    """``entropy.plan_ints``' estimate for ``n`` values known by their ``summary`` alone (a merge of other
    streams'); None where it needs the values themselves (hybrid tokens or zstd would be tried)."""
    lo, hi, counts = summary
    if lo == hi:
        return 9
    if method not in ("auto", "ans") or counts is None:
        return None
    width, distinct = entropy.HYBRID[:2]
    if width <= hi - lo and np.count_nonzero(counts) * distinct > n:
        return None
    return min(entropy.ans_sizes(lo, hi, counts, level))


def merged(summaries: list[Summary]) -> Summary:
    """The ``Summary`` of several streams' values together (no histogram where one lacks it or the alphabet
    grows past rANS's)."""
    lo, hi = min(s[0] for s in summaries), max(s[1] for s in summaries)
    if hi - lo >= entropy.MAX_ANS_ALPHABET or any(s[2] is None for s in summaries):
        return lo, hi, None
    counts = np.zeros(hi - lo + 1, dtype=np.int64)
    for a, b, c in summaries:
        counts[a - lo : b - lo + 1] += c
    return lo, hi, counts
