"""Many streams' size estimates in one compiled call (``coding/estimates.py``): the very numbers
``entropy.estimate_ints`` gives each stream (constant, narrow, wide and hybrid-token streams, alphabets beyond
rANS's), and the transform coder's files unchanged by them."""

import numpy as np
import pytest

from baler_core.coding import entropy, jit
from baler_core.coding.error_bounds import Bound
from baler_core.coding.estimates import estimate_groups
from baler_core.coding.grid import encode_grid


@pytest.fixture
def warm(monkeypatch):
    if jit.module("estimate_kernels") is None:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(jit, "_active", True)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_each_streams_estimate_is_entropys(warm, dtype):
    rng = np.random.default_rng(5)
    parts = [np.full(40, 7), np.array([1, 2]), np.array([-5]), rng.integers(0, 2**20, 300),  # beyond rANS's
             np.array([0, 10**6] * 20)]  # alphabet, wide yet few distinct values
    for _ in range(40):  # short streams (tables weigh) and long, narrow and wide (hybrid tokens)
        n = int(rng.integers(1, 20000))
        scale = float(rng.choice([0.3, 2, 40, 3000]))
        parts.append(np.round(rng.laplace(0, scale, n)) + rng.integers(-50, 50))
    parts = [p.astype(dtype) for p in parts]
    values = np.concatenate(parts)
    ends = np.cumsum([p.size for p in parts])
    for method in ("ans", "auto"):
        got = estimate_groups(values, ends, method, 3)
        assert got == [entropy.estimate_ints(p, method, 3) for p in parts]
    assert estimate_groups(values, ends, "zstd", 3) is None


def test_without_the_kernels_no_batch(monkeypatch):
    monkeypatch.setattr(jit, "_active", False)
    assert estimate_groups(np.arange(10), np.array([4, 10]), "ans", 3) is None


def test_transform_files_are_the_same_with_batched_estimates(warm, monkeypatch):
    """A turbulence-like block coded by the transform: the same record and streams whether its coefficient
    streams' estimates come in one call or one by one."""
    from baler_core.coding.predictors import dct_contexts

    rng = np.random.default_rng(1)
    field = (np.cumsum(np.cumsum(rng.normal(size=(24, 48, 40)), axis=-1), axis=0) * 3).astype(np.float32)
    got = []
    for batched in (True, False):
        if not batched:
            monkeypatch.setattr(dct_contexts, "estimate_groups", lambda *a: None)
        got.append(encode_grid(field.ravel(), Bound("range", 1e-3), "ans", 3, field.shape, ("dct",)))
    assert got[0] == got[1]
