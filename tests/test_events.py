"""HEP events kept whole: NanoAOD-like TTrees and RNTuples through `baler compress` / `decompress`."""

from __future__ import annotations

import json
import subprocess
import sys

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import uproot

from baler_core.cli.main import main
from baler_core.codec import CompressionOptions, file_info
from baler_core.codec.events import compress_events, decompress_events
from baler_core.coding.error_bounds import load_bound_spec
from baler_core.errors import FormatError, InputError
from baler_core.io.events import Collection, Events, read_events, write_events
from baler_core.sim.nanoaod import nanoaod_events, write_nanoaod

N = 2000
REL = 1e-3


def _assert_same_events(orig: dict, back: ak.Array, rel: float) -> None:
    """Same events, identical counts per collection, integers exact, floats within ``rel`` of each value."""
    assert len(back) == len(orig["run"])
    for name, want in orig.items():
        got = back[name]
        if isinstance(want, np.ndarray):
            got_np = ak.to_numpy(got)
            assert got_np.dtype == want.dtype, name
            _assert_values(want, got_np, rel, name)
            continue
        np.testing.assert_array_equal(ak.to_numpy(ak.num(got, axis=1)), ak.to_numpy(ak.num(want, axis=1)), name)
        for field in want.fields:
            w, g = ak.to_numpy(ak.flatten(want[field])), ak.to_numpy(ak.flatten(got[field]))
            assert g.dtype == w.dtype, f"{name}.{field}"
            _assert_values(w, g, rel, f"{name}.{field}")


def _assert_values(want: np.ndarray, got: np.ndarray, rel: float, name: str) -> None:
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want, err_msg=name)
    else:
        w, g = want.astype(np.float64), got.astype(np.float64)
        assert np.all(np.abs(g - w) <= rel * np.abs(w) * (1 + 1e-6)), name


@pytest.mark.parametrize("layout", ["ttree", "rntuple"])
def test_events_round_trip_through_the_cli(tmp_path, layout):
    src, packed, back = tmp_path / "nano.root", tmp_path / "nano.baler", tmp_path / "back.root"
    write_nanoaod(src, N, seed=3, layout=layout)
    orig = nanoaod_events(N, seed=3)
    assert main(["compress", str(src), "-m", "none", "--error-bound", f"rel={REL}", "-o", str(packed)]) == 0
    src_keys = uproot.open(src)["Events"].keys()
    src.unlink()  # decompression needs only the .baler file
    assert main(["decompress", str(packed), "-o", str(back)]) == 0
    obj = uproot.open(back)["Events"]
    assert type(obj).__name__.endswith("RNTuple") == (layout == "rntuple")
    assert obj.keys() == src_keys  # same tree name, branch names, counters and order
    arrays = obj.arrays()
    if layout == "ttree":  # NanoAOD naming back into records
        arrays = ak.zip({"run": arrays["run"], "luminosityBlock": arrays["luminosityBlock"],
                         "event": arrays["event"], "genWeight": arrays["genWeight"], "MET_pt": arrays["MET_pt"],
                         **{c: ak.zip({f: arrays[f"{c}_{f}"] for f in orig[c].fields}) for c in ("Jet", "Muon")}},
                        depth_limit=1)
        np.testing.assert_array_equal(ak.to_numpy(obj["nJet"].array()), ak.to_numpy(ak.num(orig["Jet"])))
    _assert_same_events(orig, arrays, REL)
    assert np.sum(ak.num(orig["Jet"]) == 0) > 0 and np.sum(ak.num(arrays["Jet"]) == 0) == np.sum(
        ak.num(orig["Jet"]) == 0)  # empty events kept


def test_ttree_to_rntuple_and_parquet_events(tmp_path):
    src, packed = tmp_path / "nano.root", tmp_path / "nano.baler"
    write_nanoaod(src, 500, seed=4)
    orig = nanoaod_events(500, seed=4)
    assert main(["compress", str(src), "-m", "none", "--error-bound", f"rel={REL}", "-o", str(packed)]) == 0
    assert main(["decompress", str(packed), "-o", str(tmp_path / "rn.root"), "--format", "rntuple"]) == 0
    rn = uproot.open(tmp_path / "rn.root")["Events"]
    assert type(rn).__name__.endswith("RNTuple")
    _assert_same_events(orig, rn.arrays(), REL)
    assert main(["decompress", str(packed), "-o", str(tmp_path / "ev.parquet")]) == 0
    pq = ak.from_parquet(tmp_path / "ev.parquet")
    assert "nJet" not in pq.fields  # list columns carry the counts
    _assert_same_events(orig, pq, REL)


