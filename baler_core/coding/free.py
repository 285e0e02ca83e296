"""Model-free coding of a column or field block: the grid where it applies, else the general column path
against a constant prediction."""

from __future__ import annotations

import numpy as np

from baler_core.coding.columns import decode_column, encode_column, free_center, free_pred
from baler_core.coding.error_bounds import Bound
from baler_core.coding.grid import encode_grid
from baler_core.coding.lossless import encode_exact
from baler_core.coding.options import CompressionOptions
from baler_core.coding.predictors import AUTO_PREDICTORS
from baler_core.coding.rms import encode_rms
from baler_core.errors import InputError


def encode_free_column(x: np.ndarray, bound: Bound, opts: CompressionOptions,
                        shape: tuple[int, ...] | None = None) -> tuple[dict, dict[str, bytes]]:
    """Code a column without a model: on its grid where that applies, else the general path against a
    constant prediction (stored as ``pred``)."""
    if bound.kind == "rms":
        def code(b: Bound) -> tuple:
            rec, streams = encode_free_column(x, b, opts, shape)
            return rec, streams, decode_column(rec, streams.__getitem__, x.size, free_pred(rec, x.size), x.dtype)

        return encode_rms(x.ravel(), bound, code)[:2]
    if bound.kind == "none":
        raise InputError("compressing without a model needs an error bound (abs=, rel=, range= or exact)")
    if bound.kind == "exact":
        return encode_exact(x, opts.level)[:2]
    predictors = AUTO_PREDICTORS if opts.field_predictor == "auto" else (opts.field_predictor,)
    got = encode_grid(x, bound, opts.entropy, opts.level, shape, predictors, dither=opts.dither)
    if got is not None:
        return got
    center = free_center(x, bound) if shape is None else 0.0
    rec, streams, _ = encode_column(x.ravel(), np.full(x.size, center), bound, opts.entropy, opts.level, shape,
                                     stored_pred=True, dither=opts.dither and shape is None)
    return {**rec, "pred": center}, streams
