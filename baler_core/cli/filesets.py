"""``baler`` subcommands for file-set datasets (one model, many input files), one per Snakemake rule of
``workflow/rules/filesets.smk``: list-files, sample-files, evaluate-file, summarize-files; for table and
field sets alike. Each is a thin wrapper
over :mod:`baler_core.io.filesets` and :mod:`baler_core.evaluation.filesets`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from baler_core.errors import InputError


def _source(text: str) -> dict:
    try:
        src = json.loads(text)
    except ValueError as exc:
        raise InputError(f"--source-json is not JSON: {exc}") from exc
    if not isinstance(src, dict):
        raise InputError("--source-json must be a JSON object (a dataset's source mapping)")
    return src


def _read_options(src: dict) -> dict:
    """``tree``, ``branches`` and ``cut`` of a source, as keyword arguments of the table readers."""
    return {"tree": src.get("tree"), "columns": list(src["branches"]) if src.get("branches") else None,
            "cut": src.get("cut")}


def _cmd_list_files(a: argparse.Namespace) -> None:
    from baler_core.io.filesets import file_batches, resolve_files, stems_map, training_files

    src = _source(a.source_json)
    stems = stems_map(resolve_files(src, a.kind))
    batches = file_batches(stems, a.files_per_job)
    train = set(training_files(src, a.manifest, all_files=list(stems.values()), kind=a.kind)) if a.training else set()
    for stem, path in sorted(stems.items()):
        extra = f"\t{batches[stem]}" + ("\ttraining" if path in train else "")
        print(f"{stem}\t{path}{extra}")


def _cmd_sample_files(a: argparse.Namespace) -> None:
    import logging

    from baler_core.cli.args import save_any
    from baler_core.io import filesets as fs

    src = _source(a.source_json)
    s = fs.sample_settings(src, a.kind)
    if a.kind == "field":
        sample = fs.draw_frames(a.inputs, frames=s.get("frames"), fraction=s.get("fraction"), seed=s["seed"],
                                key=src.get("variable"))
    else:
        sample = fs.draw_sample(a.inputs, rows=s.get("rows"), fraction=s.get("fraction"), seed=s["seed"],
                                **_read_options(src))
    train, val = fs.split_sample(sample, a.val_fraction)
    save_any(train, a.train)  # Parquet or NPY, written atomically
    save_any(val, a.val)
    fs.write_manifest(a.manifest, a.inputs, fs.pick_settings(src), rows=len(sample))
    logging.getLogger("baler").info("drew %d %s (%d train, %d validation) from %d training file(s)", len(sample),
                                    "frames" if a.kind == "field" else "rows", len(train), len(val), len(a.inputs))


def _cmd_evaluate_file(a: argparse.Namespace) -> None:
    from baler_core.cli.args import bound_tuple
    from baler_core.evaluation.filesets import field_file_metrics, file_metrics, gridded_file_metrics
    from baler_core.evaluation.metrics import write_metrics_tsv
    from baler_core.io.fields import is_field_path, read_field
    from baler_core.io.gridded import gridded_format
    from baler_core.io.tables import read_table

    if gridded_format(a.original):
        write_metrics_tsv(gridded_file_metrics(a.original, a.reconstructed, bound_tuple(a.error_bound)), a.output)
        return
    if is_field_path(a.original):
        orig = read_field(a.original, a.field_key)
        write_metrics_tsv(field_file_metrics(orig, read_field(a.reconstructed), bound_tuple(a.error_bound),
                                             a.original), a.output)
        return
    rec = read_table(a.reconstructed)
    columns = [c.strip() for c in a.branches.split(",") if c.strip()] if a.branches else None
    if columns is None and Path(a.original).suffix.lower() == ".root":
        columns = list(rec.columns)  # as `baler compress` reads ROOT: the model's columns
    orig = read_table(a.original, columns, a.tree, a.cut)
    bound = bound_tuple(a.error_bound)
    if a.range_of and bound is not None and bound[0] == "range":  # as `baler compress --range-of` coded it
        from baler_core.coding.error_bounds import Bound, BoundSpec, with_set_ranges
        from baler_core.models.store import load_model

        spec = with_set_ranges(BoundSpec(Bound(*bound)), load_model(a.range_of).record.get("ranges"), a.range_of)
        bound = {c: (b.kind, b.value) for c in orig.columns for b in [spec.for_column(str(c))]}
    write_metrics_tsv(file_metrics(orig, rec, bound), a.output)


def _cmd_summarize_files(a: argparse.Namespace) -> None:
    from baler_core.evaluation.filesets import summarize_fileset
    from baler_core.evaluation.metrics import write_metrics_tsv
    from baler_core.io.filesets import rebuilt_suffix, resolve_files, stems_map

    stems = stems_map(resolve_files(_source(a.source_json), a.kind))
    rebuilt = rebuilt_suffix(a.kind, list(stems.values()))
    summary, per_file, pooled = summarize_fileset(a.dataset, a.points, stems, a.evaluated, rebuilt,
                                                  a.baselines or [])
    if a.files_table:
        per_file.to_csv(a.files_table, sep="\t", index=False, float_format="%.6g")
    if a.metrics:
        write_metrics_tsv(pooled, a.metrics)
    summary.to_csv(a.output, sep="\t", index=False, float_format="%.6g")


def add_fileset_commands(sub) -> None:
    p = sub.add_parser("list-files", help="file-set dataset: stem, path and batch of every input file")
    p.add_argument("--source-json", required=True, help="the dataset's source mapping as JSON")
    p.add_argument("--files-per-job", type=int, default=1, help="batch size for the batch column")
    p.add_argument("--manifest", help="training-file manifest (training_files.json) to mark training files with")
    p.add_argument("--training", action="store_true", help="mark the training files")
    p.add_argument("--kind", choices=("table", "field"), default="table", help="what the set's files hold")
    p.set_defaults(func=_cmd_list_files)

    p = sub.add_parser("sample-files", help="file-set dataset: draw the training sample across training files")
    p.add_argument("inputs", nargs="+", help="the training files")
    p.add_argument("--source-json", required=True,
                   help="JSON with tree, branches, cut and train_sample {rows | fraction, seed, max_files, files}")
    p.add_argument("--train", required=True, help="training rows to write (.parquet)")
    p.add_argument("--val", required=True, help="validation rows to write (.parquet)")
    p.add_argument("--manifest", required=True, help="JSON recording the training files and the settings")
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--kind", choices=("table", "field"), default="table",
                   help="tables draw rows (written as Parquet), fields whole frames (written as NPY)")
    p.set_defaults(func=_cmd_sample_files)

    p = sub.add_parser("evaluate-file", help="per-variable errors of one reconstructed file, with pooling columns")
    p.add_argument("original")
    p.add_argument("reconstructed")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--error-bound", help="bound to count values outside of "
                                         "(abs=X, rel=X, range=X; rms=X: a whole column)")
    p.add_argument("--tree")
    p.add_argument("--branches", "--columns", dest="branches")
    p.add_argument("--cut")
    p.add_argument("--field-key", help="the array of an NPZ field file")
    p.add_argument("--range-of", metavar="MODEL", help="tables: range=X is X times the range of MODEL's training "
                   "rows, as 'baler compress --range-of' codes it")
    p.set_defaults(func=_cmd_evaluate_file)

    p = sub.add_parser("summarize-files", help="file-set dataset: bytes, ratios and errors pooled over files")
    p.add_argument("--dataset", required=True)
    p.add_argument("--source-json", required=True, help="JSON with the set's files or file_list")
    p.add_argument("--points", nargs="+", required=True, help="sweep point folders (files/<stem>.json inside)")
    p.add_argument("--baselines", nargs="*", help="per-file baseline folders (files/<stem>.json inside)")
    p.add_argument("--evaluated", action="store_true", help="also pool files/<stem>.metrics.tsv")
    p.add_argument("--kind", choices=("table", "field"), default="table", help="what the set's files hold")
    p.add_argument("-o", "--output", required=True, help="summary TSV (one row per sweep point)")
    p.add_argument("--files-table", help="per-file TSV to write")
    p.add_argument("--metrics", help="pooled per-variable metrics TSV to write (label column per point)")
    p.set_defaults(func=_cmd_summarize_files)
