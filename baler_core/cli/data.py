"""``baler`` subcommands of ``workflow/rules/data.smk``: extract, extract-field, simulate-cfd, split, fit-norm."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from baler_core.cli.args import load_any, resolve_source, save_any, split_list


def _cmd_extract(a: argparse.Namespace) -> None:
    from baler_core.io.tables import read_table

    df = read_table(resolve_source(a.input), split_list(a.branches), a.tree, a.cut)
    if a.max_rows:
        df = df.iloc[: a.max_rows]
    save_any(df, a.output)


def _cmd_extract_field(a: argparse.Namespace) -> None:
    from baler_core.io.fields import read_field

    save_any(np.asarray(read_field(a.input, a.field_key)), a.output)


def _cmd_simulate_cfd(a: argparse.Namespace) -> None:
    from baler_core.sim import cfd

    if a.flow == "square":
        field = cfd.simulate_flow_past_square(n_frames=a.n_frames, height=a.height, width=a.width,
                                              reynolds=a.reynolds, steps_per_frame=a.steps_per_frame,
                                              warmup_steps=a.warmup_steps, seed=a.seed)
    else:
        field = cfd.simulate_decaying_turbulence(n_frames=a.n_frames, size=a.height, seed=a.seed,
                                                 steps_per_frame=a.steps_per_frame)
    save_any(field, a.output)


def _cmd_split(a: argparse.Namespace) -> None:
    from baler_core.prep.splitting import split_dataset

    parts = split_dataset(load_any(a.input), a.val_fraction, a.test_fraction, a.seed)
    for part, out in zip(parts, (a.train, a.val, a.test)):
        save_any(part, out)


def _cmd_fit_norm(a: argparse.Namespace) -> None:
    from baler_core.prep.normalization import fit_normalizer

    data = load_any(a.input)
    if isinstance(data, np.ndarray):
        norm = fit_normalizer(data.reshape(-1, 1), ["field"], a.method, None)
    else:
        log_cols = a.log_columns if a.log_columns in ("auto", "none") else split_list(a.log_columns)
        norm = fit_normalizer(data.to_numpy(dtype=np.float64), list(data.columns), a.method,
                              None if log_cols == "none" else log_cols)
    Path(a.output).write_text(json.dumps(norm.to_dict(), indent=1))


def add_data_commands(sub: argparse._SubParsersAction) -> None:
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
