"""The transform coder's spectral envelope (``predictors.dct``): the coefficient index space cut into at most
``ENV_BLOCKS`` blocks along each axis (block length ``ceil(n / ENV_BLOCKS)``, row-major), each block with a level
from 0 to ``MAX_LEVEL`` that groups (1.14) or places (1.15, ``dct_contexts``) its coefficients' streams."""

from __future__ import annotations

import math

import numpy as np

ENV_BLOCKS = 16  # envelope blocks along each axis
MAX_LEVEL = 100  # envelope levels lie in 0..MAX_LEVEL


def envelope_ids(shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """Each coefficient's envelope block (up to ``ENV_BLOCKS`` along each axis) and the number of blocks."""
    sizes = [-(-n // ENV_BLOCKS) for n in shape]
    nbs = [-(-n // size) for n, size in zip(shape, sizes)]
    itype = np.int32 if math.prod(nbs) < 2**31 else np.int64  # 4 bytes a value where the ids fit
    ids = np.zeros((1,) * len(shape), dtype=itype)
    for axis, (n, size, nb) in enumerate(zip(shape, sizes, nbs)):
        along = (np.arange(n, dtype=itype) // size).reshape([-1 if a == axis else 1 for a in range(len(shape))])
        ids = ids * itype(nb) + along
    return np.broadcast_to(ids, shape).ravel(), math.prod(nbs)


def envelope_cut(shape: tuple[int, ...]) -> np.ndarray:
    """Envelope block length along each axis, ``ceil(n / ENV_BLOCKS)`` (int64, as the kernels take it)."""
    return np.array([-(-n // ENV_BLOCKS) for n in shape], dtype=np.int64)


def envelope_sizes(shape: tuple[int, ...]) -> np.ndarray:
    """Coefficients in each envelope block, in the order of ``envelope_ids``."""
    sizes = np.ones(1, dtype=np.int64)
    for n in shape:
        size = -(-n // ENV_BLOCKS)
        along = np.minimum(size, n - size * np.arange(-(-n // size), dtype=np.int64))
        sizes = np.multiply.outer(sizes, along).ravel()
    return sizes
