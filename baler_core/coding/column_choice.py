"""The smallest of a float column's three codings against a model's prediction (``columns.encode_column``):
residuals of the prediction, grid indices relative to the prediction's, grid indices relative to a constant."""

from __future__ import annotations

import numpy as np

from baler_core.coding.columns import DITHERED_MODES, encode_column, free_center
from baler_core.coding.entropy import TABLE_ZSTD_TRIED
from baler_core.coding.error_bounds import Bound
from baler_core.coding.options import CompressionOptions
from baler_core.coding.predictors.base import coded
from baler_core.coding.rms import coded_size


def encode_best(x: np.ndarray, pred: np.ndarray, bound: Bound, opts: CompressionOptions, seed: int | None = None,
                pending: bool = False, like: dict | None = None) -> tuple[dict, dict, np.ndarray]:
    """Code a float column three ways and keep the smallest: residuals of the prediction, grid indices
    relative to the prediction's (better where values repeat, e.g. exact zeros), and grid indices relative to
    a constant (better where the model predicts the column worse than its own spread). The three are compared
    by their streams' sizes estimated from histograms, and only the one kept is entropy-coded (``pending``: not
    even that one, for a caller that may code its streams otherwise). ``like``: the column's record in an
    earlier block of the same data (``codec.split_reuse``), whose choice of the three is taken without trying
    the other two."""
    def done(got: tuple[dict, dict, np.ndarray]) -> tuple[dict, dict, np.ndarray]:
        return got if pending else (got[0], coded(got[1]), got[2])

    def way(p: np.ndarray, aligned: bool, stored_pred: bool = False) -> tuple[dict, dict, np.ndarray]:
        """One of the three, its streams pending (a table's: zstd tried only where short)."""
        return encode_column(x, p, bound, opts.entropy, opts.level, aligned=aligned, stored_pred=stored_pred,
                             dither=opts.dither, seed=seed, pending=True, zstd_below=TABLE_ZSTD_TRIED)

    first = way(pred, False)
    if DITHERED_MODES.get(first[0]["mode"], first[0]["mode"]) not in ("lin", "log"):
        return done(first)
    taken = None if like is None else way_of(like)
    if taken == 0:
        return done(first)
    if taken == 1:
        return done(way(pred, True))
    center = free_center(x, bound)
    const = way(np.full(x.shape, center), True, stored_pred=True)
    const[0]["pred"] = center
    if taken == 2:
        return done(const)
    cands = [first, way(pred, True), const]
    return done(min(cands, key=coded_size))


def way_of(rec: dict) -> int | None:
    """Which of ``encode_best``'s three codings a record holds (0 residuals, 1 grid relative to the prediction,
    2 grid relative to a constant); None for another mode."""
    mode = DITHERED_MODES.get(rec.get("mode"), rec.get("mode"))
    if mode in ("lin", "log"):
        return 0
    if mode in ("alin", "alog"):
        return 2 if "pred" in rec else 1
    return None