def test_raw_bytes_count_every_value_once(tmp_path):
    src = write_nanoaod(tmp_path / "nano.root", 800, seed=5)
    ev = read_events(src)
    orig = nanoaod_events(800, seed=5)
    per_event = sum(v.nbytes for v in orig.values() if isinstance(v, np.ndarray)) + 2 * 4 * 800  # + nJet, nMuon
    objects = sum(ak.to_numpy(ak.flatten(orig[c][f])).nbytes for c in ("Jet", "Muon") for f in orig[c].fields)
    assert ev.raw_bytes() == per_event + objects
    compress_events(ev, None, tmp_path / "x.baler", CompressionOptions(load_bound_spec("range=1e-3")))
    info = file_info(tmp_path / "x.baler")
    assert info["kind"] == "events" and info["rows"] == 800 and info["raw_bytes"] == per_event + objects
    # the old flattening (one row per jet, per-event values repeated, empty events dropped) counted more
    n_jets = int(ak.sum(ak.num(orig["Jet"])))
    per_event_row = sum(v.itemsize for v in orig.values() if isinstance(v, np.ndarray))
    jet_row = sum(ak.to_numpy(ak.flatten(orig["Jet"][f])).itemsize for f in orig["Jet"].fields)
    assert info["raw_bytes"] < n_jets * (per_event_row + jet_row)


def test_per_column_bounds_and_exact_integers(tmp_path):
    src = write_nanoaod(tmp_path / "nano.root", 600, seed=6)
    bounds = tmp_path / "b.yaml"
    bounds.write_text("default: range=1e-2\ncolumns:\n  Jet_pt: rel=1e-4\n  genWeight: abs=1e-6\n")
    out = tmp_path / "x.baler"
    assert main(["compress", str(src), "-m", "none", "--error-bound-file", str(bounds), "-o", str(out)]) == 0
    ev, orig = decompress_events(out), read_events(src)
    jets, jets0 = ev.collections[0].objects, orig.collections[0].objects
    pt, pt0 = jets["Jet_pt"].to_numpy(np.float64), jets0["Jet_pt"].to_numpy(np.float64)
    assert np.all(np.abs(pt - pt0) <= 1e-4 * np.abs(pt0) * (1 + 1e-6))
    eta, eta0 = jets["Jet_eta"].to_numpy(np.float64), jets0["Jet_eta"].to_numpy(np.float64)
    assert np.all(np.abs(eta - eta0) <= 1e-2 * np.ptp(eta0) * (1 + 1e-6)) and not np.array_equal(eta, eta0)
    for c in ("Jet_jetId", "Jet_nConstituents", "Jet_puId"):
        np.testing.assert_array_equal(jets[c], jets0[c])
    for c in ("run", "luminosityBlock", "event", "nJet", "nMuon"):
        np.testing.assert_array_equal(ev.per_event[c], orig.per_event[c])
        assert ev.per_event[c].dtype == orig.per_event[c].dtype
    np.testing.assert_allclose(ev.per_event["genWeight"], orig.per_event["genWeight"], atol=1e-6, rtol=0)


