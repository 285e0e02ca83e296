"""Metrics of a file set: per-file metrics with what pooling needs, pooled over every file as if the files were
one table, and the set's sweep summary."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.errors import InputError
from baler_core.evaluation.metrics import METRIC_COLUMNS, per_variable_metrics, ratio_of_range, read_metrics_tsv
from baler_core.evaluation.summary import SUMMARY_COLUMNS, bound_of_label


def file_metrics(original: pd.DataFrame, reconstructed: pd.DataFrame,
                 bound: tuple[str, float] | dict[str, tuple[str, float]] | None) -> pd.DataFrame:
    """Per-variable metrics of one file (``metrics.per_variable_metrics``; ``bound``: one for every column, or a
    column's own) plus what pooling needs: ``n_residual`` (rows where both values are finite), ``n_response``
    (those with a nonzero original), ``min`` and ``max`` of the finite original values."""
    bounds = bound if isinstance(bound, dict) else {c: bound for c in original.columns} if bound else None
    table = per_variable_metrics(original, reconstructed, bounds)
    extra = {"n_residual": [], "n_response": [], "min": [], "max": []}
    for name in table["variable"]:
        o = original[name].to_numpy(dtype=np.float64, na_value=np.nan)
        r = reconstructed[name].to_numpy(dtype=np.float64, na_value=np.nan)
        both = np.isfinite(o) & np.isfinite(r)
        fin = o[np.isfinite(o)]
        extra["n_residual"].append(int(both.sum()))
        extra["n_response"].append(int((both & (o != 0)).sum()))
        extra["min"].append(float(fin.min()) if fin.size else math.nan)
        extra["max"].append(float(fin.max()) if fin.size else math.nan)
    for k, v in extra.items():
        table[k] = v
    return table


def field_file_metrics(original: np.ndarray, reconstructed: np.ndarray, bound: tuple[str, float] | None,
                       source: str = "field") -> pd.DataFrame:
    """:func:`file_metrics` of one field file, as the one variable ``field`` (every value of every frame)."""
    if original.shape != reconstructed.shape:
        raise InputError(f"{source}: reconstructed shape {reconstructed.shape} differs from the original's "
                         f"{original.shape}")
    return file_metrics(pd.DataFrame({"field": np.asarray(original).ravel()}),
                        pd.DataFrame({"field": np.asarray(reconstructed).ravel()}), bound)


def gridded_file_metrics(original: str | Path, reconstructed: str | Path, bound: tuple[str, float] | None
                         ) -> pd.DataFrame:
    """:func:`field_file_metrics` of every field variable of an HDF5, NetCDF or zarr file, one row each (named
    by the variable); the reconstruction must hold the same fields."""
    from baler_core.io.gridded import read_gridded

    orig, rec = read_gridded(original), read_gridded(reconstructed)
    got = {v.name: v for v in rec.fields}
    rows = []
    for var in orig.fields:
        if var.name not in got:
            raise InputError(f"{reconstructed}: field {var.name!r} of {original} is missing")
        t = field_file_metrics(np.asarray(var.data[...]), np.asarray(got[var.name].data[...]), bound,
                               f"{original}:{var.name}")
        t["variable"] = var.name
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


def _weighted(values: np.ndarray, weights: np.ndarray, square: bool = False) -> float:
    ok = np.isfinite(values) & (weights > 0)
    w = weights[ok]
    if not w.sum():
        return math.nan
    v = values[ok] ** 2 if square else values[ok]
    out = float(np.sum(v * w) / np.sum(w))
    return math.sqrt(out) if square else out


def _nanmax(v: np.ndarray) -> float:
    return math.nan if np.isnan(v).all() else float(np.nanmax(v))


def _nanmin(v: np.ndarray) -> float:
    return math.nan if np.isnan(v).all() else float(np.nanmin(v))


def pool_metrics(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Per-variable metrics pooled over files (each table from :func:`file_metrics` or ``baler evaluate``).

    Counts add up; maxima (``max_abs_error``, ``max_rel_error``) are the maxima over files; means and RMS are
    pooled with the files' row counts as weights (RMS as the root of the weighted mean square); the std follows
    from ``std**2 = rms**2 - mean**2``; ``frac_outside_bound`` is the row-weighted mean; ``max_range_rel_error`` is
    the largest absolute error over the range of all files together (needs ``min``/``max``; without them, the
    largest per-file value, an upper bound). ``n_files`` counts the files.
    """
    if not tables:
        raise InputError("pool_metrics needs at least one table")
    variables = [str(v) for v in tables[0]["variable"]]
    rows = []
    for var in variables:
        parts = []
        for i, t in enumerate(tables):
            hit = t[t["variable"].astype(str) == var]
            if len(hit) != 1:
                raise InputError(f"metrics table {i} has no single row for variable {var!r}")
            parts.append(hit.iloc[0])
        col = lambda k: np.array([float(p[k]) if k in p and p[k] != "" else math.nan for p in parts])  # noqa: E731
        n, n_nonfinite, n_zero = col("n"), col("n_nonfinite"), col("n_zero_excluded")
        n_res = col("n_residual") if "n_residual" in parts[0] else n - n_nonfinite
        n_resp = col("n_response") if "n_response" in parts[0] else n_res - n_zero
        resp_mean, resp_rms = _weighted(col("response_mean"), n_resp), _weighted(col("response_rms"), n_resp, True)
        res_mean, res_rms = _weighted(col("residual_mean"), n_res), _weighted(col("residual_rms"), n_res, True)
        max_abs, max_rel = _nanmax(col("max_abs_error")), _nanmax(col("max_rel_error"))
        if "min" in parts[0] and "max" in parts[0]:
            lo, hi = col("min"), col("max")
            max_range_rel = ratio_of_range(max_abs, _nanmax(hi) - _nanmin(lo))
        else:
            lo = hi = np.array([math.nan])
            max_range_rel = _nanmax(col("max_range_rel_error"))
        frac = col("frac_outside_bound")
        row = {
            "variable": var, "n": int(n.sum()), "n_nonfinite": int(n_nonfinite.sum()),
            "n_zero_excluded": int(n_zero.sum()),
            "response_mean": resp_mean, "response_rms": resp_rms, "residual_mean": res_mean, "residual_rms": res_rms,
            "max_abs_error": max_abs, "max_rel_error": max_rel, "max_range_rel_error": max_range_rel,
            "bound_kind": str(parts[0]["bound_kind"]) if "bound_kind" in parts[0] else "",
            "bound_value": float(parts[0]["bound_value"]) if "bound_value" in parts[0] else math.nan,
            "frac_outside_bound": _weighted(frac, n) if not np.isnan(frac).all() else math.nan,
            "response_std": math.sqrt(max(resp_rms**2 - resp_mean**2, 0.0)) if math.isfinite(resp_rms) else math.nan,
            "residual_std": math.sqrt(max(res_rms**2 - res_mean**2, 0.0)) if math.isfinite(res_rms) else math.nan,
            "n_residual": int(np.nansum(n_res)), "n_response": int(np.nansum(n_resp)),
            "min": _nanmin(lo), "max": _nanmax(hi),
            "n_files": len(tables),
        }
        rows.append(row)
    cols = METRIC_COLUMNS + ["n_residual", "n_response", "min", "max", "n_files"]
    return pd.DataFrame(rows, columns=cols)


def pool_stats(stats: Sequence[Mapping], decompress: Sequence[Mapping] | None = None) -> dict:
    """Bytes and times of a model's files together: sums of raw and compressed bytes, rows and seconds, and the
    ratio with the shared decoder counted once (``raw / (compressed + decoder)``). Every file must name the same
    decoder size (one model)."""
    if not stats:
        raise InputError("pool_stats needs at least one file's stats")
    dec = {int(s.get("decoder_bytes", 0)) for s in stats}
    if len(dec) != 1:
        raise InputError(f"the files were compressed with different decoders (decoder bytes {sorted(dec)})")
    decoder = dec.pop()
    embedded = sum(bool(s.get("decoder_embedded")) for s in stats)
    raw = sum(int(s["raw_bytes"]) for s in stats)
    comp = sum(int(s["compressed_bytes"]) for s in stats)
    out = {
        "n_files": len(stats), "rows": sum(int(s.get("rows") or 0) for s in stats), "raw_bytes": raw,
        "compressed_bytes": comp, "decoder_bytes": decoder, "decoder_embedded_files": embedded,
        "ratio_without_decoder": raw / comp if comp else math.nan,
        "ratio_with_decoder": raw / (comp + decoder) if comp + decoder else math.nan,
        "compress_seconds": sum(float(s.get("compress_seconds") or 0.0) for s in stats),
    }
    if decompress:
        out["decompress_seconds"] = sum(float(d.get("decompress_seconds") or 0.0) for d in decompress)
    return out


def pool_baseline(dataset: str, folder: str | Path, stems: Mapping[str, str]) -> dict:
    """One summary row for a per-file baseline (``<folder>/files/<stem>.json`` from ``baler baseline``, each file
    alone): bytes summed, worst errors over files, MB/s from the summed times."""
    d = Path(folder)
    runs = [json.loads((d / "files" / f"{s}.json").read_text()) for s in sorted(stems)]
    if not runs:
        raise InputError(f"{d}: no per-file baseline results")
    raw, comp = sum(int(r["raw_bytes"]) for r in runs), sum(int(r["compressed_bytes"]) for r in runs)
    seconds = {k: sum(int(r["raw_bytes"]) / 1e6 / float(r[k]) for r in runs if float(r.get(k) or 0) > 0)
               for k in ("compress_MBps", "decompress_MBps")}
    worst = {k: max(float(r.get(k, math.nan)) for r in runs) for k in ("max_abs_error", "max_range_rel_error",
                                                                       "max_rel_error")}
    return {"dataset": dataset, "method": runs[0]["method"], "label": f"baseline/{d.name}",
            "bound": runs[0].get("bound", ""), "raw_bytes": raw, "compressed_bytes": comp, "decoder_bytes": 0,
            "ratio": raw / comp if comp else math.nan, "ratio_with_decoder": raw / comp if comp else math.nan,
            **worst, "compress_MBps": raw / 1e6 / seconds["compress_MBps"] if seconds["compress_MBps"] else math.nan,
            "decompress_MBps": (raw / 1e6 / seconds["decompress_MBps"] if seconds["decompress_MBps"]
                                else math.nan),
            "n_files": len(runs)}


def summarize_fileset(dataset: str, point_dirs: Sequence[str | Path], stems: Mapping[str, str],
                      evaluated: bool, rebuilt: str = "parquet", baseline_dirs: Sequence[str | Path] = ()
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Summary rows (one per sweep point and bound, in ``summary.SUMMARY_COLUMNS`` plus ``n_files``, ``rows``),
    one row per file and point, and per-variable metrics pooled per point (with a ``label`` column).

    Reads ``<point>/files/<stem>.json`` (from ``baler compress --stats``) and, when ``evaluated``,
    ``<stem>.decompress.<rebuilt>.json`` (``rebuilt``: the suffix the files were decompressed to) and
    ``<stem>.metrics.tsv`` for every stem; and a pooled row per per-file baseline folder (``pool_baseline``).
    """
    summary, per_file, pooled_tables = [], [], []
    for d in map(Path, point_dirs):
        label = f"{d.parent.name}/{d.name}"
        stats, dec, metrics = [], [], []
        for stem, path in sorted(stems.items()):
            folder = d / "files"
            s = json.loads((folder / f"{stem}.json").read_text())
            stats.append(s)
            row = {"label": label, "stem": stem, "path": path, "rows": s.get("rows"), "raw_bytes": s["raw_bytes"],
                   "compressed_bytes": s["compressed_bytes"], "ratio": s["ratio_without_decoder"],
                   "compress_seconds": s.get("compress_seconds")}
            if evaluated:
                dec.append(json.loads((folder / f"{stem}.decompress.{rebuilt}.json").read_text()))
                m = read_metrics_tsv(folder / f"{stem}.metrics.tsv")
                metrics.append(m)
                row.update(max_abs_error=float(m["max_abs_error"].max()),
                           max_range_rel_error=float(m["max_range_rel_error"].max()),
                           max_frac_outside_bound=float(m["frac_outside_bound"].max()),
                           decompress_seconds=dec[-1].get("decompress_seconds"))
            per_file.append(row)
        tot = pool_stats(stats, dec if evaluated else None)
        mb = tot["raw_bytes"] / 1e6
        srow = {"dataset": dataset, "method": f"baler-{stats[0]['model']['name']}", "label": label,
                "bound": bound_of_label(label),
                "raw_bytes": tot["raw_bytes"], "compressed_bytes": tot["compressed_bytes"],
                "decoder_bytes": tot["decoder_bytes"], "ratio": tot["ratio_without_decoder"],
                "ratio_with_decoder": tot["ratio_with_decoder"],
                "compress_MBps": mb / tot["compress_seconds"] if tot["compress_seconds"] else math.nan,
                "decompress_MBps": mb / tot["decompress_seconds"] if tot.get("decompress_seconds") else math.nan,
                "n_files": tot["n_files"], "rows": tot["rows"]}
        if evaluated:
            pooled = pool_metrics(metrics)
            pooled.insert(0, "label", label)
            pooled_tables.append(pooled)
            srow.update(max_abs_error=float(pooled["max_abs_error"].max()),
                        max_range_rel_error=float(pooled["max_range_rel_error"].max()),
                        max_rel_error=float(pooled["max_rel_error"].max()),
                        max_response_rms=float(pooled["response_rms"].max()),
                        max_frac_outside_bound=float(max(float(m["frac_outside_bound"].max()) for m in metrics)))
        summary.append(srow)
    summary.extend(pool_baseline(dataset, b, stems) for b in baseline_dirs)
    cols = SUMMARY_COLUMNS + ["n_files", "rows"]
    pooled_df = pd.concat(pooled_tables, ignore_index=True) if pooled_tables else pd.DataFrame(columns=["label"])
    return pd.DataFrame(summary, columns=cols), pd.DataFrame(per_file), pooled_df
