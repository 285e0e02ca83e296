"""``lorenzo``: the N-d Lorenzo differences of the grid indices (an exact integer transform). Also the plain
column coding: a record without a block shape is the grid indices as they are."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from baler_core.coding.entropy import decode_ints
from baler_core.coding.predictors.base import (
    Candidate,
    GridBlock,
    Pending,
    Predictor,
    block_shape,
    grid_offsets,
    grid_values,
)
from baler_core.errors import FormatError


def lorenzo(r: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Exact integer N-d Lorenzo transform (differences along every axis) of quantized values: smooth fields
    leave small differences, which entropy-code far better than the values themselves."""
    d = r.reshape(shape)
    for axis in range(d.ndim):
        d = np.diff(d, axis=axis, prepend=0)
    return d.ravel()


def inverse_lorenzo(d: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Running sums along every axis. Along the outer axes a loop of in-place slice additions runs about
    ten times faster than ``np.cumsum`` (which walks those axes with strided inner loops)."""
    r = np.cumsum(d.reshape(shape), axis=-1, dtype=np.int64 if d.dtype.itemsize == 8 else np.int32)
    for axis in reversed(range(r.ndim - 1)):
        if r.shape[axis] > 4096:
            np.cumsum(r, axis=axis, out=r)
            continue
        v = np.moveaxis(r, axis, 0)
        for i in range(1, v.shape[0]):
            v[i] += v[i - 1]
    return r.ravel()



def _encode(b: GridBlock, variants: tuple | None = None) -> list[Candidate]:
    return [({"lorenzo": list(b.shape), "n_exceptions": b.n_exceptions},
             {**b.exceptions, "r": Pending(lorenzo(b.q, b.shape), b.entropy, b.level)}, None)]


def _decode(rec: dict, read: Callable[[str], bytes], n: int, dtype: np.dtype) -> np.ndarray:
    q = decode_ints(read("r"), n, narrow=True)
    if rec.get("lorenzo") is not None:
        q = inverse_lorenzo(q, block_shape(rec, "lorenzo", n))
    seed = rec.get("dither")
    if seed is not None and (not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise FormatError(f"grid column dither seed {seed!r} malformed")
    offsets = None if seed is None else grid_offsets(q, seed, dtype)
    return grid_values(q, float(rec["origin"]), float(rec["step"]), dtype, offsets)


PREDICTOR = Predictor("lorenzo", ("lorenzo",), _encode, _decode)
