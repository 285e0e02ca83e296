"""A field block's residual against a model's prediction, coded by the model-free field coder (mode
``resgrid``).

The model path codes a residual value by value (``columns.encode_column``). Where a model predicts the large,
shared structure of a flow (a POD basis: the mean flow and its leading modes), what it leaves is still a smooth
field, and the grid's field predictors (Lorenzo, spline, DCT) code that far better than value by value. The
record is ``{"mode": "resgrid", "residual": <grid record>}``: the residual ``x - prediction`` (float64) is coded
on the grid with its streams as the column's own, and rebuilt as ``prediction + residual`` in the field's dtype.
Readers before format 1.10 refuse the mode (``column mode 'resgrid' unknown``) rather than misread it.

The bound: the residual is coded within ``tol - slack``, where the slack covers the cast to the field's dtype
(two units in its last place at the block's largest magnitude) and float64 rounding differences of the
prediction between machines (``PRED_MARGIN`` of the largest magnitude); the encoder rebuilds the block as the
decoder will and drops the candidate if any value misses ``tol``.
"""

from __future__ import annotations

import numpy as np

from baler_core.coding.error_bounds import Bound
from baler_core.coding.grid import decode_grid, encode_grid
from baler_core.errors import FormatError

RESIDUAL_GRID = "resgrid"
PRED_MARGIN = 1e-9  # of the largest magnitude: model predictions agree across machines to ~1e-15 (float64)


def encode_residual_grid(x: np.ndarray, pred: np.ndarray, bound: Bound, entropy: str, level: int,
                         shape: tuple[int, ...], predictors: tuple[str, ...]) -> tuple[dict, dict[str, bytes]] | None:
    """Code field block ``x`` (float32/64, ``shape``) as ``pred`` (float64, flat) plus its grid-coded residual,
    under an abs or range bound (range: of this block). None where it does not apply (non-finite values, no
    grid, a bound too tight for the dtype)."""
    if bound.kind not in ("abs", "range") or x.size == 0 or x.dtype not in (np.float32, np.float64):
        return None
    x64 = x.astype(np.float64).ravel()
    pred = np.asarray(pred, dtype=np.float64).ravel()
    if not (np.isfinite(x64).all() and np.isfinite(pred).all()):
        return None
    lo, hi = float(x64.min()), float(x64.max())
    tol = bound.value if bound.kind == "abs" else bound.value * (hi - lo)
    big = max(abs(lo), abs(hi), float(np.abs(pred).max()))
    slack = 2 * float(np.spacing(x.dtype.type(max(abs(lo), abs(hi))))) + PRED_MARGIN * big
    if not (tol > 0 and tol - slack > 0.5 * tol):
        return None
    got = encode_grid(x64 - pred, Bound("abs", tol - slack), entropy, level, shape, predictors)
    if got is None or got[0].get("mode") != "grid":
        return None
    rec, streams = got
    out = decode_residual_grid({"mode": RESIDUAL_GRID, "residual": rec}, streams.__getitem__, x.size, pred, x.dtype)
    if not np.all(np.abs(out.astype(np.float64) - x64) <= tol - float(np.spacing(x.dtype.type(big)))):
        return None  # not expected: the slack covers every rounding; the block is then coded another way
    return {"mode": RESIDUAL_GRID, "residual": rec}, streams


def decode_residual_grid(rec: dict, read, n: int, pred: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``pred`` plus the decoded residual, in ``dtype``."""
    inner = rec.get("residual")
    if not isinstance(inner, dict) or inner.get("mode") != "grid":
        raise FormatError("resgrid column record malformed (its residual must be a grid record)")
    with np.errstate(over="ignore", invalid="ignore"):
        return (np.asarray(pred, dtype=np.float64).ravel() + decode_grid(inner, read, n, np.dtype(np.float64))
                ).astype(dtype)