def test_model_codes_its_collection(tmp_path):
    """A model trained on the flattened jets codes the Jet collection; the rest is coded without it."""
    src = write_nanoaod(tmp_path / "nano.root", 1500, seed=7)
    model = tmp_path / "m.safetensors"
    sel = ["--branches", "Jet_pt,Jet_eta,Jet_phi,Jet_mass"]
    assert main(["train", str(src), "-o", str(model), "--epochs", "3", "--latent-dim", "2", "--seed", "0",
                 "--tree", "Events", *sel]) == 0
    out = tmp_path / "x.baler"
    assert main(["compress", str(src), "-m", str(model), "-o", str(out), "--error-bound", "rel=1e-3",
                 "--branches", "Jet_pt,Jet_eta,Jet_phi,Jet_mass,MET_pt,event"]) == 0
    info = file_info(out)
    assert info["model"]["part"] == "Jet" and info["model"]["used"] and not info["decoder_embedded"]
    with pytest.raises(InputError, match="no decoder embedded"):
        decompress_events(out)
    ev = decompress_events(out, _load(model))
    orig = read_events(src, branches=["Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "MET_pt", "event"])
    assert list(ev.per_event.columns) == list(orig.per_event.columns) == ["MET_pt", "event", "nJet"]
    for c in orig.collections[0].objects.columns:
        a, b = orig.collections[0].objects[c].to_numpy(np.float64), ev.collections[0].objects[c].to_numpy(np.float64)
        assert np.all(np.abs(a - b) <= 1e-3 * np.abs(a) * (1 + 1e-6)), c
    # a model whose columns fit no part is refused, naming the parts
    with pytest.raises(InputError, match="Jet: Jet_pt"):
        compress_events(read_events(src), _load(model), tmp_path / "y.baler",
                        CompressionOptions(load_bound_spec("rel=1e-3")), "nano")


def _load(path):
    from baler_core.models.store import load_model

    return load_model(path)


def test_flatten_keeps_the_old_one_row_per_object_table(tmp_path):
    src = write_nanoaod(tmp_path / "nano.root", 300, seed=8)
    out = tmp_path / "flat.baler"
    assert main(["compress", str(src), "-m", "none", "--error-bound", "range=1e-3", "--flatten",
                 "--branches", "Jet_*", "-o", str(out)]) == 0
    info = file_info(out)
    assert info["kind"] == "table" and info["rows"] == int(ak.sum(ak.num(nanoaod_events(300, seed=8)["Jet"])))


def test_bad_event_input_is_named(tmp_path, capsys):
    src = write_nanoaod(tmp_path / "nano.root", 50, seed=9)
    with pytest.raises(InputError, match="tree 'Nope' not found; trees in file: Events"):
        read_events(src, tree="Nope")
    with pytest.raises(InputError, match="branch 'Tau_\\*' matches nothing"):
        read_events(src, branches=["Tau_*"])
    deep = tmp_path / "deep.root"
    with uproot.recreate(deep) as f:
        f["Events"] = {"x": np.arange(3, dtype=np.float32),
                       "nested": ak.Array([[[1.0, 2.0]], [], [[3.0]]])}
    with pytest.raises(InputError, match="'nested'"):
        read_events(deep)
    bounds = tmp_path / "b.yaml"
    bounds.write_text("columns:\n  Jet_ptt: rel=1e-3\n")
    assert main(["compress", str(src), "-m", "none", "--error-bound", "rel=1e-3", "--error-bound-file", str(bounds),
                 "-o", str(tmp_path / "x.baler")]) != 0
    assert "Jet_ptt" in capsys.readouterr().err


def test_write_events_refuses_unknown_outputs(tmp_path):
    ev = read_events(write_nanoaod(tmp_path / "nano.root", 20, seed=1))
    with pytest.raises(InputError, match="layout 'tree' unknown"):
        write_events(ev, tmp_path / "x.root", "tree")
    with pytest.raises(InputError, match=".root or .parquet"):
        write_events(ev, tmp_path / "x.npz")
    assert pd.api.types.is_integer_dtype(ev.per_event["nJet"])


def test_info_of_an_events_file(tmp_path, capsys):
    src = write_nanoaod(tmp_path / "nano.root", 200, seed=2)
    out = tmp_path / "x.baler"
    assert main(["compress", str(src), "-m", "none", "--error-bound", "rel=1e-3", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "events" and info["rows"] == 200 and info["ratio_with_decoder"] > 1


def test_real_root_file_keeps_its_events(tmp_path):
    """uproot-HZZ.root (scikit-hep-testdata): four collections with counters NJet, NMuon, NElectron, NPhoton."""
    import skhep_testdata

    src = skhep_testdata.data_path("uproot-HZZ.root")
    out, back = tmp_path / "hzz.baler", tmp_path / "hzz.root"
    assert main(["compress", src, "--tree", "events", "-m", "none", "--error-bound", "range=1e-3",
                 "-o", str(out)]) == 0
    assert main(["decompress", str(out), "-o", str(back)]) == 0
    a, b = uproot.open(src)["events"], uproot.open(back)["events"]
    assert b.keys() == a.keys() and b.num_entries == a.num_entries == 2421
    for counter in ("NJet", "NMuon", "NElectron", "NPhoton"):
        np.testing.assert_array_equal(b[counter].array(library="np"), a[counter].array(library="np"))
    for name in a.keys():
        assert b[name].interpretation == a[name].interpretation, name


def test_pythia_events_look_like_nanoaod(tmp_path):
    """Pythia 8 + FastJet events (the sim extra): jets pt-ordered above threshold, dtypes as NanoAOD's, and a
    file that reads back as events."""
    pytest.importorskip("pythia8mc", reason="the sim extra (pythia8mc, fastjet) is not installed")
    pytest.importorskip("fastjet", reason="the sim extra (pythia8mc, fastjet) is not installed")
    from baler_core.sim.nanoaod import write_arrays
    from baler_core.sim.pythia import JET_PT_MIN, pythia_events

    a = pythia_events(40, seed=3)
    jets = a["Jet"]
    assert len(jets) == 40 and ak.all(ak.num(jets) >= 1)  # pT-hat > 30 GeV: every event has a jet
    pt = jets.pt
    assert ak.all(pt >= JET_PT_MIN) and ak.all(pt[:, :-1] >= pt[:, 1:])
    assert ak.all(abs(jets.eta) < 4.7) and ak.all(abs(jets.phi) <= np.pi)
    assert ak.flatten(pt).to_numpy().dtype == np.float32
    assert ak.flatten(jets.nConstituents).to_numpy().dtype == np.uint8
    assert np.isclose(a["genWeight"].mean(), 1.0, rtol=1e-4) and a["genWeight"].dtype == np.float32
    ev = read_events(write_arrays(tmp_path / "py.root", a))
    assert ev.n_events == 40 and {c.name for c in ev.collections} == {"Jet", "Muon"}
    assert np.array_equal(ev.counts(ev.collections[0]), ak.num(jets).to_numpy())


def test_pythia_chunks_give_the_same_events_with_any_number_of_workers(tmp_path):
    """Events come in chunks, each a Pythia run with its own seed: two worker processes give exactly the events
    one process gives, chunks differ from each other, and ``extract-events --workers 2`` writes them."""
    pytest.importorskip("pythia8mc", reason="the sim extra (pythia8mc, fastjet) is not installed")
    pytest.importorskip("fastjet", reason="the sim extra (pythia8mc, fastjet) is not installed")
    from baler_core.sim.pythia import pythia_events

    one = pythia_events(25, seed=5, chunk_events=10)
    two = pythia_events(25, seed=5, workers=2, chunk_events=10)
    assert len(two["Jet"]) == 25 and ak.all(ak.num(two["Jet"]) >= 1)
    for k in one:
        assert ak.to_list(one[k]) == ak.to_list(two[k]), k
    lead = ak.firsts(one["Jet"].pt).to_numpy()
    assert len(set(np.round(lead, 3))) == 25  # no chunk repeats another's events
    assert np.isclose(one["genWeight"].mean(), 1.0, rtol=1e-4)
    main(["extract-events", "--generator", "pythia", "--n-events", "12", "--workers", "2",
          "-o", str(tmp_path / "p.root")])
    assert read_events(tmp_path / "p.root").n_events == 12


def test_pythia_pf_jets_hold_their_content(tmp_path):
    """The PF-like jet content: fractions in [0, 1] summing to one, multiplicities that add up to the
    constituents, ptD in (0, 1], girth within the jet radius; and ``extract-events --pf-jets`` writes them."""
    pytest.importorskip("pythia8mc", reason="the sim extra (pythia8mc, fastjet) is not installed")
    pytest.importorskip("fastjet", reason="the sim extra (pythia8mc, fastjet) is not installed")
    from baler_core.sim.pythia import PF_COUNTS, PF_FRACTIONS, pythia_events

    jets = ak.flatten(pythia_events(25, seed=4, pf=True)["Jet"])
    frac = np.stack([jets[k].to_numpy() for k in PF_FRACTIONS])
    assert frac.dtype == np.float32 and frac.min() >= 0 and frac.max() <= 1
    np.testing.assert_allclose(frac.sum(axis=0), 1, atol=1e-5)
    assert {jets[k].to_numpy().dtype for k in PF_COUNTS} == {np.dtype(np.uint8)}
    n = jets.nConstituents.to_numpy().astype(int)
    assert np.array_equal(jets.chMultiplicity.to_numpy().astype(int) + jets.neMultiplicity.to_numpy(), n)
    assert np.all(jets.nMuons.to_numpy() <= jets.chMultiplicity.to_numpy())
    ptd, girth = jets.ptD.to_numpy(), jets.girth.to_numpy()
    assert np.all((ptd > 0) & (ptd <= 1 + 1e-6)) and np.all(ptd[n == 1] > 1 - 1e-6)
    assert np.all((girth >= 0) & (girth < 0.45))  # anti-kt R = 0.4: constituents lie within about R
    assert np.ptp(frac[0]) > 0.3  # the charged hadron fraction varies from jet to jet
    out = tmp_path / "pf.root"
    r = subprocess.run([sys.executable, "-m", "baler_core.cli", "extract-events", "--generator", "pythia",
                        "--n-events", "5", "--pf-jets", "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    jet = next(c for c in read_events(out).collections if c.name == "Jet")
    assert {"Jet_chHEF", "Jet_ptD", "Jet_girth", "Jet_nMuons"} <= set(jet.objects.columns)
    r = subprocess.run([sys.executable, "-m", "baler_core.cli", "extract-events", "--generator", "nanoaod",
                        "--pf-jets", "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 2 and "--pf-jets is a setting of --generator pythia" in r.stderr


def test_split_by_event_keeps_every_event_whole():
    from baler_core.prep.splitting import split_events
    from baler_core.sim.nanoaod import nanoaod_events

    arrays = nanoaod_events(300, seed=9)
    ev = Events("Events", "ttree", pd.DataFrame({"event": arrays["event"], "nJet": ak.num(arrays["Jet"]).to_numpy()}),
                [Collection("Jet", "nJet", ["pt"], ["Jet_pt"],
                            pd.DataFrame({"Jet_pt": ak.flatten(arrays["Jet"].pt).to_numpy()}))], ["event", "nJet"])
    parts = split_events(ev, 0.2, 0.3, seed=4)
    assert sum(p.n_events for p in parts) == 300
    seen = np.concatenate([p.per_event["event"].to_numpy() for p in parts])
    assert len(np.unique(seen)) == 300
    for p in parts:  # each selected event carries exactly its own jets, in order
        p.check("split")
        idx = p.per_event["event"].to_numpy() - arrays["event"][0]
        want = ak.flatten(arrays["Jet"].pt[idx]).to_numpy()
        assert np.array_equal(p.collections[0].objects["Jet_pt"].to_numpy(), want)
    assert parts[2].n_events == 90 and parts[1].n_events == 60


@pytest.mark.parametrize("layout", ["ttree", "rntuple"])
def test_events_compress_chunk_by_chunk(tmp_path, layout):
    """A file read in chunks of 137 entries (once per part) gives the same events, counts, dtypes and values
    within the bound as the whole file, also with a cut (TTree)."""
    from baler_core.io.events import EventChunks
    from baler_core.sim.nanoaod import write_nanoaod

    src = write_nanoaod(tmp_path / "n.root", 1000, seed=21, layout=layout)
    whole = read_events(src)
    chunks = EventChunks(src, step=137)
    assert chunks.entries == 1000 and chunks.first().n_events == 137
    header = compress_events(chunks, None, tmp_path / "c.baler", CompressionOptions(load_bound_spec("rel=1e-3")))
    assert header["n_rows"] == 1000 and header["raw_bytes"] == whole.raw_bytes()
    back = decompress_events(tmp_path / "c.baler")
    assert back.n_events == 1000 and [c.name for c in back.collections] == [c.name for c in whole.collections]
    for (name, a), (_, b) in zip(whole.parts(), back.parts()):
        assert list(a.columns) == list(b.columns) and len(a) == len(b), name
        for col in a.columns:
            x, y = a[col].to_numpy(), b[col].to_numpy()
            assert x.dtype == y.dtype, col
            if x.dtype.kind == "f":
                assert np.all(np.abs(y.astype(np.float64) - x) <= 1e-3 * np.abs(x.astype(np.float64)) + 1e-30), col
            else:
                assert np.array_equal(x, y), col
    if layout == "ttree":
        cut = EventChunks(src, cut="nJet >= 3", step=100)
        compress_events(cut, None, tmp_path / "k.baler", CompressionOptions(load_bound_spec("rel=1e-3")))
        kept = decompress_events(tmp_path / "k.baler")
        assert kept.n_events == int((whole.per_event["nJet"] >= 3).sum())
        assert (kept.per_event["nJet"] >= 3).all()


def test_event_cli_inputs_are_checked(tmp_path):
    """extract-events takes a file or a generator; evaluate needs two ROOT event files with the same parts;
    a chunk of no entries is refused."""
    from baler_core.io.events import EventChunks
    from baler_core.sim.nanoaod import write_nanoaod

    src = write_nanoaod(tmp_path / "n.root", 50, seed=2)
    assert main(["extract-events", str(src), "--generator", "nanoaod", "-o", str(tmp_path / "x.root")]) != 0
    assert main(["extract-events", "-o", str(tmp_path / "x.root")]) != 0
    pd.DataFrame({"a": [1.0]}).to_parquet(tmp_path / "t.parquet")
    assert main(["evaluate", str(src), str(tmp_path / "t.parquet"), "-o", str(tmp_path / "m.tsv")]) != 0
    assert not (tmp_path / "m.tsv").exists()
    with pytest.raises(InputError, match="at least 1 entry"):
        EventChunks(src, step=0)


def _same_parts(a: Events, b: Events) -> None:
    assert a.n_events == b.n_events and a.order == b.order and a.tree == b.tree
    for (name, x), (_, y) in zip(a.parts(), b.parts(), strict=True):
        assert list(x.columns) == list(y.columns), name
        for col in x.columns:
            assert x[col].dtype == y[col].dtype and np.array_equal(x[col].to_numpy(), y[col].to_numpy()), col


@pytest.mark.parametrize("layout", ["ttree", "rntuple"])
def test_events_decompress_chunk_by_chunk(tmp_path, layout):
    """Chunks of 137 events (parts decoded in blocks of 300 rows, so chunks and blocks straddle) hold every
    event whole, in order, and together equal the whole file; written chunk by chunk to ROOT and Parquet they
    read back as the whole file written at once."""
    from baler_core.codec.events import iter_events

    src = write_nanoaod(tmp_path / "n.root", 1000, seed=5, layout=layout)
    opts = CompressionOptions(load_bound_spec("rel=1e-3"), block_rows=300)
    compress_events(read_events(src), None, tmp_path / "c.baler", opts)
    whole = decompress_events(tmp_path / "c.baler")
    chunks = list(iter_events(tmp_path / "c.baler", step=137))
    assert [c.n_events for c in chunks] == [137] * 7 + [41]
    for c in chunks:
        c.check("chunk")
    joined = Events(whole.tree, whole.layout,
                    pd.concat([c.per_event for c in chunks], ignore_index=True),
                    [Collection(k.name, k.counter, k.fields, k.branches,
                                pd.concat([c.collections[i].objects for c in chunks], ignore_index=True))
                     for i, k in enumerate(whole.collections)], whole.order, whole.synthetic_counters)
    _same_parts(whole, joined)
    for suffix in (".root", ".parquet"):
        write_events(whole, tmp_path / f"whole{suffix}")
        write_events(iter_events(tmp_path / "c.baler", step=137), tmp_path / f"chunked{suffix}")
    assert read_events(tmp_path / "chunked.root").layout == layout
    _same_parts(read_events(tmp_path / "whole.root"), read_events(tmp_path / "chunked.root"))
    assert ak.to_list(ak.from_parquet(tmp_path / "whole.parquet")) == ak.to_list(
        ak.from_parquet(tmp_path / "chunked.parquet"))


def test_events_decompress_no_events_and_bad_counts(tmp_path):
    """A file of no events gives one empty chunk with every branch; a header whose rows disagree with the
    counters is refused by part name."""
    from baler_core.codec.events import iter_events
    from baler_core.format.container import ContainerReader, ContainerWriter

    ev = read_events(write_nanoaod(tmp_path / "n.root", 300, seed=6))
    opts = CompressionOptions(load_bound_spec("rel=1e-3"), block_rows=128)
    empty = ev.select(np.arange(0))
    compress_events(empty, None, tmp_path / "e.baler", opts)
    got = list(iter_events(tmp_path / "e.baler", step=10))
    assert len(got) == 1 and got[0].n_events == 0 and list(got[0].per_event.columns) == list(ev.per_event.columns)
    write_events(iter_events(tmp_path / "e.baler"), tmp_path / "e.root")
    assert uproot.open(tmp_path / "e.root")["Events"].num_entries == 0
    compress_events(ev, None, tmp_path / "c.baler", opts)
    with ContainerReader(tmp_path / "c.baler") as rd:
        header, sections = rd.header, {k: rd.read(k) for k in rd.header["sections"]}
    jets = next(p for p in header["parts"] if p["name"] == "Jet")
    jets["rows"] += 1  # one object more than the file holds
    with ContainerWriter(tmp_path / "bad.baler") as w:
        for k, v in sections.items():
            w.add(k, v)
        w.finish({k: v for k, v in header.items() if k != "sections"})
    with pytest.raises(FormatError, match="part 'Jet' holds"):
        for _ in iter_events(tmp_path / "bad.baler", step=50):
            pass
