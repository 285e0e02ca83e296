"""Argument checks shared by the solvers: each names the argument and the accepted range."""

from __future__ import annotations

import numbers

import numpy as np

from baler_core.errors import InputError

# --------------------------------------------------------------------------- #
# argument validation helpers
# --------------------------------------------------------------------------- #


def check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_float(name: str, value: object, *, low: float, high: float = np.inf,
                 low_inclusive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise InputError(f"{name} must be finite, got {value}")
    too_low = value < low if low_inclusive else value <= low
    if too_low or value > high:
        lo = "[" if low_inclusive else "("
        raise InputError(f"{name} must be in {lo}{low}, {high}], got {value}")
    return value


# --------------------------------------------------------------------------- #
# D2Q9 lattice Boltzmann: flow past a square obstacle
# --------------------------------------------------------------------------- #
