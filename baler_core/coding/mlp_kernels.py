"""The sequential model's column heads compiled (numba, the GIL released): one column's MLP over a block's rows in
tiles of ``TILE`` rows, its products through BLAS and its activations in place, without torch's per-call
temporaries.

Why: decoding a table with the sequential model was two thirds inference, and most of it torch's overhead on
small per-column products and its GELU (about 10 ns a value in float64). The GELU here is ``x * Phi(x)`` with
the normal distribution's ``Phi`` from a table of degree-5 polynomials on intervals of 1/64 (within 2.3e-16 of
the exact value: torch's own GELU is within 2e-15). Predictions then agree with torch's to a few ulps, far inside
the margin the coders keep around rounding boundaries (``quantization.fragile``), so a file coded with either
decodes with either.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

PHI_RANGE = 8.5  # Phi(-8.5) = 9.5e-18: beyond it the table's polynomial gives 0
PHI_PER_UNIT = 64  # intervals per unit (25 kB of coefficients; degree 7 on 1/16 is as exact, 15 % slower)
PHI_DEGREE = 5
PHI_INTERVALS = int(PHI_RANGE * PHI_PER_UNIT)
TILE = 256  # rows per tile: a tile's activations stay in the first-level cache
ACTIVATIONS = {"gelu": 0, "relu": 1, "leaky_relu": 2, "tanh": 3}


def phi_table() -> np.ndarray:
    """Coefficients (flat, ``PHI_DEGREE + 1`` per interval, lowest first) of ``Phi`` on [-PHI_RANGE, 0]: each
    interval's polynomial in ``u`` in [-1, 1] interpolates ``Phi`` at the Chebyshev points."""
    k = np.arange(PHI_DEGREE + 1)
    nodes = np.cos(np.pi * (k + 0.5) / (PHI_DEGREE + 1))
    vander = np.vander(nodes, PHI_DEGREE + 1, increasing=True)
    half = 0.5 / PHI_PER_UNIT
    coef = np.empty((PHI_INTERVALS, PHI_DEGREE + 1))
    for i in range(PHI_INTERVALS):
        centre = -PHI_RANGE + (i + 0.5) / PHI_PER_UNIT
        values = [0.5 * math.erfc(-(centre + half * u) / math.sqrt(2.0)) for u in nodes]
        coef[i] = np.linalg.solve(vander, values)
    return coef.ravel()


PHI = phi_table()


@njit(cache=True, nogil=True, fastmath={"contract"})
def activate(buf: np.ndarray, kind: int, slope: float, phi: np.ndarray) -> None:
    """Apply activation ``kind`` (``ACTIVATIONS``) to ``buf`` in place."""
    if kind == 1:
        for e in range(buf.size):
            buf[e] = max(buf[e], 0.0)
        return
    if kind == 2:
        for e in range(buf.size):
            v = buf[e]
            buf[e] = v if v >= 0.0 else v * slope
        return
    if kind == 3:
        for e in range(buf.size):
            buf[e] = math.tanh(buf[e])
        return
    last = PHI_INTERVALS - 1
    for e in range(buf.size):
        v = buf[e]
        a = -abs(v)
        t = max((a + PHI_RANGE) * PHI_PER_UNIT, 0.0)
        i = min(int(t), last)
        u = 2.0 * (t - i) - 1.0
        b = i * (PHI_DEGREE + 1)
        p = phi[b + 5]
        p = p * u + phi[b + 4]
        p = p * u + phi[b + 3]
        p = p * u + phi[b + 2]
        p = p * u + phi[b + 1]
        p = p * u + phi[b]
        if a < -PHI_RANGE:
            p = 0.0
        buf[e] = v * (1.0 - p if v > 0.0 else p)


@njit(cache=True, nogil=True)
def column_head(x: np.ndarray, j: int, w_in: np.ndarray, b_in: np.ndarray, w_hidden: np.ndarray,
                b_hidden: np.ndarray, w_out: np.ndarray, b_out: float, kind: int, slope: float,
                phi: np.ndarray, out: np.ndarray) -> None:
    """``out[r]`` = column ``j``'s head on ``x[r, :j]``: ``w_in`` (j, H), ``b_in`` (H,), ``w_hidden`` (D, H, H),
    ``b_hidden`` (D, H), ``w_out`` (H,), as ``SequentialPredictor`` computes it."""
    n = x.shape[0]
    hidden = b_in.shape[0]
    tile = np.empty((TILE, j))
    for s in range(0, n, TILE):
        m = min(TILE, n - s)
        if j > 0:
            block = tile[:m]
            block[:, :] = x[s : s + m, :j]
            h = np.dot(block, w_in)
        else:
            h = np.zeros((m, hidden))
        h += b_in
        activate(h.ravel(), kind, slope, phi)
        for d in range(w_hidden.shape[0]):
            h = np.dot(h, w_hidden[d])
            h += b_hidden[d]
            activate(h.ravel(), kind, slope, phi)
        o = np.dot(h, w_out)
        for r in range(m):
            out[s + r] = o[r] + b_out
