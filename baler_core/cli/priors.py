"""``baler fit-priors``: fit a sequential model's priors (``codec.priors``) on its training rows, once per error
bound, so every file it compresses under that bound stores no probability tables of its own."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from baler_core.cli.args import add_input_options, split_list
from baler_core.errors import InputError


def _cmd_fit_priors(a: argparse.Namespace) -> None:
    import time

    from baler_core.codec.priors import add_priors, bound_key, fit_priors, training_ranges, why_no_priors
    from baler_core.coding.error_bounds import load_bound_spec
    from baler_core.io.tables import read_table
    from baler_core.models.store import load_model, save_record

    t0 = time.perf_counter()
    bundle = load_model(a.model)
    bounds = load_bound_spec(a.error_bound, a.error_bound_file)
    reason = why_no_priors(bundle, bounds)
    if reason and not a.skip_unsupported:
        raise InputError(f"{a.model}: {reason}")
    table = None
    if bundle.kind == "table":
        is_root = Path(a.input).suffix.lower() == ".root"
        columns = split_list(a.branches) or (bundle.columns if is_root else None)
        table = read_table(a.input, columns, a.tree, a.cut)
    if reason:  # a pipeline's per-bound model: the model as it is (with its set's ranges), and why
        if table is not None and not isinstance(bundle.record.get("ranges"), dict):
            save_record(a.model, a.output, {**bundle.record, "ranges": training_ranges(bundle, table)})
        elif Path(a.output).resolve() != Path(a.model).resolve():
            shutil.copyfile(a.model, a.output)
        print(json.dumps({"model": a.output, "priors": None, "reason": reason}))
        return
    fitted = fit_priors(bundle, table, bounds)
    key = bound_key(bounds)
    add_priors(a.model, a.output, bundle, bounds, fitted, table)
    size = len(load_model(a.output).decoder_blob())
    info = {"model": a.output, "priors": key, "columns": len(fitted), "rows": len(table), "decoder_bytes": size,
            "seconds": time.perf_counter() - t0}
    print(json.dumps(info))


def add_priors_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit-priors", help="fit a sequential model's priors (probability tables) on its training rows "
                                          "for one error bound: files compressed under it then store none")
    p.add_argument("model", help="sequential model file from 'baler train'")
    p.add_argument("input", help="the model's training rows (.parquet, .npz or .root)")
    p.add_argument("-o", "--output", required=True,
                   help="model file to write (may be MODEL itself): the model with this bound's priors added")
    p.add_argument("--error-bound", help="the bound the files will be compressed under (abs=, rel=, range=, rms=)")
    p.add_argument("--error-bound-file", help="YAML {default: SPEC, columns: {name: SPEC}} with per-column bounds")
    p.add_argument("--skip-unsupported", action="store_true",
                   help="where no priors fit (not a sequential table model, no error bound) write the model as it "
                        "is instead of failing (a pipeline's per-bound model)")
    add_input_options(p)
    p.set_defaults(func=_cmd_fit_priors)
