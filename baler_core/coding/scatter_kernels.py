"""Transform coefficients put back in place from their per-level streams (``predictors.dct``), in one compiled
pass (numba, the GIL released): coefficient ``i`` takes the next value of the stream of its envelope block's
level. numpy needs a stable sort of every coefficient by level and a scattered write for the same (17 % of a
turbulence field's decoding); the values are the same either way (``tests/test_transform.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def ungroup(levels: np.ndarray, ids: np.ndarray, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``out[i] = values[p]``, ``p`` the next unread position of group ``levels[ids[i]]``, whose values begin at
    ``starts[group]`` in ``values`` (the groups' values concatenated)."""
    pos = starts.copy()
    out = np.empty(ids.size, dtype=np.int64)
    for i in range(ids.size):
        g = levels[ids[i]]
        out[i] = values[pos[g]]
        pos[g] += 1
    return out
