"""Reconstruction-quality metrics for compressed tables and fields.

Conventions (shared by every function here):

* ``residual = reconstructed - original`` in float64.
* ``response = residual / original``, only where ``original != 0`` and both
  values are finite (the Baler study, arXiv 2305.02283, plots this "response").
* "RMS" is the root mean square, ``sqrt(mean(x**2))``.  It is *not* the
  standard deviation (ROOT's TH1 "RMS" is a std); the std (ddof=0) is given
  separately in ``response_std`` / ``residual_std``, so that
  ``rms**2 == mean**2 + std**2``.
* Statistics over an empty set are NaN; nothing here divides by zero into inf
  except where documented (a nonzero error on a zero-width range).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.coding.error_bounds import RMS_MEAN_FRACTION
from baler_core.errors import InputError  # a ValueError subclass

METRIC_COLUMNS: list[str] = [
    "variable",
    "n",
    "n_nonfinite",
    "n_zero_excluded",
    "response_mean",
    "response_rms",
    "residual_mean",
    "residual_rms",
    "max_abs_error",
    "max_rel_error",
    "max_range_rel_error",
    "bound_kind",
    "bound_value",
    "frac_outside_bound",
    "response_std",
    "residual_std",
]

BOUND_KINDS: tuple[str, ...] = ("abs", "rel", "range", "rms", "exact")

# Columns that hold text in metric / summary TSVs; never parsed as numbers.
STRING_COLUMNS: frozenset[str] = frozenset({"variable", "bound_kind", "method", "label"})

# Columns passed through unchanged (not averaged) by aggregate_over_seeds.
_AGG_KEYS: tuple[str, ...] = ("bound_kind", "bound_value")

_INT_RE = re.compile(r"^[+-]?\d+$")


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------
def _mean(x: np.ndarray) -> float:
    """Mean, NaN for an empty array (no warning)."""
    return float(np.mean(x)) if x.size else math.nan


def _rms(x: np.ndarray) -> float:
    """Root mean square sqrt(mean(x^2)), NaN for an empty array."""
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else math.nan


def _std(x: np.ndarray) -> float:
    """Population std (ddof=0), NaN for an empty array."""
    return float(np.std(x)) if x.size else math.nan


def _max(x: np.ndarray) -> float:
    """Maximum, NaN for an empty array."""
    return float(np.max(x)) if x.size else math.nan


def ratio_of_range(err: float, rng: float) -> float:
    """err / rng with 0/0 -> 0, x/0 -> inf (x > 0) and NaN propagated."""
    if math.isnan(err) or math.isnan(rng):
        return math.nan
    if rng == 0.0:
        return 0.0 if err == 0.0 else math.inf
    return err / rng


def as_float(values: object, name: str) -> np.ndarray:
    """Convert a column (Series or array) to a float64 numpy array."""
    try:
        if isinstance(values, pd.Series):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"column {name!r} is not numeric: {exc}") from exc


def _validate_bound(name: str, bound: object) -> tuple[str, float] | None:
    """Check a (kind, value) bound and return it normalised (None for kind "none").

    Also accepts objects with ``kind`` and ``value`` attributes (``baler_core.coding.error_bounds.Bound``).
    """
    if hasattr(bound, "kind") and hasattr(bound, "value"):
        bound = (bound.kind, bound.value)  # type: ignore[union-attr]
    try:
        kind, value = bound  # type: ignore[misc]
        if kind == "none":
            return None
        value = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"bound for {name!r} must be (kind, value), got {bound!r}") from exc
    if kind not in BOUND_KINDS:
        raise InputError(f"bound kind for {name!r} must be one of {BOUND_KINDS}, got {kind!r}")
    if not math.isfinite(value) or value < 0:
        raise InputError(f"bound value for {name!r} must be finite and >= 0, got {value!r}")
    return str(kind), value


def check_tables(original: pd.DataFrame, reconstructed: pd.DataFrame) -> None:
    """Raise ValueError if reconstructed lacks a column of original or row counts differ."""
    missing = [c for c in original.columns if c not in reconstructed.columns]
    if missing:
        raise InputError(
            f"column {missing[0]!r} of the original table is missing in the reconstructed table"
            + (f" (also missing: {missing[1:]!r})" if len(missing) > 1 else "")
        )
    if len(original) != len(reconstructed):
        raise InputError(
            f"row counts differ: original has {len(original)} rows, "
            f"reconstructed has {len(reconstructed)}"
        )


def _column_metrics(
    name: str, orig: np.ndarray, reco: np.ndarray, bound: tuple[str, float] | None
) -> dict[str, object]:
    """Metrics row for one variable (see per_variable_metrics)."""
    n = int(orig.size)
    fin_o = np.isfinite(orig)
    fin_r = np.isfinite(reco)
    both = fin_o & fin_r
    o, r = orig[both], reco[both]
    res = r - o
    nz = o != 0
    resp = res[nz] / o[nz]

    # a finite original reconstructed as NaN/Inf: unbounded error
    broken = fin_o & ~fin_r
    broken_nonzero = broken & (orig != 0)
    fin_vals = orig[fin_o]
    rng = float(fin_vals.max() - fin_vals.min()) if fin_vals.size else math.nan

    abs_res = np.abs(res)
    max_abs = math.inf if broken.any() else _max(abs_res)
    max_rel = math.inf if broken_nonzero.any() else _max(abs_res[nz] / np.abs(o[nz]))

    row: dict[str, object] = {
        "variable": name,
        "n": n,
        "n_nonfinite": int(n - fin_o.sum()),
        "n_zero_excluded": int(np.count_nonzero(fin_vals == 0)),
        "response_mean": _mean(resp),
        "response_rms": _rms(resp),
        "residual_mean": _mean(res),
        "residual_rms": _rms(res),
        "max_abs_error": max_abs,
        "max_rel_error": max_rel,
        "max_range_rel_error": ratio_of_range(max_abs, rng),
        "bound_kind": "",
        "bound_value": math.nan,
        "frac_outside_bound": math.nan,
        "response_std": _std(resp),
        "residual_std": _std(res),
    }

    if bound is not None:
        kind, value = bound
        if kind == "rms":  # a target for the whole column: every value counts as outside when it is missed
            missed = not (row["response_rms"] <= value and abs(row["response_mean"]) <= RMS_MEAN_FRACTION * value)
            exact = (o == 0) | (bool(o.size) and np.array_equal(o, np.rint(o)))  # zeros, integer columns
            n_bad = n if missed and len(resp) else int(np.count_nonzero(exact & (r != o)))
        else:
            tol: np.ndarray | float = value  # abs
            if kind == "exact":  # every bit of the finite values: -0.0 for +0.0 misses it too
                tol, abs_res = 0.0, (np.signbit(o) != np.signbit(r)) | (o != r)
            elif kind == "rel":
                tol = value * np.abs(o)
            elif kind == "range":
                tol = value * rng
            n_bad = int(np.count_nonzero(abs_res > tol))
        n_bad += int(broken.sum())
        # non-finite originals must be reproduced exactly (NaN->NaN, +Inf->+Inf)
        nf = ~fin_o
        o_nf, r_nf = orig[nf], reco[nf]
        same = (np.isnan(o_nf) & np.isnan(r_nf)) | (o_nf == r_nf)
        n_bad += int(np.count_nonzero(~same))
        row["bound_kind"] = kind
        row["bound_value"] = value
        row["frac_outside_bound"] = min(n_bad, n) / n if n else 0.0
    return row


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------
def per_variable_metrics(
    original: pd.DataFrame,
    reconstructed: pd.DataFrame,
    bounds: dict[str, tuple[str, float]] | None = None,
) -> pd.DataFrame:
    """One row of reconstruction metrics per column of ``original``.

    Columns (in order): variable, n (all rows), n_nonfinite (NaN/±Inf
    originals, excluded from all statistics), n_zero_excluded (finite
    originals equal to 0, excluded from the response), response_mean,
    response_rms, residual_mean, residual_rms, max_abs_error, max_rel_error
    (over nonzero finite originals), max_range_rel_error (max_abs_error /
    (max - min) of finite originals; 0/0 -> 0, x/0 -> inf), bound_kind,
    bound_value, frac_outside_bound, response_std, residual_std.

    RMS = sqrt(mean(x**2)) (the Baler study's RMS of the response/residual
    distribution); *_std is the population std (ddof=0).

    Mean/RMS/std use rows where both values are finite.  A finite original
    reconstructed as NaN/Inf makes max_abs_error (and max_rel_error for a
    nonzero original) inf and violates any bound.

    ``bounds`` maps column -> (kind, value) (or an object with .kind and
    .value; kind "none" means no bound): "abs": |r| <= v; "rel":
    |r| <= v*|orig| (so a zero must be reproduced exactly); "range":
    |r| <= v*(max-min).  A non-finite original is within the bound only if
    reproduced exactly (NaN->NaN, +Inf->+Inf).  frac_outside_bound is the
    violating fraction of all rows (0.0 for a 0-row table); columns without
    a bound get bound_kind "", bound_value NaN and frac_outside_bound NaN.
    """
    check_tables(original, reconstructed)
    bounds = dict(bounds or {})
    unknown = [k for k in bounds if k not in original.columns]
    if unknown:
        raise InputError(f"bounds given for unknown column(s): {unknown!r}")
    norm = {k: _validate_bound(k, v) for k, v in bounds.items()}
    if len(set(original.columns)) != len(original.columns):
        raise InputError("original table has duplicate column names")

    rows = []
    for name in original.columns:
        orig = as_float(original[name], name)
        reco = as_float(reconstructed[name], name)
        rows.append(_column_metrics(str(name), orig, reco, norm.get(name)))
    return _metrics_frame(rows)


def _metrics_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Build the metrics DataFrame with fixed column order and dtypes."""
    df = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    for c in ("n", "n_nonfinite", "n_zero_excluded"):
        df[c] = df[c].astype(np.int64)
    for c in METRIC_COLUMNS:
        if c not in ("variable", "bound_kind", "n", "n_nonfinite", "n_zero_excluded"):
            df[c] = df[c].astype(np.float64)
    return df


