"""Hand-computed checks of baler_core.metrics."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from baler_core.evaluation import metrics
from baler_core.evaluation.metrics import (
    aggregate_over_seeds,
    field_error_stats,
    field_to_metrics_table,
    per_variable_metrics,
    read_metrics_tsv,
    write_metrics_tsv,
)

EXPECTED_COLUMNS = [
    "variable", "n", "n_nonfinite", "n_zero_excluded", "response_mean", "response_rms",
    "residual_mean", "residual_rms", "max_abs_error", "max_rel_error", "max_range_rel_error",
    "bound_kind", "bound_value", "frac_outside_bound",
]


def _one(orig, reco, bound=None, name="x"):
    bounds = {name: bound} if bound is not None else None
    df = per_variable_metrics(pd.DataFrame({name: orig}), pd.DataFrame({name: reco}), bounds)
    assert len(df) == 1
    return df.iloc[0]


def test_column_order_and_names():
    df = per_variable_metrics(
        pd.DataFrame({"b": [1.0, 2.0], "a": [3, 4]}), pd.DataFrame({"a": [3, 4], "b": [1.0, 2.5]})
    )
    assert list(df.columns[: len(EXPECTED_COLUMNS)]) == EXPECTED_COLUMNS
    assert list(df.columns[len(EXPECTED_COLUMNS):]) == ["response_std", "residual_std"]
    assert list(df["variable"]) == ["b", "a"]


def test_hand_computed_case():
    # residual = [0.1, 0, 0.5, -1]; response over nonzero originals = [0.1, 0, -0.25]
    row = _one([1.0, 2.0, 0.0, 4.0], [1.1, 2.0, 0.5, 3.0])
    assert row["n"] == 4
    assert row["n_nonfinite"] == 0
    assert row["n_zero_excluded"] == 1
    assert row["residual_mean"] == pytest.approx(-0.1)
    assert row["residual_rms"] == pytest.approx(math.sqrt((0.01 + 0.25 + 1.0) / 4))
    assert row["response_mean"] == pytest.approx(-0.05)
    assert row["response_rms"] == pytest.approx(math.sqrt((0.01 + 0.0625) / 3))
    # RMS is sqrt(mean(x^2)), std is separate: rms^2 = mean^2 + std^2
    assert row["response_std"] == pytest.approx(math.sqrt(0.0725 / 3 - 0.05**2))
    assert row["residual_std"] == pytest.approx(math.sqrt(1.26 / 4 - 0.01))
    assert row["max_abs_error"] == pytest.approx(1.0)
    assert row["max_rel_error"] == pytest.approx(0.25)
    assert row["max_range_rel_error"] == pytest.approx(0.25)  # 1 / (4 - 0)
    assert row["bound_kind"] == ""
    assert math.isnan(row["bound_value"]) and math.isnan(row["frac_outside_bound"])


@pytest.mark.parametrize(
    "bound, frac",
    [
        (("abs", 0.2), 0.5),     # |r| > 0.2: rows 2, 3
        (("abs", 0.05), 0.75),   # rows 0, 2, 3
        (("rel", 0.3), 0.25),    # tol [.3, .6, 0, 1.2]: only the zero row
        (("rel", 0.2), 0.5),     # tol [.2, .4, 0, .8]: rows 2, 3
        (("range", 0.2), 0.25),  # tol 0.8: row 3
        (("range", 0.1), 0.5),   # tol 0.4: rows 2, 3
    ],
)
def test_bounds(bound, frac):
    row = _one([1.0, 2.0, 0.0, 4.0], [1.1, 2.0, 0.5, 3.0], bound)
    assert row["bound_kind"] == bound[0]
    assert row["bound_value"] == bound[1]
    assert row["frac_outside_bound"] == pytest.approx(frac)


def test_rms_bound_judges_the_whole_column():
    """rms=X is met when the response RMS is <= X and |mean| <= X/10; a miss counts every value outside."""
    o = np.linspace(1.0, 2.0, 400)
    r = o * (1 + np.where(np.arange(400) % 2, 0.01, -0.01))  # response +-1 %: RMS 1e-2, mean 0
    assert _one(o, r, ("rms", 0.011))["frac_outside_bound"] == 0.0
    assert _one(o, r, ("rms", 0.009))["frac_outside_bound"] == 1.0
    assert _one(o, o * 1.005, ("rms", 0.011))["frac_outside_bound"] == 1.0  # RMS met, mean 5e-3 > 1.1e-3
    assert _one([1.0, 2.0, 3.0, 4.0], [1.1, 2.2, 3.3, np.nan], ("rms", 0.01))["frac_outside_bound"] == 1.0
    assert _one([0.0, 1.5, 2.5], [0.5, 1.5, 2.5], ("rms", 0.01))["frac_outside_bound"] == pytest.approx(1 / 3)
    assert _one([1.0, 2.0, 3.0], [1.0, 2.0, 3.003], ("rms", 0.01))["frac_outside_bound"] == pytest.approx(1 / 3)


def test_nonfinite_originals():
    orig = [np.nan, np.nan, np.inf, -np.inf, 1.0, 3.0]
    reco = [np.nan, 0.0, np.inf, np.inf, 1.0, 3.0]
    row = _one(orig, reco, ("abs", 0.1))
    assert row["n"] == 6
    assert row["n_nonfinite"] == 4
    assert row["n_zero_excluded"] == 0
    # statistics only over the two finite rows, which are exact
    assert row["residual_mean"] == 0.0 and row["residual_rms"] == 0.0
    assert row["max_abs_error"] == 0.0 and row["max_range_rel_error"] == 0.0
    # NaN->0 and -Inf->+Inf violate; NaN->NaN and +Inf->+Inf do not
    assert row["frac_outside_bound"] == pytest.approx(2 / 6)


def test_all_nan_column_reproduced_is_inside_bound():
    row = _one([np.nan, np.nan], [np.nan, np.nan], ("rel", 0.01))
    assert row["n_nonfinite"] == 2
    assert row["frac_outside_bound"] == 0.0
    assert math.isnan(row["residual_mean"]) and math.isnan(row["max_abs_error"])


def test_finite_original_reconstructed_as_nan():
    row = _one([1.0, 2.0, 3.0], [1.0, np.nan, 3.5], ("abs", 1.0))
    assert row["max_abs_error"] == math.inf
    assert row["max_rel_error"] == math.inf
    assert row["residual_mean"] == pytest.approx(0.25)  # over finite pairs only
    assert row["frac_outside_bound"] == pytest.approx(1 / 3)


def test_zeros_never_give_inf():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = _one([0.0, 0.0, 0.0], [0.0, 0.1, -0.2], ("rel", 0.5))
    assert row["n_zero_excluded"] == 3
    assert math.isnan(row["response_mean"]) and math.isnan(row["max_rel_error"])
    assert row["max_abs_error"] == pytest.approx(0.2)
    assert row["max_range_rel_error"] == math.inf  # range 0, error > 0
    assert row["frac_outside_bound"] == pytest.approx(2 / 3)  # rel bound on 0 means exact


def test_constant_column():
    exact = _one([3.0, 3.0, 3.0], [3.0, 3.0, 3.0], ("range", 0.1))
    assert exact["max_range_rel_error"] == 0.0
    assert exact["frac_outside_bound"] == 0.0
    off = _one([3.0, 3.0, 3.0], [3.0, 3.0, 3.5], ("range", 0.1))
    assert off["max_range_rel_error"] == math.inf
    assert off["frac_outside_bound"] == pytest.approx(1 / 3)
    assert off["max_rel_error"] == pytest.approx(0.5 / 3)


def test_zero_rows():
    empty = pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=int)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = per_variable_metrics(empty, empty.copy(), {"a": ("abs", 1.0)})
    assert list(df["n"]) == [0, 0]
    for c in ("response_mean", "response_rms", "residual_mean", "residual_rms",
              "max_abs_error", "max_rel_error", "max_range_rel_error"):
        assert df[c].isna().all(), c


def test_missing_column_and_row_mismatch():
    o = pd.DataFrame({"pt": [1.0], "eta_jet": [2.0]})
    with pytest.raises(ValueError, match="eta_jet"):
        per_variable_metrics(o, pd.DataFrame({"pt": [1.0]}))
    with pytest.raises(ValueError, match="row"):
        per_variable_metrics(o, pd.DataFrame({"pt": [1.0, 2.0], "eta_jet": [2.0, 3.0]}))
    with pytest.raises(ValueError, match="kind"):
        per_variable_metrics(o, o, {"pt": ("relative", 0.1)})
    with pytest.raises(ValueError, match="phi"):
        per_variable_metrics(o, o, {"phi": ("abs", 0.1)})


def test_float32_and_int_columns():
    o = pd.DataFrame({"i": np.array([1, 2, 3], dtype=np.int32)})
    r = pd.DataFrame({"i": np.array([1.5, 2.0, 3.0], dtype=np.float32)})
    row = per_variable_metrics(o, r).iloc[0]
    assert row["max_abs_error"] == pytest.approx(0.5)
    assert row["max_range_rel_error"] == pytest.approx(0.25)


def test_aggregate_over_seeds():
    def table(rms, frac):
        return pd.DataFrame({"variable": ["a", "b"], "residual_rms": rms,
                             "bound_kind": ["abs", ""], "bound_value": [0.1, np.nan],
                             "frac_outside_bound": frac})

    tables = [table([1.0, 10.0], [0.0, np.nan]), table([2.0, 20.0], [0.5, np.nan]),
              table([3.0, 30.0], [1.0, np.nan])]
    tables[1] = tables[1].iloc[::-1].reset_index(drop=True)  # order must not matter
    agg = aggregate_over_seeds(tables)
    assert list(agg["variable"]) == ["a", "b"]
    assert list(agg["n_seeds"]) == [3, 3]
    assert list(agg["bound_kind"]) == ["abs", ""]
    assert agg["residual_rms_mean"].tolist() == pytest.approx([2.0, 20.0])
    assert agg["residual_rms_std"].tolist() == pytest.approx([1.0, 10.0])  # ddof=1
    assert agg["frac_outside_bound_mean"][0] == pytest.approx(0.5)
    assert agg["frac_outside_bound_std"][0] == pytest.approx(0.5)
    assert math.isnan(agg["frac_outside_bound_mean"][1])
    single = aggregate_over_seeds(tables[:1])
    assert single["n_seeds"][0] == 1
    assert single["residual_rms_mean"][0] == 1.0 and math.isnan(single["residual_rms_std"][0])
    with pytest.raises(ValueError):
        aggregate_over_seeds([tables[0], tables[0].iloc[:1]])


def test_aggregate_real_tables():
    o = pd.DataFrame({"a": [1.0, 2.0, 0.0, 4.0]})
    t1 = per_variable_metrics(o, pd.DataFrame({"a": [1.1, 2.0, 0.5, 3.0]}))
    t2 = per_variable_metrics(o, o)
    agg = aggregate_over_seeds([t1, t2])
    assert agg["max_abs_error_mean"][0] == pytest.approx(0.5)
    assert agg["max_abs_error_std"][0] == pytest.approx(math.sqrt(0.5))
    assert "variable_mean" not in agg.columns and "bound_kind_mean" not in agg.columns


def test_tsv_round_trip(tmp_path):
    o = pd.DataFrame({"a": [1.0, 2.0, 0.0, 4.0], "b": [np.nan, 1 / 3, 1e-300, 7.0],
                      "1": [1, 2, 3, 4]})
    r = pd.DataFrame({"a": [1.1, 2.0, 0.5, 3.0], "b": [0.0, 0.1 + 0.2, 2e-300, np.inf],
                      "1": [1, 2, 3, 5]})
    df = per_variable_metrics(o, r, {"a": ("rel", 0.3)})
    p = write_metrics_tsv(df, tmp_path / "sub" / "m.tsv")
    back = read_metrics_tsv(p)
    assert list(back.columns) == list(df.columns)
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    assert back["variable"].tolist() == ["a", "b", "1"]
    assert back["bound_kind"].tolist() == ["rel", "", ""]
    agg = aggregate_over_seeds([df, df])
    write_metrics_tsv(agg, tmp_path / "agg.tsv")
    pd.testing.assert_frame_equal(read_metrics_tsv(tmp_path / "agg.tsv"), agg, check_exact=True)


def test_field_error_stats_known_case():
    o = np.array([[[0.0, 1.0], [2.0, 4.0]]])
    r = np.array([[[0.0, 1.0], [2.0, 3.0]]])
    st = field_error_stats(o, r)
    assert st["max_abs_error"] == 1.0
    assert st["rmse"] == pytest.approx(0.5)
    assert st["max_range_rel_error"] == pytest.approx(0.25)
    assert st["rmse_range_rel"] == pytest.approx(0.125)
    assert st["psnr_db"] == pytest.approx(18.061799739838872)  # 20 log10(4 / 0.5)
    assert st["residual_mean"] == pytest.approx(-0.25)
    assert field_error_stats(o, o)["psnr_db"] == math.inf
    with pytest.raises(ValueError, match=r"\(1, 2, 2\).*\(2, 2\)"):
        field_error_stats(o, r[0])


def test_field_to_metrics_table():
    o = np.array([[[0.0, 1.0], [2.0, 4.0]]])
    r = np.array([[[0.0, 1.0], [2.0, 3.0]]])
    df = field_to_metrics_table(o, r, ("range", 0.2))
    assert list(df.columns) == metrics.METRIC_COLUMNS
    row = df.iloc[0]
    assert row["variable"] == "field" and row["n"] == 4 and row["n_zero_excluded"] == 1
    assert row["max_range_rel_error"] == pytest.approx(0.25)
    assert row["frac_outside_bound"] == pytest.approx(0.25)  # tol 0.8 < 1
    assert field_to_metrics_table(o, o, None).iloc[0]["bound_kind"] == ""


def test_bound_objects_and_none_kind():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Bound:  # same shape as baler_core.error_bounds.Bound
        kind: str
        value: float = 0.0

    o = pd.DataFrame({"a": [1.0, 2.0, 0.0, 4.0], "b": [1.0, 2.0, 3.0, 4.0]})
    r = pd.DataFrame({"a": [1.1, 2.0, 0.5, 3.0], "b": [1.0, 2.0, 3.0, 4.0]})
    df = per_variable_metrics(o, r, {"a": Bound("range", 0.2), "b": Bound("none")})
    assert df["bound_kind"].tolist() == ["range", ""]
    assert df["frac_outside_bound"][0] == pytest.approx(0.25)
    assert math.isnan(df["frac_outside_bound"][1])
    assert field_to_metrics_table(np.ones((1, 2, 2)), np.ones((1, 2, 2)), ("none", 0.0)).iloc[0]["bound_kind"] == ""
