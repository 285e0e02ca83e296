"""``baler baseline``, the subcommand of ``workflow/rules/baselines.smk``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.cli.args import load_any, load_parts


def _run(data: pd.DataFrame | np.ndarray, a: argparse.Namespace) -> tuple:
    """One baseline on one table or field: (result, reconstruction or None)."""
    from baler_core.evaluation.baselines import run_error_bounded, run_lossless, run_truncation
    from baler_core.evaluation.peers import LOSSLESS, PRESETS, run_lossless_peer, run_preset

    if a.codec in ("gzip", "zstd"):
        return run_lossless(data, a.codec, a.level)[0], None
    if a.codec in LOSSLESS:
        return run_lossless_peer(data, a.codec), None
    if a.codec in PRESETS:
        return run_preset(data, a.codec, a.after)
    if a.codec == "trunc":
        return run_truncation(data, a.level)
    from baler_core.coding.error_bounds import parse_bound

    bound = parse_bound(a.error_bound or "")
    return run_error_bounded(data, a.codec, bound.kind, bound.value)


def _cmd_baseline(a: argparse.Namespace) -> None:
    from baler_core.evaluation.baselines import combine_results
    from baler_core.evaluation.metrics import field_to_metrics_table, per_variable_metrics

    parts = load_parts(a.input)  # events: each part (per-event values, each collection) on its own
    tables = [t for _, t in parts] if parts is not None else [load_any(a.input)]
    runs = [(data, *_run(data, a)) for data in tables]
    res = combine_results([r for _, r, _ in runs])
    bound = "exact" if res.lossless else a.error_bound or "preset"
    if res.lossless:
        out = {**res.to_dict(), "bound": bound, "max_abs_error": 0.0, "max_range_rel_error": 0.0,
               "max_rel_error": 0.0}
    else:
        m = pd.concat([field_to_metrics_table(d, rec) if isinstance(d, np.ndarray) else per_variable_metrics(d, rec)
                       for d, _, rec in runs], ignore_index=True)
        out = {**res.to_dict(), "bound": bound, **{k: float(m[k].max()) for k in
                                                   ("max_abs_error", "max_range_rel_error", "max_rel_error")}}
        if a.metrics:
            from baler_core.evaluation.metrics import write_metrics_tsv

            write_metrics_tsv(m, a.metrics)
    Path(a.output).write_text(json.dumps(out, indent=1))


def add_baselines_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("baseline", help="run a reference codec on a dataset and write its figures as JSON")
    p.add_argument("input")
    p.add_argument("--codec", required=True,
                   choices=["gzip", "zstd", "lzma", "pcodec", "blosc2", "openzl", "trunc", "atlas7", "atlas10",
                            "nanoaod", "sz3", "zfp", "sperr", "grid"],
                   help="lossless: gzip, zstd (--level), lzma (-9), pcodec, blosc2 (shuffle + zstd), openzl, each per "
                        "column; trunc (--level mantissa bits, then zstd -19); the HEP precision presets atlas7, "
                        "atlas10, nanoaod (then --after); error-bounded: sz3, zfp, sperr, grid (baler -m none)")
    p.add_argument("--after", choices=["zstd19", "lzma9"], default="zstd19",
                   help="presets: the lossless coder after the mantissa cut")
    p.add_argument("--level", type=int, default=0, help="compression level (trunc: mantissa bits kept)")
    p.add_argument("--error-bound", help="sz3/zfp/sperr: abs=X or range=X; grid (baler without a model): any bound")
    p.add_argument("--metrics", help="lossy codecs: also write the per-variable metrics TSV here")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_baseline)
