"""The compiled grouping of split streams (coding/group_kernels.py) gives the very arrays of grouping's numpy path:
labels (non-finite values last), refined groups, values gathered group by group and put back in row order."""

import numpy as np
import pytest

from baler_core.coding import grouping, jit

if jit.module("group_kernels") is None:
    pytest.skip("numba is not installed", allow_module_level=True)


def _values(rng: np.random.Generator, n: int, dtype) -> np.ndarray:
    c = rng.normal(size=n) * 10
    if np.dtype(dtype).kind == "f":
        c[rng.random(n) < 0.02] = np.nan
        c[rng.random(n) < 0.01] = np.inf
        c[rng.random(n) < 0.01] = -np.inf
    return c.astype(dtype) if np.dtype(dtype).kind == "f" else np.rint(np.nan_to_num(c)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_kernels_group_as_numpy(monkeypatch, dtype):
    rng = np.random.default_rng(4)
    for trial in range(12):
        n = int(rng.choice([0, 1, 7, 5000]))
        splits, values = [], {}
        for s in range(int(rng.integers(1, 3))):
            edges = np.unique(rng.normal(size=int(rng.choice([1, 3, 15, 63]))) * 10)
            if trial % 3 == 0:
                edges = np.unique(np.rint(edges))  # values equal to an edge go above it
            values[(f"c{s}", False)] = _values(rng, n, dtype)
            splits.append((f"c{s}", False, edges))
        r = rng.integers(-50, 50, n)
        out = {}
        for on in (False, True):
            monkeypatch.setattr(jit, "_active", on)
            name, _, edges = splits[0]
            g, k = grouping.group_of(splits, values, n)
            parts = grouping.by_group(r, g, k)
            out[on] = (grouping.labels(values[(name, False)], edges), g, k, parts, grouping.ungroup(parts, g, k))
        (l0, g0, k0, p0, u0), (l1, g1, k1, p1, u1) = out[False], out[True]
        assert k0 == k1 and np.array_equal(l0, l1) and np.array_equal(g0, g1) and g1.dtype == np.int64
        assert len(p0) == len(p1) == k0 and all(np.array_equal(a, b) for a, b in zip(p0, p1))
        assert np.array_equal(u0, r) and np.array_equal(u1, r) and u1.dtype == np.int64


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_edge_check_as_numpy(monkeypatch, dtype):
    """The reused splits' edge check (split_reuse.edges_near) flags the same edges compiled or not: those a
    finite value comes within tolerance of (exactly at it: clear; on it: near)."""
    from baler_core.codec.split_reuse import edges_near

    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.choice([0, 1, 9, 3000]))
        c = _values(rng, n, dtype)
        edges = np.unique((rng.normal(size=int(rng.choice([1, 4, 63]))) * 10).astype(dtype).astype(np.float64))
        if trial % 4 == 0 and n:  # values on edges and exactly a tolerance away
            c[: edges.size] = edges[: n].astype(dtype)
        tol = np.full(edges.size, float(rng.choice([0.0, 1e-3, 0.5])))
        if trial % 4 == 1 and n:
            c[: edges.size] = (edges + tol)[: n].astype(dtype)
        fin = c[np.isfinite(c)].astype(np.float64)  # as reused_groups gives it
        got = {}
        for on in (False, True):
            monkeypatch.setattr(jit, "_active", on)
            got[on] = edges_near(fin, edges, tol)
        want = got[False]
        assert np.array_equal(got[True], want)
        assert want.any() or trial % 4 or not n  # values put on edges are caught


def test_block_profile_as_numpy(monkeypatch):
    """A block's quantile-bin fractions (split_reuse.profile, the drift test) are the same compiled or not,
    non-finite values counted in the last bin."""
    import pandas as pd

    from baler_core.codec import split_reuse

    rng = np.random.default_rng(3)
    chunk = pd.DataFrame({"f32": _values(rng, 20000, np.float32), "f64": _values(rng, 20000, np.float64),
                          "i64": _values(rng, 20000, np.int64), "flag": rng.random(20000) < 0.3})
    other = chunk.sample(frac=1.0, random_state=1).reset_index(drop=True) * 1.01
    got = {}
    for on in (False, True):
        monkeypatch.setattr(jit, "_active", on)
        ref = split_reuse.profile(chunk, list(chunk.columns))
        got[on] = (ref, split_reuse.profile(other, list(chunk.columns), ref))
    for a, b in zip(got[False], got[True]):
        for name in chunk.columns:
            assert np.array_equal(a[name][0], b[name][0]) and np.array_equal(a[name][1], b[name][1]), name
    assert got[True][0]["f32"][1][-1] > 0  # the non-finite values have their bin
