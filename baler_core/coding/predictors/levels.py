"""The multi-level interpolation order of SZ3 shared by the ``interp`` and ``spline`` predictors: from the
coarsest stride down to 1, each level predicts the points at odd multiples of the stride along one axis from
their already known neighbours along it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np


def ix(ndim: int, axis: int, sl: slice) -> tuple[slice, ...]:
    return tuple(sl if a == axis else slice(None) for a in range(ndim))


def steps(shape: tuple[int, ...], order: tuple[int, ...] | None = None
                  ) -> Iterator[tuple[int, int, tuple[slice, ...]]]:
    """(level, axis, view) in coding order: from the coarsest stride down to 1, and per stride along each axis
    in turn (``order``, default 0, 1, ...), the points at odd multiples of the stride along that axis are
    predicted from their neighbours along it, which are already known (the multi-level interpolation of SZ3)."""
    order = tuple(range(len(shape))) if order is None else order
    levels = max(1, int(np.ceil(np.log2(max(max(shape), 2)))))
    for lev in range(levels - 1, -1, -1):
        s = 1 << lev
        for i, d in enumerate(order):
            done = order[: i + 1]
            yield lev, d, tuple(slice(0, None, s if a in done else 2 * s) for a in range(len(shape)))


def slots(shape: tuple[int, ...], order: tuple[int, ...] | None = None
                  ) -> Iterator[tuple[int, int, tuple[slice, ...]]]:
    """:func:`steps` with each level numbered 0, 1, ... from the coarsest: the index of its stream."""
    top = None
    for lev, d, sl in steps(shape, order):
        top = lev if top is None else top
        yield top - lev, d, sl


def predict(v: np.ndarray, d: int, exact: bool = True) -> np.ndarray:
    """Prediction of the odd entries of ``v`` along axis ``d`` from the even ones: cubic (-1, 9, 9, -1)/16
    where four neighbours exist, linear where two, the left one at the end. ``exact``: integer arithmetic on
    grid indices (``interp``); else float64 on reconstructed values (``spline``)."""
    e = v[ix(v.ndim, d, slice(0, None, 2))]
    m, k = e.shape[d], v.shape[d] // 2
    left = e[ix(v.ndim, d, slice(0, k))]
    pred = left.copy()
    if m > 1:
        r = min(k, m - 1)
        pair = left[ix(v.ndim, d, slice(0, r))] + e[ix(v.ndim, d, slice(1, r + 1))]
        pred[ix(v.ndim, d, slice(0, r))] = (pair + 1) // 2 if exact else 0.5 * pair
    c = min(k, m - 2) - 1  # targets 1 .. c have neighbours i-1, i, i+1, i+2
    if c >= 1:
        t = lambda a, b: e[ix(v.ndim, d, slice(a, b))]  # noqa: E731
        cubic = 9 * (t(1, c + 1) + t(2, c + 2)) - t(0, c) - t(3, c + 3)
        pred[ix(v.ndim, d, slice(1, c + 1))] = (cubic + 8) // 16 if exact else cubic / 16.0
    return pred



def fill_levels(rec: np.ndarray, parts: list[np.ndarray], predict: Callable[[np.ndarray, int], np.ndarray],
                 order: tuple[int, ...] | None = None) -> np.ndarray:
    """Rebuild ``rec`` level by level, in place: each target is its prediction plus its decoded residual
    (``predict`` returns their sum, in grid indices)."""
    pos = [0] * len(parts)
    for slot, d, sl in slots(rec.shape, order):
        v = rec[sl]
        odd = v[ix(v.ndim, d, slice(1, None, 2))]
        res = parts[slot][pos[slot] : pos[slot] + odd.size].reshape(odd.shape)
        pos[slot] += odd.size
        odd[...] = predict(v, d, res)
    return rec

