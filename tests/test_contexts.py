"""Context-split residual streams: choice, robustness of the groups, round trip and damage."""

import numpy as np
import pytest

from baler_core.coding import contexts
from baler_core.coding.entropy import decode_ints, encode_ints
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


def _spike_column(n: int = 20000, seed: int = 4):
    """An energy fraction: 60 % exact zeros (the column minimum), predicted within about a grid step of zero,
    the rest spread and predicted roughly."""
    rng = np.random.default_rng(seed)
    zero = rng.uniform(size=n) < 0.6
    x = np.where(zero, 0.0, rng.beta(2, 5, n)).astype(np.float32)
    pred = np.where(zero, rng.uniform(0.0, 0.002, n), x + rng.normal(0, 0.01, n))
    return x, pred


def test_dither_position_split_makes_dithered_spikes_cheap():
    """A dithered zero's residual is minus the prediction's rounded grid position; split by that position
    (the decoder knows it), the spike costs about what it costs undithered, and the column decodes exactly as
    the encoder rebuilt it."""
    from baler_core.coding.columns import decode_column, dither_sources, dither_values, encode_column
    from baler_core.coding.error_bounds import Bound

    x, pred = _spike_column()
    bound = Bound("range", 1e-3)
    plain = encode_column(x, pred, bound, "auto", 9, aligned=True)
    rec, streams, out = encode_column(x, pred, bound, "auto", 9, aligned=True, dither=True)
    assert rec["mode"] == "dalin" and plain[0]["mode"] == "alin"
    r = decode_ints(streams["r"], x.size)
    got = contexts.choose(r, dither_sources(dither_values(rec, pred)), len(streams["r"]),
                          lambda r, g, k: contexts.encode_split(r, g, k, "auto", 9),
                          lambda r, g, k: contexts.estimate_split(r, g, k, "auto", 9))
    assert got is not None
    split, items = got
    assert any(item.get("dither") == "position" for item in items)
    assert sum(map(len, split.values())) < 0.8 * len(streams["r"])
    assert sum(map(len, split.values())) < 1.3 * len(plain[1]["r"])
    rec = {**rec, "ctx": items}
    streams = {k: v for k, v in streams.items() if k != "r"} | split
    back = decode_column(rec, streams.__getitem__, x.size, pred, x.dtype, {})
    np.testing.assert_array_equal(back, out)
    assert np.all(back[x == 0] == 0)


def test_dither_edges_keep_their_distance_from_predictions_computed_elsewhere():
    """The aligned modes' position depends on the prediction: a decoder whose prediction differs by less than
    the margin ``fragile`` allows still puts every row in the same group; the lin / log position is exact."""
    from baler_core.coding.quantization import dither_contexts

    x, pred = _spike_column(50000)
    offsets = np.random.default_rng(9).uniform(-0.5, 0.5, x.size)
    params = {"step": 0.002, "lo": 0.0}
    values, gap = dither_contexts("alin", pred, params, offsets)
    assert 1e-6 <= gap < 1e-5
    moved, _ = dither_contexts("alin", pred + 0.9 * gap * params["step"], params, offsets)
    for key, cls in (("position", contexts.IndexSource), ("phase", contexts.Source)):
        src = cls(values[key], gap=gap)
        for k in contexts.GROUPS:
            edges = src.edges(k)
            assert edges is not None
            np.testing.assert_array_equal(contexts.labels(moved[key], edges), contexts.labels(values[key], edges))
    assert np.all(np.abs(contexts.IndexSource(values["position"], gap=gap).edges(4) % 1 - 0.5) <= 1e-3)
    exact, gap = dither_contexts("lin", pred, params, offsets)
    assert gap == 0.0 and np.array_equal(exact["position"], -offsets)


def test_dither_context_records_checked():
    """A dither context in a column that is not dithered, or of an unknown kind, is a damaged record."""
    eta, r = _residuals_by_region(2000)
    dither = {"phase": np.zeros(r.size), "position": np.zeros(r.size)}
    for ctx, have in (([{"dither": "phase", "edges": [0.0]}], None),
                      ([{"dither": "offset", "edges": [0.0]}], dither),
                      ([{"dither": "phase"}], dither)):
        with pytest.raises(FormatError):
            contexts.decode_split(lambda k: b"", {"ctx": ctx}, r.size, None, "r", have)
    with pytest.raises(FormatError, match="outside a sequential block"):
        contexts.decode_split(lambda k: b"", {"ctx": [{"col": "eta", "abs": True, "edges": [1.0]}]}, r.size, None)


def test_sorted_quantiles_are_numpys():
    """The split search's quantiles of values sorted already are ``np.quantile``'s numbers, bit for bit (the
    edges of a dither split sit at the half steps of their floors): random values, repeats at quarter steps,
    two values, quantiles on and between the values."""
    rng = np.random.default_rng(8)
    for trial in range(400):
        n = 2 if trial < 4 else int(rng.integers(3, 2000))
        v = np.sort(rng.normal(0, rng.uniform(0.1, 100), n) if trial % 2 else np.floor(rng.uniform(-50, 50, n) * 4) / 4)
        q = np.arange(1, int(rng.choice([2, 4, 8, 16]))) / 16 if trial % 3 else rng.uniform(0, 1, 7)
        assert np.array_equal(contexts.sorted_quantiles(v, q), np.quantile(v, q))
