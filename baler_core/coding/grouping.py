"""Rows into groups and back, for streams split by context (``contexts``): each row's group from context values
and edges, the values gathered group by group and put back in row order; numpy, or the compiled kernels
(``group_kernels``) where they run in this process (``jit``), giving the same arrays."""

from __future__ import annotations

import numpy as np

from baler_core.coding import jit


def _kernels():
    return jit.module("group_kernels") if jit.active() else None


def labels(c: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Group of each row; non-finite context values go to the last group."""
    if (kernels := _kernels()) is not None:
        g = np.zeros(c.size, dtype=np.int64)
        kernels.refine(g, c, np.ascontiguousarray(edges, dtype=np.float64))
        return g
    g = np.searchsorted(edges, c, side="right")
    g[~np.isfinite(c)] = len(edges)
    return g


def group_of(splits: list[tuple[str, bool, np.ndarray]], values: dict[tuple[str, bool], np.ndarray], n: int
             ) -> tuple[np.ndarray, int]:
    """Group of each row under ``splits`` (refined one after another) and the number of groups."""
    g, k, kernels = np.zeros(n, np.int64), 1, _kernels()
    for name, magnitude, edges in splits:
        if kernels is not None:
            kernels.refine(g, values[(name, magnitude)], np.ascontiguousarray(edges, dtype=np.float64))
        else:
            g = g * (len(edges) + 1) + labels(values[(name, magnitude)], edges)
        k *= len(edges) + 1
    return g, k


def by_group(r: np.ndarray, g: np.ndarray, k: int) -> list[np.ndarray]:
    bounds = np.cumsum(np.bincount(g, minlength=k))[:-1]
    if (kernels := _kernels()) is not None:
        return np.split(kernels.gather(r, g, k), bounds)
    # at most MAX_GROUPS groups: numpy radix-sorts 8-bit keys, several times faster than int64
    order = np.argsort(g.astype(np.uint8) if k <= 256 else g, kind="stable")
    return np.split(r[order], bounds)


def ungroup(parts: list[np.ndarray], g: np.ndarray, k: int) -> np.ndarray:
    """Inverse of :func:`by_group`: each group's values back in row order."""
    values = np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, np.int64)
    if (kernels := _kernels()) is not None:
        return kernels.scatter(values, g, k)
    order = np.argsort(g.astype(np.uint8) if k <= 256 else g, kind="stable")
    out = np.empty(g.size, dtype=np.int64)
    out[order] = values
    return out
