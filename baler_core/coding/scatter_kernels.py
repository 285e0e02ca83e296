"""Compiled passes of the transform decoder (``predictors.dct``; numba, the GIL released), each giving the very
values of numpy's way:

- ``ungroup_scaled``: transform coefficients put back in place from their per-level streams: coefficient ``i``
  takes the next value of the stream of its envelope block's level (the block computed from its position), is
  range-checked and multiplied by the step. numpy needs an id per coefficient, a stable sort of every
  coefficient by level and a scattered write for the same (17 % of a turbulence field's decoding), then a
  check and a product.
- ``rebuild``: the inverse transform plus the corrections, cast to the output dtype, exact zeros put back, in one
  pass instead of four (numpy: ``rec + k * 2 half``, ``astype``, two masked writes).

``tests/test_transform.py`` checks each against numpy.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def ungroup_scaled(levels: np.ndarray, shape: np.ndarray, sizes: np.ndarray, values: np.ndarray,
                   starts: np.ndarray, step: float, limit: int) -> tuple[np.ndarray, bool]:
    """``out[i] = values[p] * step`` (float64), ``p`` the next unread position of group ``levels[e]``, ``e`` the
    envelope block of position ``i`` of a C-ordered block of ``shape`` cut ``sizes`` long along each axis (in the
    order of ``dct._envelope_ids``), whose values begin at ``starts[group]`` in ``values`` (the groups' values
    concatenated); False where a value lies outside +-``limit``."""
    nd = shape.size
    nbs = (shape + sizes - 1) // sizes
    bstride = np.ones(nd, dtype=np.int64)
    for a in range(nd - 2, -1, -1):
        bstride[a] = bstride[a + 1] * nbs[a + 1]
    inner_n, inner_size = shape[nd - 1], sizes[nd - 1]
    n = 1
    for a in range(nd):
        n *= shape[a]
    pos = starts.copy()
    out = np.empty(n, dtype=np.float64)
    ok = True
    i = 0
    for o in range(n // inner_n if inner_n else 0):
        r = o
        base = 0
        for a in range(nd - 2, -1, -1):
            ia = r % shape[a]
            r //= shape[a]
            base += (ia // sizes[a]) * bstride[a]
        for b in range(nbs[nd - 1]):  # a run of one envelope block along the last axis: one group
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
    return out, ok


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
