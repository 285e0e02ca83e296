"""``baler baseline``, the subcommand of ``workflow/rules/baselines.smk``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from baler_core.cli.args import load_any


def _cmd_baseline(a: argparse.Namespace) -> None:
    from baler_core.evaluation.baselines import run_lossless, run_truncation

    data = load_any(a.input)
    if a.codec in ("gzip", "zstd"):
        res, _ = run_lossless(data, a.codec, a.level)
        out = {**res.to_dict(), "max_abs_error": 0.0, "max_range_rel_error": 0.0, "max_rel_error": 0.0}
    else:
        from baler_core.coding.error_bounds import parse_bound
        from baler_core.evaluation.baselines import run_error_bounded
        from baler_core.evaluation.metrics import field_to_metrics_table, per_variable_metrics

        if a.codec == "trunc":
            res, rec = run_truncation(data, a.level)
        else:
            bound = parse_bound(a.error_bound or "")
            res, rec = run_error_bounded(data, a.codec, bound.kind, bound.value)
        m = (field_to_metrics_table(data, rec) if isinstance(data, np.ndarray) else per_variable_metrics(data, rec))
        out = {**res.to_dict(), **{k: float(m[k].max()) for k in
                                   ("max_abs_error", "max_range_rel_error", "max_rel_error")}}
        if a.metrics:
            from baler_core.evaluation.metrics import write_metrics_tsv

            write_metrics_tsv(m, a.metrics)
    Path(a.output).write_text(json.dumps(out, indent=1))


def add_baselines_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("baseline", help="run a reference codec on a dataset and write its figures as JSON")
    p.add_argument("input")
    p.add_argument("--codec", required=True, choices=["gzip", "zstd", "trunc", "sz3", "zfp", "grid"])
    p.add_argument("--level", type=int, default=0, help="compression level (trunc: mantissa bits kept)")
    p.add_argument("--error-bound", help="sz3/zfp: abs=X or range=X; grid (baler without a model): any bound")
    p.add_argument("--metrics", help="lossy codecs: also write the per-variable metrics TSV here")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_baseline)
