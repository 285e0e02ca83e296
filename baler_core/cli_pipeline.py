"""Pipeline steps as ``baler`` subcommands, one per Snakemake rule: extract, simulate-cfd, split, fit-norm,
baseline, evaluate, summarize. Each is a thin wrapper over a ``baler_core`` function."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd


def _list(s: str | None) -> list[str] | None:
    return [x.strip() for x in s.split(",") if x.strip()] if s else None


def resolve_source(path: str) -> str:
    """``testdata:NAME`` names a file shipped by scikit-hep-testdata (offline); anything else is a path."""
    if path.startswith("testdata:"):
        import skhep_testdata

        return str(skhep_testdata.data_path(path.split(":", 1)[1]))
    return path


def _load_any(path: str | Path) -> pd.DataFrame | np.ndarray:
    from .fields import is_field_path, read_field
    from .tables import read_table

    return np.asarray(read_field(path)) if is_field_path(path) else read_table(path)


def _save_any(data: pd.DataFrame | np.ndarray, path: str | Path) -> None:
    from .fields import write_field
    from .tables import write_table

    p = Path(path)
    tmp = p.with_name(f".{p.name}.part{p.suffix}")
    (write_field if isinstance(data, np.ndarray) else write_table)(data, tmp)
    tmp.replace(p)


def _cmd_extract(a: argparse.Namespace) -> None:
    from .tables import read_table

    df = read_table(resolve_source(a.input), _list(a.branches), a.tree, a.cut)
    if a.max_rows:
        df = df.iloc[: a.max_rows]
    _save_any(df, a.output)


def _cmd_extract_field(a: argparse.Namespace) -> None:
    from .fields import read_field

    _save_any(np.asarray(read_field(a.input, a.field_key)), a.output)


def _cmd_simulate_cfd(a: argparse.Namespace) -> None:
    from . import cfd

    if a.flow == "square":
        field = cfd.simulate_flow_past_square(n_frames=a.n_frames, height=a.height, width=a.width,
                                              reynolds=a.reynolds, steps_per_frame=a.steps_per_frame,
                                              warmup_steps=a.warmup_steps, seed=a.seed)
    else:
        field = cfd.simulate_decaying_turbulence(n_frames=a.n_frames, size=a.height, seed=a.seed,
                                                 steps_per_frame=a.steps_per_frame)
    _save_any(field, a.output)


def _cmd_split(a: argparse.Namespace) -> None:
    from .splitting import split_dataset

    parts = split_dataset(_load_any(a.input), a.val_fraction, a.test_fraction, a.seed)
    for part, out in zip(parts, (a.train, a.val, a.test)):
        _save_any(part, out)


def _cmd_fit_norm(a: argparse.Namespace) -> None:
    from .normalization import fit_normalizer

    data = _load_any(a.input)
    if isinstance(data, np.ndarray):
        norm = fit_normalizer(data.reshape(-1, 1), ["field"], a.method, None)
    else:
        log_cols = a.log_columns if a.log_columns in ("auto", "none") else _list(a.log_columns)
        norm = fit_normalizer(data.to_numpy(dtype=np.float64), list(data.columns), a.method,
                              None if log_cols == "none" else log_cols)
    Path(a.output).write_text(json.dumps(norm.to_dict(), indent=1))


def _cmd_baseline(a: argparse.Namespace) -> None:
    from .baselines import run_lossless, run_truncation

    data = _load_any(a.input)
    if a.codec in ("gzip", "zstd"):
        res, _ = run_lossless(data, a.codec, a.level)
        out = {**res.to_dict(), "max_abs_error": 0.0, "max_range_rel_error": 0.0, "max_rel_error": 0.0}
    else:
        from .baselines import run_error_bounded
        from .error_bounds import parse_bound
        from .metrics import field_to_metrics_table, per_variable_metrics

        if a.codec == "trunc":
            res, rec = run_truncation(data, a.level)
        else:
            bound = parse_bound(a.error_bound or "")
            res, rec = run_error_bounded(data, a.codec, bound.kind, bound.value)
        m = (field_to_metrics_table(data, rec) if isinstance(data, np.ndarray) else per_variable_metrics(data, rec))
        out = {**res.to_dict(), **{k: float(m[k].max()) for k in
                                   ("max_abs_error", "max_range_rel_error", "max_rel_error")}}
        if a.metrics:
            from .metrics import write_metrics_tsv

            write_metrics_tsv(m, a.metrics)
    Path(a.output).write_text(json.dumps(out, indent=1))


def _bound_tuple(spec: str | None):
    from .error_bounds import parse_bound

    if not spec:
        return None
    b = parse_bound(spec)
    return None if b.kind == "none" else (b.kind, b.value)


def _cmd_evaluate(a: argparse.Namespace) -> None:
    from .metrics import field_to_metrics_table, per_variable_metrics, write_metrics_tsv

    orig, rec = _load_any(a.original), _load_any(a.reconstructed)
    bound = _bound_tuple(a.error_bound)
    if isinstance(orig, np.ndarray):
        table = field_to_metrics_table(orig, rec, bound)
    else:
        table = per_variable_metrics(orig, rec, {c: bound for c in orig.columns} if bound else None)
    write_metrics_tsv(table, a.output)


def _cmd_summarize(a: argparse.Namespace) -> None:
    from .summary import summarize_sweep

    df = summarize_sweep(a.dataset, a.points or [], a.baselines or [])
    df.to_csv(a.output, sep="\t", index=False, float_format="%.6g")


def _cmd_plot_run(a: argparse.Namespace) -> None:
    from .plots import plot_field_frames, plot_loss_curves, plot_per_variable

    orig, rec = _load_any(a.original), _load_any(a.reconstructed)
    png_dir = Path(a.png_dir)
    png_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(orig, np.ndarray):
        frames = sorted({0, len(orig) // 2, len(orig) - 1})
        plot_field_frames(orig, rec, frames, png_dir / "field_frames.png")
        flat = pd.DataFrame({"field": orig.reshape(-1)}), pd.DataFrame({"field": rec.reshape(-1)})
        plot_per_variable(*flat, a.pdf, png_dir, title=a.title)
    else:
        plot_per_variable(orig, rec, a.pdf, png_dir, title=a.title)
    if a.history:
        plot_loss_curves(pd.read_csv(a.history, sep="\t"), png_dir / "loss_curves.png", title=a.title)


def _cmd_plot_summary(a: argparse.Namespace) -> None:
    from .plots import plot_rate_distortion

    plot_rate_distortion(pd.read_csv(a.summary, sep="\t"), a.output, title=a.title)


def _cmd_aggregate_seeds(a: argparse.Namespace) -> None:
    from .metrics import aggregate_over_seeds, read_metrics_tsv, write_metrics_tsv

    write_metrics_tsv(aggregate_over_seeds([read_metrics_tsv(p) for p in a.inputs]), a.output)


def add_pipeline_commands(sub) -> None:
    p = sub.add_parser("aggregate-seeds", help="mean and spread of per-variable metrics over several seeds")
    p.add_argument("inputs", nargs="+", help="metrics.tsv files, one per seed")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_aggregate_seeds)

    p = sub.add_parser("plot-run", help="per-variable plots (PDF + PNGs), field frames and loss curves of a run")
    p.add_argument("original")
    p.add_argument("reconstructed")
    p.add_argument("--history", help="training history TSV for the loss curves")
    p.add_argument("--pdf", required=True)
    p.add_argument("--png-dir", required=True)
    p.add_argument("--title", default="")
    p.set_defaults(func=_cmd_plot_run)

    p = sub.add_parser("plot-summary", help="rate-distortion plot of a sweep summary TSV")
    p.add_argument("summary")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--title", default="")
    p.set_defaults(func=_cmd_plot_summary)

    p = sub.add_parser("extract", help="read a ROOT/Parquet/NPZ table (or testdata:NAME) into a Parquet file")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--tree")
    p.add_argument("--branches", "--columns", dest="branches")
    p.add_argument("--cut")
    p.add_argument("--max-rows", type=int)
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("extract-field", help="read an N x H x W field (.npy/.npz) into an NPY file")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--field-key")
    p.set_defaults(func=_cmd_extract_field)

    p = sub.add_parser("simulate-cfd", help="simulate a 2-D flow and write x-velocity frames N x H x W")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--flow", choices=["square", "turbulence"], default="square")
    p.add_argument("--n-frames", type=int, default=64)
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=192)
    p.add_argument("--reynolds", type=float, default=150.0)
    p.add_argument("--steps-per-frame", type=int, default=20)
    p.add_argument("--warmup-steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_simulate_cfd)

    p = sub.add_parser("split", help="train/validation/test split (rows shuffled; field frames contiguous)")
    p.add_argument("input")
    p.add_argument("--train", required=True)
    p.add_argument("--val", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--test-fraction", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_split)

    p = sub.add_parser("fit-norm", help="fit the normalization on the training split only")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--method", choices=["minmax", "standard"], default="minmax")
    p.add_argument("--log-columns", default="auto", help="auto, none, or comma-separated column names")
    p.set_defaults(func=_cmd_fit_norm)

    p = sub.add_parser("baseline", help="run a reference codec on a dataset and write its figures as JSON")
    p.add_argument("input")
    p.add_argument("--codec", required=True, choices=["gzip", "zstd", "trunc", "sz3", "zfp", "grid"])
    p.add_argument("--level", type=int, default=0, help="compression level (trunc: mantissa bits kept)")
    p.add_argument("--error-bound", help="sz3/zfp: abs=X or range=X; grid (baler without a model): any bound")
    p.add_argument("--metrics", help="lossy codecs: also write the per-variable metrics TSV here")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_baseline)

    p = sub.add_parser("evaluate", help="per-variable errors of a reconstruction, as TSV")
    p.add_argument("original")
    p.add_argument("reconstructed")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--error-bound", help="bound to count values outside of "
                                         "(abs=X, rel=X, range=X; rms=X: a whole column)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("summarize", help="one table of every sweep point and baseline of a dataset")
    p.add_argument("--dataset", required=True)
    p.add_argument("--points", nargs="*", help="sweep point folders (compress.json, metrics.tsv inside)")
    p.add_argument("--baselines", nargs="*", help="baseline JSON files")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_summarize)
    from .cli_filesets import add_fileset_commands; add_fileset_commands(sub)  # noqa: E702 (file-set commands)
