import importlib.util

import numpy as np
import pytest
from conftest import make_field, make_jets

from baler_core.cli.main import main
from baler_core.evaluation.baselines import run_error_bounded, run_lossless, run_truncation, truncate_mantissa
from baler_core.evaluation.metrics import read_metrics_tsv


@pytest.mark.parametrize("bits", [0, 5, 10, 23])
def test_mantissa_truncation_bound(bits):
    sign = np.sign(np.random.default_rng(1).normal(size=10000)).astype(np.float32)
    x = np.random.default_rng(0).lognormal(0, 3, 10000).astype(np.float32) * sign
    x[:3] = [np.nan, np.inf, 0.0]
    y = truncate_mantissa(x, bits)
    fin = np.isfinite(x)
    assert np.isnan(y[0]) and y[1] == np.inf and y[2] == 0
    assert np.all(np.abs(y[fin].astype(float) - x[fin]) <= 2.0 ** -(bits + 1) * np.abs(x[fin]))
    if bits == 23:
        np.testing.assert_array_equal(y[fin], x[fin])


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_lossless_is_exact_and_compresses(codec):
    df = make_jets(2000)
    res, blob = run_lossless(df, codec, 3)
    assert res.raw_bytes == sum(df[c].to_numpy().nbytes for c in df.columns)
    assert res.ratio > 1 and res.compressed_bytes == len(blob) and res.lossless


def test_truncation_reconstruction():
    df = make_jets(500)
    res, rec = run_truncation(df, 10)
    assert res.ratio > 1 and list(rec.columns) == list(df.columns)


