"""The physics-analysis check (evaluation.observables, evaluation.physics, ``baler evaluate-physics``)."""

import subprocess
import sys

import awkward as ak
import numpy as np
import pandas as pd
import pytest

from baler_core.codec.events import compress_events
from baler_core.coding.error_bounds import load_bound_spec
from baler_core.coding.options import CompressionOptions
from baler_core.errors import InputError
from baler_core.evaluation.observables import (
    EventNames,
    evaluate_observable,
    jet_kinematics,
    standard_observables,
    user_observable,
)
from baler_core.evaluation.physics import COLUMNS, evaluate_physics, load_events
from baler_core.io.events import read_events
from baler_core.sim.nanoaod import nanoaod_events, write_nanoaod


@pytest.fixture(scope="module")
def events():
    arrays = nanoaod_events(4000, seed=3)
    return ak.zip(arrays, depth_limit=1)


def _with_jet_pt(events, scale: float):
    jets = ak.with_field(events.Jet, events.Jet.pt * np.float32(scale), "pt")
    return ak.with_field(events, jets, "Jet")


def test_identical_events_have_no_pull(events):
    t = evaluate_physics(events, events, standard_observables())
    assert list(t.columns) == COLUMNS and len(t) == 7
    assert (t["largest_pull"] == 0).all() and (t["chi2"] == 0).all()
    assert np.allclose(t["ks_pvalue"], 1.0)
    n = len(events)
    assert t.set_index("observable").loc["met", "events"] == n
    # no second jet: no m_jj; 5 % of events have no jet at all
    two = int(ak.sum(ak.num(events.Jet) >= 2))
    assert t.set_index("observable").loc["mjj", "events"] == two < n


def test_a_shifted_jet_energy_scale_is_seen_and_met_is_not(events):
    t = evaluate_physics(events, _with_jet_pt(events, 1.05), standard_observables()).set_index("observable")
    for name in ("lead_jet_pt", "sublead_jet_pt", "mjj", "ht"):
        assert t.loc[name, "largest_pull"] > 2, name
        assert t.loc[name, "ks_pvalue"] < 0.05, name
        assert t.loc[name, "mean_decompressed"] > t.loc[name, "mean_original"]
    assert t.loc["met", "largest_pull"] == 0
    assert t.loc["dphi_jj", "largest_pull"] == 0  # phi untouched


def test_cartesian_jets_give_the_same_observables(events):
    j = events.Jet
    cart = ak.zip({"Px": j.pt * np.cos(j.phi), "Py": j.pt * np.sin(j.phi), "Pz": j.pt * np.sinh(j.eta),
                   "E": np.sqrt((j.pt * np.cosh(j.eta)) ** 2 + j.mass**2)})
    other = ak.with_field(events, cart, "Jet")
    obs = standard_observables()
    for name in ("lead_jet_pt", "mjj", "dphi_jj"):
        a, b = evaluate_observable(obs[name], events), evaluate_observable(obs[name], other)
        assert np.allclose(a, b, rtol=1e-4, atol=1e-3, equal_nan=True), name
    assert np.isnan(evaluate_observable(obs["mjj"], other)).sum() == int(ak.sum(ak.num(j) < 2))


def test_missing_inputs_are_named(events):
    with pytest.raises(InputError, match="no jet collection 'AK8'.*Jet"):
        jet_kinematics(events, EventNames(jets="AK8"))
    no_met = events[[f for f in events.fields if f != "MET_pt"]]
    with pytest.raises(InputError, match="MET_pt"):
        evaluate_observable(standard_observables()["met"], no_met)
    with pytest.raises(InputError, match="same events"):
        evaluate_physics(events, events[:-1], standard_observables())


