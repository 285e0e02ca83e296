"""The ``rms=T`` bound of the Baler study: a column's response RMS <= T and |mean| <= T/10, met by searching
the pointwise relative bound that holds it, measured on the real values."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from baler_core.coding.error_bounds import RMS_MEAN_FRACTION, Bound
from baler_core.coding.lossless import encode_exact
from baler_core.coding.options import ZSTD_LEVEL
from baler_core.coding.predictors.base import estimated_size

RMS_SAFETY = 0.999  # an rms=T column is kept at a measured response RMS <= 0.999 T


def response(x: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    """RMS and mean of (out - x) / x over the finite nonzero values of ``x``."""
    xf = x.astype(np.float64)
    nz = np.isfinite(xf) & (xf != 0)
    if not nz.any():
        return 0.0, 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        r = (out[nz].astype(np.float64) - xf[nz]) / xf[nz]
    return float(np.sqrt(np.mean(r**2))), float(np.mean(r))


def encode_rms(x: np.ndarray, bound: Bound, code: Callable[[Bound], tuple]) -> tuple:
    """Code a column under ``rms=T`` with ``code(rel bound)``: first the pointwise relative bound whose uniform
    errors have an RMS just under T, then, while the column's measured response RMS exceeds T or its mean
    exceeds T/10, a tighter one. Errors are uniform only where the grid is independent of the value; a
    prediction whose own error is about one step wide folds them towards the edges (a jet's charged-hadron
    energy from its energy minus the others measured 1.05 T), hence the check on the real values. The last
    resort, |error| <= T/10 on every value, meets both by construction."""
    target = bound.value * RMS_SAFETY
    h = math.sqrt(3) * target
    best, missed, midpoint = None, None, False
    for _ in range(12):
        got = code(Bound("rel", h))
        rms, mean = response(x, got[-1])
        if rms <= target and abs(mean) <= RMS_MEAN_FRACTION * target:
            if best is not None and coded_size(got) >= coded_size(best):
                break
            best = got
            if missed is not None:  # between a bound that missed and one that held: one midpoint, then stop
                if midpoint:
                    break
                h, midpoint = math.sqrt(h * missed), True
                continue
            if rms > 0.95 * target:
                break
            h *= min(4.0, target / max(rms, 1e-300))  # errors smaller than the grid's: widen it
        elif best is not None:
            break
        else:  # shrink by at least 5 % a try: a near miss must not creep towards the last resort
            missed = h
            h *= min(0.95, target / rms if rms > target else 1.0,
                     0.5 if abs(mean) > RMS_MEAN_FRACTION * target else 1.0)
    return best if best is not None else code(Bound("rel", RMS_MEAN_FRACTION * target))


def coded_size(coded: tuple) -> int:
    """Bytes of a coded column's streams (``(record, streams, ...)``; streams not coded yet by estimate)."""
    return estimated_size(coded[1])


def bounded(x: np.ndarray, bound: Bound, code: Callable[[Bound], tuple]) -> tuple:
    """``code(bound)``, for an ``rms`` target :func:`encode_rms`, for ``exact`` the lossless coder."""
    if bound.kind == "exact":
        return encode_exact(x, ZSTD_LEVEL)
    return encode_rms(x, bound, code) if bound.kind == "rms" else code(bound)