def field_error_stats(original: np.ndarray, reconstructed: np.ndarray) -> dict[str, float]:
    """Error summary of a reconstructed N x H x W field (any equal shapes work).

    Returns max_abs_error, rmse, max_range_rel_error (max abs / (max - min) of
    original), rmse_range_rel (rmse / range), psnr_db (20*log10(range/rmse),
    inf when rmse == 0) and residual_mean.  Values are expected finite;
    non-finite entries propagate into the results.  Empty fields give NaN.
    """
    o = np.asarray(original, dtype=np.float64)
    r = np.asarray(reconstructed, dtype=np.float64)
    if o.shape != r.shape:
        raise InputError(f"shape mismatch: original {o.shape} vs reconstructed {r.shape}")
    if o.size == 0:
        keys = ("max_abs_error", "rmse", "max_range_rel_error", "rmse_range_rel", "psnr_db", "residual_mean")
        return {k: math.nan for k in keys}
    res = r - o
    max_abs = float(np.max(np.abs(res)))
    rmse = float(np.sqrt(np.mean(np.square(res))))
    rng = float(np.max(o) - np.min(o))
    if math.isnan(rmse) or math.isnan(rng):
        psnr = math.nan
    elif rmse == 0.0:
        psnr = math.inf
    elif rng == 0.0:
        psnr = -math.inf
    else:
        psnr = 20.0 * math.log10(rng / rmse)
    return {
        "max_abs_error": max_abs,
        "rmse": rmse,
        "max_range_rel_error": ratio_of_range(max_abs, rng),
        "rmse_range_rel": ratio_of_range(rmse, rng),
        "psnr_db": psnr,
        "residual_mean": float(np.mean(res)),
    }


