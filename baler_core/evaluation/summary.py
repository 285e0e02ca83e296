"""One table per dataset: every sweep point and every baseline, bytes with and without the decoder, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.evaluation.metrics import read_metrics_tsv

SUMMARY_COLUMNS = ["dataset", "method", "label", "raw_bytes", "compressed_bytes", "decoder_bytes", "ratio",
                   "ratio_with_decoder", "max_abs_error", "max_range_rel_error", "max_rel_error",
                   "max_response_rms", "max_frac_outside_bound", "largest_pull", "compress_MBps", "decompress_MBps"]


def _max(series: pd.Series) -> float:
    v = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    v = v[~np.isnan(v)]
    return float(v.max()) if v.size else float("nan")


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
    return {
        "dataset": dataset, "method": f"baler-{info['model']['name']}", "label": f"{d.parent.name}/{d.name}",
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
    return {"dataset": dataset, "method": b["method"], "label": b["label"], "raw_bytes": b["raw_bytes"],
            "compressed_bytes": b["compressed_bytes"], "decoder_bytes": 0, "ratio": b["ratio"],
            "ratio_with_decoder": b["ratio"], "max_abs_error": b.get("max_abs_error", np.nan),
            "max_range_rel_error": b.get("max_range_rel_error", np.nan),
            "max_rel_error": b.get("max_rel_error", np.nan), "max_response_rms": np.nan,
            "max_frac_outside_bound": np.nan, "largest_pull": np.nan, "compress_MBps": b["compress_MBps"],
            "decompress_MBps": b["decompress_MBps"]}


def summarize_sweep(dataset: str, point_dirs: list[str | Path], baseline_files: list[str | Path]) -> pd.DataFrame:
    rows = [point_row(dataset, d) for d in point_dirs] + [baseline_row(dataset, f) for f in baseline_files]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
