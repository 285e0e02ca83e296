"""``interp``: multi-level cubic interpolation of the grid indices, an exact integer transform (one stream
per level, ``r<level>``). Kept for reading files and for ``--field-predictor interp``; ``auto`` leaves it out
because the spline, which predicts from reconstructed values, always coded smaller in our measurements."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from baler_core.coding.entropy import decode_ints
from baler_core.coding.predictors.base import Candidate, GridBlock, Pending, Predictor, block_shape, grid_values
from baler_core.coding.predictors.levels import fill_levels, ix, predict, slots


def interp_forward(q: np.ndarray) -> list[np.ndarray]:
    """Residuals of the multi-level interpolation, one array per level (coarsest first); the first entry is
    the anchor (the value at the origin). Exact and invertible: integer predictions of integer indices."""
    q = q.astype(np.int64)
    out: list[list[np.ndarray]] = [[q[(0,) * q.ndim].reshape(1)]]
    for slot, d, sl in slots(q.shape):
        v = q[sl]
        tgt = v[ix(v.ndim, d, slice(1, None, 2))]
        if slot + 1 == len(out):
            out.append([])
        out[slot + 1].append((tgt - predict(v, d)).ravel())
    return [np.concatenate(parts) for parts in out]


def interp_level_sizes(shape: tuple[int, ...]) -> list[int]:
    """Values per stream of :func:`interp_forward`: the anchor, then each level's targets."""
    sizes = [1]
    for slot, d, sl in slots(shape):
        n = [len(range(*s.indices(dim))) for s, dim in zip(sl, shape)]
        n[d] //= 2
        if slot + 1 == len(sizes):
            sizes.append(0)
        sizes[slot + 1] += math.prod(n)
    return sizes



def interp_inverse(parts: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    q = np.zeros(shape, dtype=np.int64)
    q[(0,) * len(shape)] = parts[0][0]
    return fill_levels(q, parts[1:], lambda v, d, res: predict(v, d) + res)



def _encode(b: GridBlock, variants: tuple | None = None) -> list[Candidate]:
    parts = interp_forward(b.q.reshape(b.shape))
    return [({"interp": list(b.shape), "n_exceptions": b.n_exceptions},
             {**b.exceptions, **{f"r{i}": Pending(part, b.entropy, b.level) for i, part in enumerate(parts)}}, None)]


def _decode(rec: dict, read: Callable[[str], bytes], n: int, dtype: np.dtype) -> np.ndarray:
    shape = block_shape(rec, "interp", n)
    parts = [decode_ints(read(f"r{i}"), size) for i, size in enumerate(interp_level_sizes(shape))]
    return grid_values(interp_inverse(parts, shape).ravel(), float(rec["origin"]), float(rec["step"]), dtype)


PREDICTOR = Predictor("interp", ("interp",), _encode, _decode)