@pytest.mark.parametrize("codec,module", [("sz3", "pysz"), ("zfp", "zfpy"), ("sperr", "numcodecs_wasm_sperr")])
def test_error_bounded_references(codec, module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (the [baselines] extra)")
    df = make_jets(3000)
    res, rec = run_error_bounded(df, codec, "range", 1e-3)
    for c in df.columns:
        a, b = df[c].to_numpy(np.float64), rec[c].to_numpy(np.float64)
        assert np.all(np.abs(a - b) <= 1e-3 * (a.max() - a.min()) * (1 + 1e-6)), c
    field = make_field(6, 40, 50)
    res, rec = run_error_bounded(field, codec, "abs", 1e-3)
    assert rec.shape == field.shape and np.abs(rec - field).max() <= 1e-3 * (1 + 1e-6)
    assert res.ratio > 1
    volume = np.stack([make_field(4, 12, 20, seed=s) for s in range(3)], axis=1)  # T x D x H x W
    res, rec = run_error_bounded(volume, codec, "range", 1e-3)
    assert rec.shape == volume.shape and np.abs(rec - volume).max() <= 1e-3 * np.ptp(volume) * (1 + 1e-6)


def test_grid_baseline_is_baler_without_a_model():
    df = make_jets(3000)
    res, rec = run_error_bounded(df, "grid", "range", 1e-3)
    for c in df.columns:
        a, b = df[c].to_numpy(np.float64), rec[c].to_numpy(np.float64)
        assert np.all(np.abs(a - b) <= 1e-3 * (a.max() - a.min())), c
    assert rec.dtypes.to_dict() == df.dtypes.to_dict()
    lossless, _ = run_lossless(df, "zstd", 19)
    assert res.ratio > 2 * lossless.ratio and res.label == "baler-grid-range0.001"
    field = make_field(6, 40, 50)
    res, rec = run_error_bounded(field, "grid", "rel", 1e-3)
    assert rec.shape == field.shape
    assert np.all(np.abs(rec.astype(float) - field) <= 1e-3 * np.abs(field.astype(float)))


def test_aggregate_seeds_command(tmp_path):
    from baler_core.evaluation.metrics import per_variable_metrics, write_metrics_tsv

    df = make_jets(200)
    paths = []
    for s in range(3):
        rec = df * (1 + 0.01 * (s + 1))
        p = tmp_path / f"m{s}.tsv"
        write_metrics_tsv(per_variable_metrics(df[["pt", "eta"]], rec[["pt", "eta"]]), p)
        paths.append(str(p))
    assert main(["aggregate-seeds", *paths, "-o", str(tmp_path / "agg.tsv")]) == 0
    agg = read_metrics_tsv(tmp_path / "agg.tsv")
    row = agg[agg["variable"] == "pt"].iloc[0]
    assert row["response_mean_mean"] == pytest.approx(0.02, rel=1e-4)
    assert row["response_mean_std"] == pytest.approx(0.01, rel=1e-4)


@pytest.mark.parametrize("codec", ["lzma", "pcodec", "blosc2", "openzl"])
def test_lossless_peers_are_exact_per_column(codec):
    from baler_core.evaluation.peers import run_lossless_peer

    if codec in ("blosc2", "openzl"):
        pytest.importorskip(codec, reason=f"{codec} is in the baselines extra")
    df = make_jets(3000)
    df["flag"] = df.index % 3 == 0  # bools and integers too
    df["n"] = (df.index % 7).astype(np.int16)
    res = run_lossless_peer(df, codec)  # raises if any column's bytes differ after the round trip
    assert res.lossless and res.ratio > 1 and res.raw_bytes == sum(df[c].to_numpy().nbytes for c in df.columns)


def test_a_missing_peer_says_how_to_install_it(monkeypatch):
    import sys

    from baler_core.evaluation.peers import run_lossless_peer

    monkeypatch.setitem(sys.modules, "blosc2", None)
    with pytest.raises(ImportError, match="pip install blosc2"):
        run_lossless_peer(make_jets(100), "blosc2")


def test_presets_keep_their_precisions():
    import pandas as pd

    from baler_core.evaluation.peers import preset_bits, run_preset

    rng = np.random.default_rng(4)
    df = pd.DataFrame({"Jet_pt": rng.lognormal(3, 1, 5000).astype(np.float32),
                       "Jet_eta": rng.normal(0, 2, 5000).astype(np.float32),
                       "Jet_mass": rng.lognormal(1, 1, 5000).astype(np.float32),
                       "Jet_btag": rng.uniform(0, 1, 5000).astype(np.float32),
                       "genWeight": rng.normal(1, 0.1, 5000).astype(np.float32),
                       "nJet": rng.integers(0, 9, 5000).astype(np.int32)})
    assert [preset_bits(c, "nanoaod") for c in df.columns] == [23, 12, 10, 10, 23, 10]
    res, rec = run_preset(df, "nanoaod", "lzma9")
    assert not res.lossless and res.label == "nanoaod-lzma9" and res.ratio > 1
    for c in ("Jet_pt", "genWeight", "nJet"):
        np.testing.assert_array_equal(rec[c], df[c])
    for c, bits in (("Jet_eta", 12), ("Jet_mass", 10), ("Jet_btag", 10)):
        x = df[c].to_numpy(np.float64)
        assert np.all(np.abs(rec[c].to_numpy(np.float64) - x) <= 2.0 ** -(bits + 1) * np.abs(x)), c
        assert not np.array_equal(rec[c], df[c])
    res7, rec7 = run_preset(df, "atlas7", "zstd19")
    x = df["Jet_pt"].to_numpy(np.float64)
    assert np.all(np.abs(rec7["Jet_pt"].to_numpy(np.float64) - x) <= 2.0 ** -8 * x)
    assert res7.ratio > run_preset(df, "atlas10", "zstd19")[0].ratio  # fewer bits, fewer bytes


def test_cli_preset_and_peer_write_their_bound(tmp_path):
    import json

    make_jets(800).to_parquet(tmp_path / "t.parquet")
    assert main(["baseline", str(tmp_path / "t.parquet"), "--codec", "nanoaod", "--after", "lzma9", "-o",
                 str(tmp_path / "p.json"), "--metrics", str(tmp_path / "p.tsv")]) == 0
    out = json.loads((tmp_path / "p.json").read_text())
    assert out["bound"] == "preset" and out["label"] == "nanoaod-lzma9" and 0 < out["max_rel_error"] <= 2 ** -11
    metrics = read_metrics_tsv(tmp_path / "p.tsv").set_index("variable")
    assert list(metrics.index) == list(make_jets(10).columns) and metrics.loc["pt", "max_abs_error"] == 0
    assert main(["baseline", str(tmp_path / "t.parquet"), "--codec", "pcodec", "-o", str(tmp_path / "l.json")]) == 0
    out = json.loads((tmp_path / "l.json").read_text())
    assert out["bound"] == "exact" and out["lossless"] and out["max_abs_error"] == 0


def test_ranked_table_orders_by_ratio_within_each_bound():
    import pandas as pd

    from baler_core.evaluation.summary import SUMMARY_COLUMNS, ranked

    def row(method, bound, ratio, rng_err=np.nan, abs_err=np.nan):
        return {**dict.fromkeys(SUMMARY_COLUMNS, np.nan), "dataset": "d", "method": method, "label": method,
                "bound": bound, "ratio_with_decoder": ratio, "max_range_rel_error": rng_err,
                "max_abs_error": abs_err, "compress_MBps": 10.0}

    s = pd.DataFrame([row("sz3", "range=1e-3", 5.0, 9e-4), row("baler-sequential", "range=1e-3", 9.0, 1e-3),
                      row("overshoot", "range=1e-3", 20.0, 2e-3), row("zstd", "exact", 2.0, 0, 0),
                      row("pcodec", "exact", 2.5, 0, 0)])
    r = ranked(s)
    first = r[r["bound"] == "range=1e-3"]
    assert list(first["method"]) == ["baler-sequential", "sz3", "overshoot"]  # a broken bound ranks last
    assert list(first["rank"]) == [1, 2, 3] and list(first["bound_held"]) == [True, True, False]
    assert list(r[r["bound"] == "exact"]["method"]) == ["pcodec", "zstd"]
    assert set(first["error"]) == {"max_range_rel_error"}


def test_pipeline_skips_a_missing_peer_and_says_how_to_install_it(monkeypatch):
    import yaml

    from baler_core.pipeline import plan

    cfg = yaml.safe_load(open(plan.__file__.rsplit("baler_core", 1)[0] + "config/config.yaml"))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("numcodecs_wasm_sperr", "openzl") else real(name, *a))
    files = plan.baseline_files(cfg, "cfd_square")
    assert not any("/sperr-" in f or "/openzl/" in f for f in files)
    assert any("/pcodec/" in f for f in files) and any("/lzma/" in f for f in files)
    lines = plan.missing_peers(cfg)
    assert "baseline sperr skipped: pip install numcodecs-wasm-sperr (the [baselines] extra)" in lines
    assert "baseline openzl skipped: pip install openzl (the [baselines] extra)" in lines
    assert not any("lzma" in line for line in lines)
