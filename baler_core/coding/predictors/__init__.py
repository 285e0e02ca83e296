"""Field predictors: one module each behind the small interface of :mod:`.base`, found by name here.

``PREDICTORS`` is also the order the grid tries them in (which keeps files bit-identical from run to run);
``AUTO_PREDICTORS`` is what ``--field-predictor auto`` tries. A predictor imports only ``coding`` modules
below it (entropy, quantization) and ``errors``."""

from __future__ import annotations

from baler_core.coding.predictors import dct, interp, lorenzo, spline
from baler_core.coding.predictors.base import GridBlock, Predictor

PREDICTOR_REGISTRY: dict[str, Predictor] = {m.PREDICTOR.name: m.PREDICTOR for m in (lorenzo, interp, spline, dct)}
PREDICTORS = tuple(PREDICTOR_REGISTRY)
AUTO_PREDICTORS = ("lorenzo", "spline", "dct")  # interp never beat spline in our measurements


def predictor_for(rec: dict) -> Predictor:
    """The predictor that coded a grid record: the first whose key the record carries, else the plain grid
    (Lorenzo's decoder reads a record without a shape as the indices themselves)."""
    for pred in (spline.PREDICTOR, dct.PREDICTOR, interp.PREDICTOR):
        if any(rec.get(k) is not None for k in pred.keys):
            return pred
    return PREDICTOR_REGISTRY["lorenzo"]


__all__ = ["AUTO_PREDICTORS", "PREDICTORS", "PREDICTOR_REGISTRY", "GridBlock", "Predictor", "predictor_for"]
