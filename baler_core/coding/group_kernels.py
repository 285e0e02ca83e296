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


@njit(cache=True, nogil=True)
def near_edges(c: np.ndarray, edges: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Which of the ascending ``edges`` have a finite value of ``c`` within their ``tol`` (at ``tol`` exactly
    it is clear; on the edge never): ``split_reuse``'s edge check in one pass, non-finite values skipped."""
    m = edges.size  # a split's edges, at most 63: counted without branches, as in refine
    bad = np.zeros(m, dtype=np.bool_)
    for j in range(c.size):
        v = np.float64(c[j])
        if not np.isfinite(v):
            continue
        i = 0  # searchsorted(edges, v): edges[i - 1] < v <= edges[i]
        for e in range(m):
            i += edges[e] < v
        if i < m:
            d = edges[i] - v
            if d < tol[i] or d <= 0.0:
                bad[i] = True
        if i > 0:
            d = v - edges[i - 1]
            if d < tol[i - 1] or d <= 0.0:
                bad[i - 1] = True
    return bad


@njit(cache=True, nogil=True)
def bin_counts(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Rows of ``x`` in each bin of the ascending ``edges`` (a value's bin: the edges at or below it), the
    non-finite ones last: ``bincount(searchsorted(edges, x, side="right"))`` with those in bin ``m + 1``."""
    m = edges.size
    counts = np.zeros(m + 2, dtype=np.int64)
    for j in range(x.size):
        v = np.float64(x[j])
        if not np.isfinite(v):
            counts[m + 1] += 1
            continue
        lab = 0
        for e in range(m):
            lab += edges[e] <= v
        counts[lab] += 1
    return counts
