"""Later blocks of a sequential-model table reuse the first block's context splits (``codec.split_reuse``)."""

import numpy as np
import pytest
from test_codec import _assert_bound
from test_sequential import _table

from baler_core.codec import CompressionOptions, compress_table, decompress, split_reuse
from baler_core.coding import contexts
from baler_core.coding.column_choice import way_of
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.format.container import ContainerReader
from baler_core.training.loop import TrainConfig
from baler_core.training.train import ModelConfig, train_dataset

BOUND = "range=1e-3"


@pytest.fixture(scope="module")
def seq_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("reuse") / "seq.safetensors"
    bundle, _ = train_dataset(_table(3000, seed=7), path, ModelConfig(model="sequential", latent_dim=8),
                              TrainConfig(epochs=8, batch_size=256, device="cpu", loss="l1"))
    return bundle


def _compress(table, bundle, path, threads=1):
    opts = CompressionOptions(BoundSpec(parse_bound(BOUND)), block_rows=3000, threads=threads)
    compress_table([table], bundle, path, opts)
    with ContainerReader(path) as rd:
        return rd.header


def _sources(rec: dict) -> dict[str, list]:
    """Each split stream's context sources, without the edges."""
    return {key: [(i.get("col"), i.get("abs"), i.get("dither")) for i in rec[key]]
            for key in ("ctx", "zero_ctx", "flip_ctx") if key in rec}


def test_later_blocks_take_the_first_blocks_splits(seq_model, tmp_path):
    """Rows of one distribution in four blocks: every later block splits its streams by the first block's
    sources or not at all, never splits a stream the first block kept whole, and codes each column the way the
    first block chose; one thread and two write the same bytes; every value is within the bound."""
    table = _table(12000, seed=8)
    h = _compress(table, seq_model, tmp_path / "one.baler")
    _compress(table, seq_model, tmp_path / "two.baler", threads=2)
    assert (tmp_path / "one.baler").read_bytes() == (tmp_path / "two.baler").read_bytes()
    first = {c["name"]: r for c, r in zip(h["columns"], h["blocks"][0]["columns"])}
    assert any(_sources(r) for r in first.values()), "the first block splits no stream: nothing to reuse"
    reused = compared = 0
    for block in h["blocks"][1:]:
        for c, rec in zip(h["columns"], block["columns"]):
            mine, theirs = _sources(rec), _sources(first[c["name"]])
            assert all(mine[k] == theirs.get(k) for k in mine), c["name"]
            ways = way_of(rec), way_of(first[c["name"]])  # and the first block's choice of the three codings
            assert None in ways or ways[0] == ways[1], c["name"]
            compared += None not in ways
            reused += len(mine)
    assert reused > 0 and compared > 0
    back = decompress(tmp_path / "one.baler", seq_model)
    for c in table.columns:
        _assert_bound(table[c].to_numpy(), back[c].to_numpy(), parse_bound(BOUND))


def test_a_block_unlike_the_first_searches_its_own_splits(seq_model, tmp_path, monkeypatch):
    """A table sorted by pt: later blocks differ from the first (``drifted``), so the file is the one every
    block's own search writes; a shuffled table does not count as drifted."""
    table = _table(12000, seed=9)
    ordered = table.sort_values("pt", kind="stable").reset_index(drop=True)
    ref = split_reuse.profile(table.iloc[:3000], list(table.columns))
    assert not split_reuse.drifted(ref, table.iloc[3000:6000])
    assert split_reuse.drifted(split_reuse.profile(ordered.iloc[:3000], list(table.columns)), ordered.iloc[3000:6000])
    _compress(ordered, seq_model, tmp_path / "sorted.baler")
    monkeypatch.setattr(split_reuse.FirstBlock, "reuses", lambda self, chunk: False)
    _compress(ordered, seq_model, tmp_path / "searched.baler")
    assert (tmp_path / "sorted.baler").read_bytes() == (tmp_path / "searched.baler").read_bytes()
    _compress(table, seq_model, tmp_path / "mixed_searched.baler")
    monkeypatch.undo()
    _compress(table, seq_model, tmp_path / "mixed_reused.baler")
    assert (tmp_path / "mixed_reused.baler").read_bytes() != (tmp_path / "mixed_searched.baler").read_bytes()


def test_an_edge_too_near_this_blocks_values_moves_to_a_gap():
    """A reused edge with a value within half of GAP (relative) of it moves to the middle of the nearest gap
    wide enough; the groups then hold under a few ulps of change to every value; with no such gap the split is
    not reused."""
    rng = np.random.default_rng(3)
    c = np.sort(rng.uniform(1.0, 2.0, 20000))
    edges = np.array([1.25, c[10000], 1.75])  # the middle edge sits on a value
    recon = {"a": c}
    items = [{"col": "a", "abs": False, "edges": [float(e) for e in edges]}]
    g, k, fitted = split_reuse.reused_groups(items, c.size, recon, None)
    moved = np.asarray(fitted[0]["edges"])
    assert k == 4 and moved[0] == 1.25 and moved[2] == 1.75 and moved[1] != edges[1]
    assert abs(moved[1] - edges[1]) < 1e-3
    assert np.min(np.abs(c - moved[1])) > 0.5 * contexts.GAP * moved[1]
    for shift in (np.inf, -np.inf):
        wobbled = c.copy()
        for _ in range(8):
            wobbled = np.nextafter(wobbled, shift)
        g2, _ = contexts.item_groups(fitted, c.size, {"a": wobbled})
        np.testing.assert_array_equal(g, g2)
    dense = np.linspace(1.0, 2.0, 10_000_001)  # spacing 1e-7: no gap of 1e-6 relative anywhere
    assert split_reuse.reused_groups(items, dense.size, {"a": dense}, None) is None
    assert split_reuse.reused_groups([{"dither": "phase", "edges": [0.5]}], c.size, recon, None) is None

