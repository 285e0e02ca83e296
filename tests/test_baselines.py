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


@pytest.mark.parametrize("codec,module", [("sz3", "pysz"), ("zfp", "zfpy")])
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
