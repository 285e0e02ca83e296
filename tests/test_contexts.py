"""Context-split residual streams: choice, robustness of the groups, round trip and damage."""

import numpy as np
import pytest

from baler_core.coding import contexts
from baler_core.coding.entropy import encode_ints
from baler_core.errors import FormatError


def _residuals_by_region(n: int = 20000, seed: int = 0):
    """Residuals that are zero for |eta| < 3 and wide beyond, as an HF energy's are."""
    rng = np.random.default_rng(seed)
    eta = rng.normal(0, 2, n).astype(np.float32)
    r = np.where(np.abs(eta) > 3, np.rint(rng.laplace(0, 20, n)), 0).astype(np.int64)
    return eta, r


def test_split_chosen_by_the_informative_column_and_smaller():
    eta, r = _residuals_by_region()
    noise = np.random.default_rng(1).uniform(0, 1, eta.size).astype(np.float32)
    sources = {**contexts.sources_of("noise", noise), **contexts.sources_of("eta", eta)}
    (name, magnitude, edges), g, k = contexts.ranked(r, sources)[0]
    assert (name, magnitude) == ("eta", True)
    streams = contexts.encode_split(r, g, k, "auto", 9)
    assert sum(map(len, streams.values())) < 0.8 * len(encode_ints(r, "auto"))
    rec = {"ctx": [{"col": name, "abs": magnitude, "edges": edges.tolist()}]}
    back = contexts.decode_split(streams.__getitem__, rec, r.size, {"eta": eta, "noise": noise})
    np.testing.assert_array_equal(back, r)


def test_no_split_where_nothing_informs_the_residuals():
    rng = np.random.default_rng(2)
    r = np.rint(rng.laplace(0, 5, 20000)).astype(np.int64)
    assert contexts.ranked(r, contexts.sources_of("u", rng.uniform(size=r.size))) == []
    assert contexts.ranked(r[:500], contexts.sources_of("u", rng.uniform(size=500))) == []  # too few rows


def test_edges_sit_in_gaps_so_ulp_differences_keep_every_group():
    """Values rebuilt a few ulps apart on another machine fall into the same group."""
    rng = np.random.default_rng(3)
    c = np.round(rng.normal(0, 1, 50000), 3)  # many repeated values, gaps of 1e-3 between them
    src = contexts.Source(c)
    for k in contexts.GROUPS:
        edges = src.edges(k)
        assert edges is not None and np.all(np.diff(edges) > 0) and len(edges) <= k - 1
        g = contexts.labels(c, edges)
        for direction in (np.inf, -np.inf):
            moved = c
            for _ in range(4):
                moved = np.nextafter(moved, direction)
            np.testing.assert_array_equal(contexts.labels(moved, edges), g)
    assert contexts.Source(np.ones(100)).edges(4) is None  # one distinct value: no edge


def test_damaged_context_records_raise():
    eta, r = _residuals_by_region(5000)
    sources = contexts.sources_of("eta", eta)
    (name, magnitude, edges), g, k = contexts.ranked(r, sources)[0]
    streams = contexts.encode_split(r, g, k, "auto", 9)
    good = [{"col": name, "abs": magnitude, "edges": edges.tolist()}]
    bad_records = [
        [{**good[0], "col": "later"}],  # not decoded before
        [{**good[0], "edges": good[0]["edges"][::-1] + [0.0]}],  # not increasing
        [{**good[0], "abs": "yes"}],
        [{"col": "eta"}],
        "eta",
    ]
    for ctx in bad_records:
        with pytest.raises(FormatError):
            contexts.decode_split(streams.__getitem__, {"ctx": ctx}, r.size, {"eta": eta})
    with pytest.raises(FormatError):  # the context column must have the block's length
        contexts.decode_split(streams.__getitem__, {"ctx": good}, r.size, {"eta": eta[:-1]})


def test_long_or_wide_context_records_refused_before_any_pass():
    eta, r = _residuals_by_region(2000)
    item = {"col": "eta", "abs": True, "edges": [1.0, 2.0, 3.0]}
    for ctx in ([item] * 5, [item, item, item]):  # 5 splits; 4 * 4 * 4 = 64 groups
        with pytest.raises(FormatError):
            contexts.decode_split(lambda k: b"", {"ctx": ctx}, r.size, {"eta": eta})
    assert contexts.sources_of("h", np.ones(10, dtype=np.float16)) == {}