def test_user_observables_by_module_function(tmp_path, events):
    f = tmp_path / "myobs.py"
    f.write_text("import awkward as ak\n"
                 "def muon_pt(events):\n    return events.Muon.pt\n"
                 "def n_b(events):\n    return ak.sum(events.Jet.btagDeepB > 0.5, axis=1)\n")
    obs = {"muon_pt": user_observable("muon_pt", f"{f}:muon_pt"), "n_b": user_observable("n_b", f"{f}:n_b")}
    t = evaluate_physics(events, events, obs).set_index("observable")
    assert t.loc["muon_pt", "events"] == int(ak.sum(ak.num(events.Muon)))  # jagged: object by object
    assert t.loc["n_b", "events"] == len(events)
    with pytest.raises(InputError, match="not module:function"):
        user_observable("x", "nocolon")
    with pytest.raises(InputError, match="no function 'nothere'"):
        user_observable("x", f"{f}:nothere")
    with pytest.raises(InputError, match="cannot import"):
        user_observable("x", "baler_no_such_module:f")


def test_compressed_events_pass_the_check_and_coarse_ones_fail(tmp_path):
    src = write_nanoaod(tmp_path / "nano.root", 6000, seed=11)
    ev = read_events(src)
    fine, coarse = tmp_path / "fine.baler", tmp_path / "coarse.baler"
    compress_events(ev, None, fine, CompressionOptions(load_bound_spec("rel=1e-4")))
    compress_events(ev, None, coarse, CompressionOptions(load_bound_spec("range=1e-2")))
    orig = load_events(src)
    assert len(orig) == 6000
    good = evaluate_physics(orig, load_events(fine), standard_observables())
    assert (good["largest_pull"] < 1).all(), good
    bad = evaluate_physics(orig, load_events(coarse), standard_observables())
    assert bad["largest_pull"].max() > 3


def test_cli_writes_table_and_plots(tmp_path):
    src = write_nanoaod(tmp_path / "nano.root", 1500, seed=5)
    packed = tmp_path / "nano.baler"
    run = [sys.executable, "-m", "baler_core.cli"]
    subprocess.run([*run, "compress", str(src), "-m", "none", "--error-bound", "rel=1e-3", "-o", str(packed)],
                   check=True, capture_output=True)
    obs = tmp_path / "obs.py"
    obs.write_text("def lead_eta(events):\n    import awkward as ak\n"
                   "    return ak.fill_none(ak.firsts(events.Jet.eta), float('nan'))\n")
    out, png = tmp_path / "physics.tsv", tmp_path / "png"
    subprocess.run([*run, "evaluate-physics", str(src), str(packed), "-o", str(out), "--png-dir", str(png),
                    "--observable", f"lead_eta={obs}:lead_eta"], check=True, capture_output=True)
    t = pd.read_csv(out, sep="\t")
    assert list(t["observable"]) == [*standard_observables(), "lead_eta"]
    assert sorted(p.stem for p in png.glob("*.png")) == sorted(t["observable"])
    r = subprocess.run([*run, "evaluate-physics", str(src), str(packed), "-o", str(out), "--jets", "FatJet"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "FatJet" in r.stderr and "Traceback" not in r.stderr


def test_dither_keeps_histograms_at_a_coarse_bound(tmp_path):
    """range=3e-3 puts pt on a grid of about 2 GeV: rounded values alias in 40-bin histograms (pulls of several
    sigma with only 6,000 events), dithered ones do not, in a file of about the same size."""
    src = write_nanoaod(tmp_path / "nano.root", 6000, seed=11)
    ev, orig = read_events(src), load_events(src)
    pulls, sizes = {}, {}
    for dither in (False, True):
        out = tmp_path / f"d{dither}.baler"
        compress_events(ev, None, out, CompressionOptions(load_bound_spec("range=3e-3"), dither=dither))
        pulls[dither] = evaluate_physics(orig, load_events(out), standard_observables())["largest_pull"].max()
        sizes[dither] = out.stat().st_size
    assert pulls[False] > 5 and pulls[True] < 2.5, pulls
    assert sizes[True] < 1.02 * sizes[False]
