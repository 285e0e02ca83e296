"""``baler`` subcommands of ``workflow/rules/evaluation.smk``: evaluate, summarize, plot-run, plot-summary,
aggregate-seeds."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.cli.args import bound_tuple, load_any, load_part_pairs, split_list


def _cmd_evaluate(a: argparse.Namespace) -> None:
    from baler_core.evaluation.metrics import field_to_metrics_table, per_variable_metrics, write_metrics_tsv

    bound = bound_tuple(a.error_bound)
    pairs = load_part_pairs(a.original, a.reconstructed)
    if pairs is not None:  # events: every part's variables, each value once
        write_metrics_tsv(pd.concat([per_variable_metrics(o, r, {c: bound for c in o.columns} if bound else None)
                                     for o, r in pairs], ignore_index=True), a.output)
        return
    orig, rec = load_any(a.original), load_any(a.reconstructed)
    if isinstance(orig, np.ndarray):
        table = field_to_metrics_table(orig, rec, bound)
    else:
        table = per_variable_metrics(orig, rec, {c: bound for c in orig.columns} if bound else None)
    write_metrics_tsv(table, a.output)


def _cmd_summarize(a: argparse.Namespace) -> None:
    from baler_core.evaluation.summary import ranked, summarize_sweep

    df = summarize_sweep(a.dataset, a.points or [], a.baselines or [])
    df.to_csv(a.output, sep="\t", index=False, float_format="%.6g")
    if a.ranked:
        ranked(df).to_csv(a.ranked, sep="\t", index=False, float_format="%.6g")


def _cmd_plot_run(a: argparse.Namespace) -> None:
    from baler_core.evaluation.plots import plot_field_frames, plot_loss_curves, plot_per_variable

    png_dir = Path(a.png_dir)
    png_dir.mkdir(parents=True, exist_ok=True)
    pairs = load_part_pairs(a.original, a.reconstructed)
    if pairs is not None:  # events: one page per variable of every part
        orig, rec = [o for o, _ in pairs], [r for _, r in pairs]
    else:
        orig, rec = load_any(a.original), load_any(a.reconstructed)
    if isinstance(orig, np.ndarray):
        if orig.ndim == 4:  # N x D x H x W: the frames' middle slice in depth
            orig, rec = orig[:, orig.shape[1] // 2], rec[:, rec.shape[1] // 2]
        frames = sorted({0, len(orig) // 2, len(orig) - 1})
        plot_field_frames(orig, rec, frames, png_dir / "field_frames.png")
        flat = pd.DataFrame({"field": orig.reshape(-1)}), pd.DataFrame({"field": rec.reshape(-1)})
        plot_per_variable(*flat, a.pdf, png_dir, title=a.title)
    else:
        plot_per_variable(orig, rec, a.pdf, png_dir, title=a.title)
    if a.history:
        plot_loss_curves(pd.read_csv(a.history, sep="\t"), png_dir / "loss_curves.png", title=a.title)


def _cmd_plot_summary(a: argparse.Namespace) -> None:
    from baler_core.evaluation.rate_distortion import plot_rate_distortion

    plot_rate_distortion(pd.read_csv(a.summary, sep="\t"), a.output, title=a.title)


def _cmd_aggregate_seeds(a: argparse.Namespace) -> None:
    from baler_core.evaluation.metrics import aggregate_over_seeds, read_metrics_tsv, write_metrics_tsv

    write_metrics_tsv(aggregate_over_seeds([read_metrics_tsv(p) for p in a.inputs]), a.output)


def _cmd_evaluate_physics(a: argparse.Namespace) -> None:
    from baler_core.errors import InputError
    from baler_core.evaluation.observables import EventNames, standard_observables, user_observable
    from baler_core.evaluation.physics import evaluate_physics, load_events

    standard = standard_observables(EventNames(a.jets, a.met, a.jet_pt_min))
    names = split_list(a.observables) if a.observables else list(standard)
    unknown = [n for n in names if n not in standard]
    if unknown:
        raise InputError(f"--observables: unknown {', '.join(unknown)}; standard: {', '.join(standard)}")
    observables = {n: standard[n] for n in names}
    for spec in a.observable or []:
        name, sep, target = spec.partition("=")
        if not sep or not name:
            raise InputError(f"--observable {spec!r}: write NAME=module:function")
        observables[name] = user_observable(name, target, "--observable")
    table = evaluate_physics(load_events(a.original, a.tree), load_events(a.decompressed, a.tree), observables,
                             a.png_dir, a.title)
    table.to_csv(a.output, sep="\t", index=False, float_format="%.6g")


def add_evaluation_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="per-variable errors of a reconstruction, as TSV")
    p.add_argument("original")
    p.add_argument("reconstructed")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--error-bound", help="bound to count values outside of "
                                         "(abs=X, rel=X, range=X; rms=X: a whole column)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("evaluate-physics", help="event-level observables of original and decompressed events "
                                                "compared: chi2/ndf, largest pull, KS (TSV and plots)")
    p.add_argument("original", help=".root (TTree or RNTuple), events .baler or .parquet")
    p.add_argument("decompressed", help="the same events after compression: .baler, .root or .parquet")
    p.add_argument("-o", "--output", required=True, help="TSV, one row per observable")
    p.add_argument("--png-dir", help="one histogram with a ratio panel per observable")
    p.add_argument("--tree", help="tree or RNTuple name in .root inputs")
    p.add_argument("--jets", default="Jet", help="jet collection of the standard observables (default Jet)")
    p.add_argument("--met", default="MET_pt", help="missing-pT branch (or the prefix of _px/_py; default MET_pt)")
    p.add_argument("--jet-pt-min", type=float, default=30.0, help="jet pt threshold of n_jets and H_T (GeV)")
    p.add_argument("--observables", help="standard observables to compare, comma-separated (default: all)")
    p.add_argument("--observable", action="append", metavar="NAME=MODULE:FUNCTION",
                   help="a user observable: a function of the awkward events returning one value per event or "
                        "per object (MODULE may be path/to/file.py); repeatable")
    p.add_argument("--title", default="")
    p.set_defaults(func=_cmd_evaluate_physics)

    p = sub.add_parser("summarize", help="one table of every sweep point and baseline of a dataset")
    p.add_argument("--dataset", required=True)
    p.add_argument("--points", nargs="*", help="sweep point folders (compress.json, metrics.tsv inside)")
    p.add_argument("--baselines", nargs="*", help="baseline JSON files")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--ranked", help="also write the ranked table (per bound, by ratio with the decoder) here")
    p.set_defaults(func=_cmd_summarize)

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

    p = sub.add_parser("aggregate-seeds", help="mean and spread of per-variable metrics over several seeds")
    p.add_argument("inputs", nargs="+", help="metrics.tsv files, one per seed")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_aggregate_seeds)
