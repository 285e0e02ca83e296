"""A split stream's grouping compiled (numba, the GIL released): each row's group from its context values and
edges, the rows' values gathered group by group, and put back in row order; the same arrays as ``grouping``'s
numpy path (``searchsorted``, a stable ``argsort`` and boolean masks).

Why: a sequential block's decoder spent a quarter of its time here, in one pass per group over every row and a
binary search per row; these are single passes.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def refine(g: np.ndarray, c: np.ndarray, edges: np.ndarray) -> None:
    """``g = g * (len(edges) + 1) + label`` in place, where a row's label is the number of edges at or below its
    value (``searchsorted(edges, c, side="right")``), and ``len(edges)`` for a value that is not finite."""
    m = edges.size  # at most 63: counting every edge, without branches, beats a binary search
    for j in range(c.size):
        v = np.float64(c[j])
        lab = 0
        for i in range(m):
            lab += edges[i] <= v
        g[j] = g[j] * (m + 1) + (lab if np.isfinite(v) else m)


@njit(cache=True, nogil=True)
def _starts(g: np.ndarray, k: int) -> np.ndarray:
    """Where each group's values begin when the groups follow one another."""
    counts = np.zeros(k, dtype=np.int64)
    for j in range(g.size):
        counts[g[j]] += 1
    starts = np.zeros(k, dtype=np.int64)
    for i in range(1, k):
        starts[i] = starts[i - 1] + counts[i - 1]
    return starts


@njit(cache=True, nogil=True)
def gather(r: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    """The values of ``r`` group by group (``0 .. k - 1``), each group's in row order."""
    at = _starts(g, k)
    out = np.empty_like(r)
    for j in range(r.size):
        out[at[g[j]]] = r[j]
        at[g[j]] += 1
    return out


@njit(cache=True, nogil=True)
def scatter(values: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    """Inverse of :func:`gather`: values that follow one another group by group, back in row order."""
    at = _starts(g, k)
    out = np.empty(g.size, dtype=values.dtype)
    for j in range(g.size):
        out[j] = values[at[g[j]]]
        at[g[j]] += 1
    return out
