"""Frozen files of every format version (tests/fixtures/format-1.X, written by the baler of that version with
``tests/fixtures/make_fixtures.sh``) decode bit-exactly to what that version decoded them to."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baler_core.codec import decompress, file_info, inner_reader
from baler_core.codec.events import decompress_events
from baler_core.codec.gridded import decompress_gridded
from baler_core.errors import FormatError
from baler_core.format.container import ContainerReader
from baler_core.io.events import to_awkward

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FILES = sorted(FIXTURES.glob("format-*/*.baler"))
VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9", "1.10", "1.11", "1.12", "1.13",
            "1.14")
EVENTS_FROM = "1.6"  # the first version with the events kind
GRIDDED_FROM = "1.7"  # N x D x H x W fields, the gridded kind (HDF5 / NetCDF / zarr) and the dithered grid
DITHERED_FROM = "1.8"  # dithered residuals of model-coded table columns; the table-rel and conv3d fixtures
DITHER_CONTEXT_FROM = "1.9"  # residuals split by their dither position / phase; the table-seq fixture
RESGRID_FROM = "1.10"  # a model's prediction plus a grid-coded residual (pod); the field-pod fixture
PRIORS_FROM = "1.11"  # streams coded against the model's priors (one prior section a block); the table-prior fixture
INNER_FROM = "1.12"  # the table-prior fixture's column records against its decoder's header template (section head)


def test_every_format_version_has_fixtures():
    have = {p.parent.name.removeprefix("format-") for p in FILES}
    assert have == set(VERSIONS)
    kinds = {(p.parent.name, p.stem.split("-")[0]) for p in FILES}
    assert all((f"format-{v}", k) in kinds for v in VERSIONS for k in ("table", "field"))
    assert all((f"format-{v}", "events") in kinds for v in VERSIONS[VERSIONS.index(EVENTS_FROM):])
    assert all((f"format-{v}", k) in kinds for v in VERSIONS[VERSIONS.index(GRIDDED_FROM):]
               for k in ("field3d", "gridded"))
    names = {(p.parent.name, p.stem) for p in FILES}
    assert all((f"format-{v}", s) in names for v in VERSIONS[VERSIONS.index(DITHERED_FROM):]
               for s in ("table-rel", "field3d-conv3d"))


@pytest.mark.parametrize("version", VERSIONS[VERSIONS.index(DITHERED_FROM):])
def test_model_table_fixtures_hold_dithered_residuals(version):
    """From 1.8 the model-coded columns of tables are dithered: the fixtures must exercise those modes."""
    modes = set()
    for stem in ("table-dense", "table-rel"):
        with ContainerReader(FIXTURES / f"format-{version}" / f"{stem}.baler") as rd:
            modes |= {rec["mode"] for b in rd.header["blocks"] for rec in b["columns"]}
    assert modes & {"dlin", "dalin"} and modes & {"dlog", "dalog"}, modes


@pytest.mark.parametrize("version", VERSIONS[VERSIONS.index(DITHER_CONTEXT_FROM):])
def test_sequential_fixture_splits_residuals_by_dither_context(version):
    """From 1.9 a sequential table's dithered residuals may be split by their dither position or phase: the
    table-seq fixture (the sequential model, decoder embedded) must exercise both."""
    with ContainerReader(FIXTURES / f"format-{version}" / "table-seq.baler") as rd:
        assert rd.header["model"]["name"] == "sequential" and rd.header["model"]["embedded"]
        kinds = {item.get("dither") for b in rd.header["blocks"] for rec in b["columns"] for item in rec.get("ctx", [])}
    assert {"position", "phase"} <= kinds, kinds


@pytest.mark.parametrize("version", VERSIONS[VERSIONS.index(RESGRID_FROM):])
def test_pod_fixture_codes_residuals_on_the_grid(version):
    """From 1.10 a field block may be the model's prediction plus its residual on the grid (``resgrid``): the
    field-pod fixture (a pod model, its decoder on a grid and embedded) must exercise it."""
    with ContainerReader(FIXTURES / f"format-{version}" / "field-pod.baler") as rd:
        h = rd.header
    assert h["model"]["name"] == "pod" and h["model"]["embedded"]
    assert {b["columns"][0]["mode"] for b in h["blocks"] if b["predictor"] == "model"} == {"resgrid"}


@pytest.mark.parametrize("version", VERSIONS[VERSIONS.index(PRIORS_FROM):])
def test_prior_fixture_codes_its_streams_against_the_model_priors(version):
    """From 1.11 a sequential model may carry priors: the table-prior fixture's residuals are all coded against
    them, in one section, and its embedded decoder holds them."""
    with ContainerReader(FIXTURES / f"format-{version}" / "table-prior.baler") as rd:
        if VERSIONS.index(version) >= VERSIONS.index(INNER_FROM):  # against the decoder's header template
            assert rd.header["inner"] == "head" and "blocks" not in rd.header
            inner_reader(None)(rd)
        h = rd.header
        assert h["priors"] == "range=0.001" and h["model"]["embedded"]
        assert all(rec.get("prior") == ["r"] for rec in h["blocks"][0]["columns"])
        assert "b0/prior" in h["sections"] and not any(k.endswith("/r") for k in h["sections"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_decodes_bit_exactly(path):
    with ContainerReader(path) as rd:
        assert ".".join(map(str, rd.version)) == path.parent.name.removeprefix("format-")
    if path.stem.startswith("events"):
        _check_events(path)
        return
    if path.stem.startswith("gridded"):
        _check_gridded(path)
        return
    got = decompress(path)
    if path.stem.startswith("field"):
        want = np.load(path.with_suffix(".npy"))
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want, equal_nan=True)
    else:
        want = pd.read_parquet(path.with_suffix(".parquet"))
        assert list(got.columns) == list(want.columns)
        for c in want.columns:
            assert got[c].dtype == want[c].dtype, c
            assert np.array_equal(got[c].to_numpy(), want[c].to_numpy(), equal_nan=True), c
    info = file_info(path)
    assert info["rows"] == len(got) and info["compressed_bytes"] > 0


def _check_events(path: Path) -> None:
    """Events come back with the same events, counts, dtypes and bits as the old decoder wrote to Parquet."""
    import awkward as ak

    ev = decompress_events(path)
    got = to_awkward(ev)
    want = ak.from_parquet(path.with_suffix(".parquet"))
    assert ev.n_events == len(want) and ev.tree == "Events" and ev.layout == "ttree"
    for name in want.fields:
        w, g = want[name], got[name]
        if isinstance(g, ak.Array):  # a collection: same counts, then every field bit for bit
            assert ak.all(ak.num(w) == ak.num(g)), name
            for f in w.fields:
                wf, gf = ak.to_numpy(ak.flatten(w[f])), ak.to_numpy(ak.flatten(g[f]))
                assert wf.dtype == gf.dtype and np.array_equal(wf, gf), f"{name}.{f}"
        else:
            wn = ak.to_numpy(w)
            assert wn.dtype == g.dtype and np.array_equal(wn, g), name
    assert {c.name for c in ev.collections} == {"Jet", "Muon"}
    assert file_info(path)["compressed_bytes"] > 0


def _check_gridded(path: Path) -> None:
    """Every variable back with its name, dtype, shape, attributes and bits, as the old decoder wrote them."""
    h5py = pytest.importorskip("h5py", reason="h5py is not installed (the cfd extra)")
    variables, attrs, fmt = decompress_gridded(path)
    with h5py.File(path.with_suffix(".h5"), "r") as want:
        assert fmt == "hdf5" and attrs == {k: v.item() if hasattr(v, "item") else v for k, v in want.attrs.items()}
        assert [v.name for v, _ in variables] == list(want)
        for var, arr in variables:
            w = want[var.name]
            assert arr.dtype == w.dtype and arr.shape == w.shape and np.array_equal(arr, w[...]), var.name
            assert var.attrs == {k: (v.item() if hasattr(v, "item") else v) for k, v in w.attrs.items()}


MODEL_FILES = [p for p in FILES if not p.stem.endswith("-none")]


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_model_fixture_really_used_its_model(path):
    """A "with model" fixture that the model-free coding won would test nothing of the model path."""
    with ContainerReader(path) as rd:
        h = rd.header
    assert h["model"]["name"] in ("dense", "conv2d", "conv3d", "sequential", "pod") and h["model"].get("used", True)
    assert "decoder" in h["sections"], "decoder not embedded"
    if h["model"]["name"] != "sequential":  # the sequential model predicts from earlier columns, no latent
        assert any("/latent/" in s for s in h["sections"]), "no latent stored"
    if path.stem.startswith("field"):  # 1.1 on: a field's blocks say which predictor coded them
        assert all(b.get("predictor", "model") == "model" for b in h["blocks"])
    assert file_info(path)["decoder_bytes"] > 0


def test_model_free_fixtures_store_no_model():
    free = [p for p in FILES if p.stem.endswith("-none")]
    n_events = len(VERSIONS) - VERSIONS.index(EVENTS_FROM)
    n_gridded = len(VERSIONS) - VERSIONS.index(GRIDDED_FROM)
    assert len(free) == 2 * (len(VERSIONS) - 1) + n_events + 2 * n_gridded  # 1.0 had no model-free mode
    for path in free:
        with ContainerReader(path) as rd:
            assert rd.header["model"]["name"] == "none" and "decoder" not in rd.header["sections"]


def test_prerelease_format_1_0_without_section_crcs_is_refused_by_name():
    """1.0 files written before the per-section CRC (never released) say so, not "lies outside the body"."""
    path = FIXTURES / "prerelease-1.0-no-crc.baler"
    with pytest.raises(FormatError, match="format 1.0 without section CRCs.*not supported"):
        ContainerReader(path)
    with pytest.raises(FormatError, match="not supported"):
        decompress(path)


def test_nested_files_list_the_bytes_of_their_own_columns():
    """``baler info --columns`` of events and gridded files names branches and variables, not sections."""
    from baler_core.codec import column_costs

    d = FIXTURES / "format-1.7"
    events = {r["column"]: r for r in column_costs(d / "events-none.baler")}
    ev = decompress_events(d / "events-none.baler")
    assert set(events) == {c for _, t in ev.parts() for c in t.columns}
    assert events["Jet_pt"]["modes"] == "exact" and events["Jet_eta"]["bits_per_value"] > 0
    grid = {r["column"]: r for r in column_costs(d / "gridded-none.baler")}
    assert set(grid) == {"u", "p", "mask"} and grid["mask"]["modes"] == "exact"
    assert sum(r["bytes"] for r in grid.values()) <= (d / "gridded-none.baler").stat().st_size
