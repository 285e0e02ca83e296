"""Size estimates of many integer streams at once (``entropy.plan_ints``' estimates, the same numbers): the
transform coder's candidate schemes compare a few dozen coefficient streams each (``estimate_kernels``)."""

from __future__ import annotations

import struct

import numpy as np

from baler_core.coding import entropy, jit
from baler_core.coding.rans import Q_MANTISSA, Q_PER_OCTAVE, payload_bytes
from baler_core.coding.tokens import token_limit

_ANS_HEAD = struct.calcsize("<BqII")
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
            counts, q = tables[at[g]], tables[at[g] + 1]
            size = min(_ANS_HEAD + len(entropy.zstd_compress(counts.astype("<u4").tobytes(), level))
                       + payload_bytes(bits[g, 0]),
                       _ANS_HEAD + len(entropy.zstd_stream(q, level)) + payload_bytes(bits[g, 1]))
            if kind[g] == 2:
                size = min(size, _HYB_HEAD + len(entropy.zstd_stream(htables[hat[g]], level))
                           + payload_bytes(bits[g, 2]) + int(raw[g]))
            sizes.append(size)
        start = int(ends[g])
    return sizes
