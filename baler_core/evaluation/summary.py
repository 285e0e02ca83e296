"""One table per dataset: every sweep point and every baseline, bytes with and without the decoder, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.evaluation.metrics import read_metrics_tsv

SUMMARY_COLUMNS = ["dataset", "method", "label", "bound", "raw_bytes", "compressed_bytes", "decoder_bytes", "ratio",
                   "ratio_with_decoder", "max_abs_error", "max_range_rel_error", "max_rel_error",
                   "max_response_rms", "max_frac_outside_bound", "largest_pull", "compress_MBps", "decompress_MBps"]


def _max(series: pd.Series) -> float:
    v = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    v = v[~np.isnan(v)]
    return float(v.max()) if v.size else float("nan")


def bound_of_label(label: str) -> str:
    """The bound of a sweep point's label: ``dense-r4-s0/eb-range_1e-3`` -> ``range=1e-3`` ("" for no point)."""
    return label.rsplit("/eb-", 1)[1].replace("_", "=", 1) if "/eb-" in label else ""


def point_row(dataset: str, point_dir: str | Path) -> dict:
    """Summary row of one sweep point folder (``compress.json``, ``decompress.json``, ``metrics.tsv``)."""
    d = Path(point_dir)
    info = json.loads((d / "compress.json").read_text())
    dec_files = sorted(d.glob("decompress*.json"))
    dec = json.loads(dec_files[0].read_text()) if dec_files else {}
    m = read_metrics_tsv(d / "metrics.tsv")
    physics = d / "physics.tsv"  # events: the physics-analysis check
    pull = _max(pd.read_csv(physics, sep="\t")["largest_pull"]) if physics.exists() else np.nan
    mb = info["raw_bytes"] / 1e6
    label = f"{d.parent.name}/{d.name}"
    return {
        "dataset": dataset, "method": f"baler-{info['model']['name']}", "label": label,
        "bound": bound_of_label(label),
        "raw_bytes": info["raw_bytes"], "compressed_bytes": info["compressed_bytes"],
        "decoder_bytes": info["decoder_bytes"], "ratio": info["ratio_without_decoder"],
        "ratio_with_decoder": info["ratio_with_decoder"], "max_abs_error": _max(m["max_abs_error"]),
        "max_range_rel_error": _max(m["max_range_rel_error"]), "max_rel_error": _max(m["max_rel_error"]),
        "max_response_rms": _max(m["response_rms"]), "max_frac_outside_bound": _max(m["frac_outside_bound"]),
        "largest_pull": pull,
        "compress_MBps": mb / info["compress_seconds"] if info.get("compress_seconds") else np.nan,
        "decompress_MBps": mb / dec["decompress_seconds"] if dec.get("decompress_seconds") else np.nan,
    }


def baseline_row(dataset: str, path: str | Path) -> dict:
    b = json.loads(Path(path).read_text())
    return {"dataset": dataset, "method": b["method"], "label": b["label"],
            "bound": b.get("bound", "exact" if b.get("lossless") else "preset"), "raw_bytes": b["raw_bytes"],
            "compressed_bytes": b["compressed_bytes"], "decoder_bytes": 0, "ratio": b["ratio"],
            "ratio_with_decoder": b["ratio"], "max_abs_error": b.get("max_abs_error", np.nan),
            "max_range_rel_error": b.get("max_range_rel_error", np.nan),
            "max_rel_error": b.get("max_rel_error", np.nan), "max_response_rms": np.nan,
            "max_frac_outside_bound": np.nan, "largest_pull": np.nan, "compress_MBps": b["compress_MBps"],
            "decompress_MBps": b["decompress_MBps"]}


def summarize_sweep(dataset: str, point_dirs: list[str | Path], baseline_files: list[str | Path]) -> pd.DataFrame:
    rows = [point_row(dataset, d) for d in point_dirs] + [baseline_row(dataset, f) for f in baseline_files]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


# the error a bound limits: a row's worst error is read from this summary column
_ERROR_OF = {"abs": "max_abs_error", "range": "max_range_rel_error", "rel": "max_rel_error",
             "rms": "max_response_rms", "exact": "max_abs_error", "none": "max_range_rel_error",
             "preset": "max_rel_error"}
RANKED_COLUMNS = ["dataset", "bound", "rank", "method", "label", "ratio_with_decoder", "worst_error", "error",
                  "bound_held", "compress_MBps"]


def _worst(bound: str, row: pd.Series) -> tuple[float, str, bool]:
    """(worst error, the column it comes from, whether the row keeps ``bound``)."""
    kind, _, value = bound.partition("=")
    column = _ERROR_OF.get(kind, "max_range_rel_error")
    worst = float(pd.to_numeric(row.get(column), errors="coerce"))
    if kind == "exact":
        return worst, column, not worst > 0
    if value and kind in ("abs", "range", "rel", "rms"):
        return worst, column, not worst > float(value) * (1 + 1e-6)  # NaN (not measured) counts as held
    return worst, column, True


def ranked(summary: pd.DataFrame) -> pd.DataFrame:
    """The short table a reader wants first: per bound (``exact`` for lossless rows, ``preset`` for fixed
    precisions), every method ranked by its ratio with the decoder counted, with its worst error under that
    bound and its compression MB/s. A row that breaks its bound is ranked after those that keep it."""
    out = []
    for bound, part in summary.groupby("bound", sort=False):
        rows = []
        for _, r in part.iterrows():
            worst, column, held = _worst(str(bound), r)
            rows.append({"dataset": r["dataset"], "bound": bound, "method": r["method"], "label": r["label"],
                         "ratio_with_decoder": r["ratio_with_decoder"], "worst_error": worst, "error": column,
                         "bound_held": held, "compress_MBps": r["compress_MBps"]})
        rows.sort(key=lambda r: (not r["bound_held"], -float(r["ratio_with_decoder"])))
        out.extend({**r, "rank": i + 1} for i, r in enumerate(rows))
    return pd.DataFrame(out, columns=RANKED_COLUMNS)