def field_to_metrics_table(
    original: np.ndarray,
    reconstructed: np.ndarray,
    bound: tuple[str, float] | None = None,
) -> pd.DataFrame:
    """per_variable_metrics for a flattened field, as one variable named "field"."""
    o = np.asarray(original, dtype=np.float64)
    r = np.asarray(reconstructed, dtype=np.float64)
    if o.shape != r.shape:
        raise InputError(f"shape mismatch: original {o.shape} vs reconstructed {r.shape}")
    bounds = {"field": bound} if bound is not None else None
    return per_variable_metrics(
        pd.DataFrame({"field": o.ravel()}), pd.DataFrame({"field": r.ravel()}), bounds
    )


def aggregate_over_seeds(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Mean and sample std (ddof=1) of every numeric metric over seeds.

    The Baler study averaged 5 training runs and quoted 2 sigma; here each
    input table is one seed's per_variable_metrics output (same variables).
    Output: one row per variable (order of the first table) with variable,
    bound_kind and bound_value passed through, n_seeds, then
    ``<metric>_mean`` and ``<metric>_std`` for each other numeric column.
    std is NaN for a single seed; NaN/inf values propagate.
    """
    if not tables:
        raise InputError("aggregate_over_seeds needs at least one table")
    first = tables[0]
    if "variable" not in first.columns:
        raise InputError("metrics tables need a 'variable' column")
    variables = [str(v) for v in first["variable"]]
    if len(set(variables)) != len(variables):
        raise InputError("duplicate variables in the first metrics table")
    indexed = []
    for i, t in enumerate(tables):
        vs = [str(v) for v in t["variable"]]
        if sorted(vs) != sorted(variables):
            raise InputError(
                f"table {i} has variables {sorted(vs)!r}, expected {sorted(variables)!r}"
            )
        indexed.append(t.assign(variable=vs).set_index("variable").loc[variables])

    metrics = [
        c
        for c in first.columns
        if c != "variable" and c not in _AGG_KEYS and pd.api.types.is_numeric_dtype(first[c])
        and not pd.api.types.is_bool_dtype(first[c])
    ]
    out: dict[str, object] = {"variable": variables}
    for key in _AGG_KEYS:
        if key in first.columns:
            out[key] = indexed[0][key].to_numpy()
    out["n_seeds"] = np.full(len(variables), len(tables), dtype=np.int64)
    for m in metrics:
        stack = np.vstack([as_float(t[m], m) for t in indexed])  # seeds x variables
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            out[f"{m}_mean"] = np.mean(stack, axis=0)
            if len(tables) > 1:
                out[f"{m}_std"] = np.std(stack, axis=0, ddof=1)
            else:
                out[f"{m}_std"] = np.full(len(variables), np.nan)
    return pd.DataFrame(out)


def write_metrics_tsv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a metrics table as TSV (floats at full round-trip precision, NaN as "nan")."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, sep="\t", index=False, na_rep="nan", lineterminator="\n")
    return path


def _parse_column(values: pd.Series) -> pd.Series:
    """Parse a column of strings to int64/float64 if possible, else keep strings."""
    strs = values.tolist()
    if strs and all(_INT_RE.match(s) for s in strs):
        return pd.Series([int(s) for s in strs], dtype=np.int64, index=values.index)
    try:
        return pd.Series(
            [math.nan if s == "" else float(s) for s in strs], dtype=np.float64, index=values.index
        )
    except ValueError:
        return values


def read_metrics_tsv(path: str | Path) -> pd.DataFrame:
    """Read a TSV written by write_metrics_tsv (column order and values preserved).

    Columns in STRING_COLUMNS (variable, bound_kind, method, label) stay
    strings ("" stays ""); other columns become int64/float64 when every
    entry parses ("nan", "inf", "-inf" included), else stay strings.
    """
    raw = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    out = {}
    for c in raw.columns:
        out[c] = raw[c] if c in STRING_COLUMNS else _parse_column(raw[c])
    return pd.DataFrame(out, columns=list(raw.columns))
