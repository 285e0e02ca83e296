"""``baler`` subcommands of ``workflow/rules/data.smk``: extract, extract-field, simulate-cfd, split, fit-norm,
extract-events, split-events; and simulate-campaign (field files for campaigns and benchmarks)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from baler_core.cli.args import load_any, resolve_source, save_any, split_list
from baler_core.errors import InputError


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

    if a.flow == "cube":
        _write_cube(a)
        return
    if a.flow in ("square", "cylinder"):
        field = cfd.run_lbm(n_frames=a.n_frames, height=a.height, width=a.width, reynolds=a.reynolds,
                            steps_per_frame=a.steps_per_frame, warmup_steps=a.warmup_steps, seed=a.seed,
                            shape=a.flow).frames
    else:
        field = cfd.simulate_decaying_turbulence(n_frames=a.n_frames, size=a.height, seed=a.seed,
                                                 steps_per_frame=a.steps_per_frame)
    save_any(field, a.output)


def _cmd_simulate_campaign(a: argparse.Namespace) -> None:
    from baler_core.sim.campaign import field_campaign, write_campaign

    runs = a.reynolds if a.flow != "turbulence" else a.seeds
    if runs is None:
        raise InputError(f"--flow {a.flow} needs " + ("--seeds" if a.flow == "turbulence" else "--reynolds"))
    paths = write_campaign(field_campaign(a.flow, runs, a.windows, a.frames, height=a.height, width=a.width,
                                          steps_per_frame=a.steps_per_frame, warmup_steps=a.warmup_steps,
                                          seed=a.seed), a.output)
    print(json.dumps({"files": len(paths), "directory": str(a.output)}))


def _number_list(kind: type) -> Callable[[str], list]:
    def parse(text: str) -> list:
        try:
            return [kind(v) for v in split_list(text) or []]
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__}s, got {text!r}") from exc
    return parse


def _write_cube(a: argparse.Namespace) -> None:
    """The 3-D flow past a cube: u, v, w and p as variables of an HDF5 / NetCDF / zarr file (dims t, z, y, x;
    the run's parameters as attributes), or u alone as T x D x H x W NPY."""
    from baler_core.io.gridded import Variable, gridded_format, write_gridded
    from baler_core.sim.lbm3d import simulate_cube_flow

    fmt = gridded_format(a.output)
    if fmt is None and Path(a.output).suffix.lower() != ".npy":
        raise InputError(f"{a.output}: the cube flow is written as .h5, .nc, .zarr (u, v, w, p) or .npy (u)")
    flow = simulate_cube_flow(n_frames=a.n_frames, depth=a.depth, height=a.height, width=a.width,
                              reynolds=a.reynolds, steps_per_frame=a.steps_per_frame, warmup_steps=a.warmup_steps,
                              seed=a.seed)
    if fmt is None:
        save_any(flow.u, a.output)
        return
    units = {"u": "U", "v": "U", "w": "U", "p": "rho U^2"}
    dims = ["t", "z", "y", "x"]
    variables = [(Variable(name, x, dims, {"units": units[name]}), x) for name, x in flow.variables().items()]
    attrs = {"flow": "D3Q19 lattice Boltzmann channel flow past a cube (baler_core.sim.lbm3d)",
             "reynolds": flow.reynolds, "tau": flow.tau, "inflow_velocity": flow.inflow_velocity,
             "steps_per_frame": flow.steps_per_frame, "cube_zyx": list(flow.cube), "seed": a.seed}
    write_gridded(variables, attrs, a.output, fmt)


def _cmd_split(a: argparse.Namespace) -> None:
    from baler_core.prep.splitting import split_dataset

    parts = split_dataset(load_any(a.input), a.val_fraction, a.test_fraction, a.seed)
    for part, out in zip(parts, (a.train, a.val, a.test)):
        save_any(part, out)


def _cmd_extract_events(a: argparse.Namespace) -> None:
    from baler_core.io.events import read_events, write_events
    from baler_core.sim.nanoaod import write_arrays

    if (a.generator is None) == (a.input is None):
        raise InputError("extract-events: give either an input file or --generator (one of the two)")
    if a.pf_jets and a.generator != "pythia":
        raise InputError("extract-events: --pf-jets is a setting of --generator pythia")
    if a.generator == "nanoaod":
        from baler_core.sim.nanoaod import nanoaod_events

        write_arrays(a.output, nanoaod_events(a.n_events, a.seed))
    elif a.generator == "pythia":
        from baler_core.sim.pythia import pythia_events

        write_arrays(a.output, pythia_events(a.n_events, a.seed, a.pf_jets, a.workers))
    else:
        write_events(read_events(resolve_source(a.input), a.tree, split_list(a.branches), a.cut), a.output)


def _cmd_split_events(a: argparse.Namespace) -> None:
    from baler_core.io.events import read_events, write_events
    from baler_core.prep.splitting import split_events

    ev = read_events(a.input)
    names = [c.name for c in ev.collections]
    if a.collection not in names:
        raise InputError(f"{a.input}: no collection {a.collection!r} to train on; collections: "
                         f"{', '.join(names) or 'none'}")
    train, val, test = split_events(ev, a.val_fraction, a.test_fraction, a.seed)
    for part, out in ((train, a.train), (val, a.val)):  # the model learns the objects of one collection
        save_any(next(c.objects for c in part.collections if c.name == a.collection), out)
    write_events(test, a.test)


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


def _split_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--test-fraction", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=0)


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

    p = sub.add_parser("simulate-cfd", help="simulate a flow: 2-D x-velocity frames N x H x W (square, "
                                            "cylinder, turbulence), or the 3-D flow past a cube (u, v, w, p)")
    p.add_argument("-o", "--output", required=True,
                   help=".npy (fields; the cube: u as N x D x H x W), or .h5 / .nc / .zarr (the cube: u, v, w, p)")
    p.add_argument("--flow", choices=["square", "cylinder", "turbulence", "cube"], default="square")
    p.add_argument("--n-frames", type=int, default=64)
    p.add_argument("--depth", type=int, default=32, help="cube: cells in z")
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=192)
    p.add_argument("--reynolds", type=float, default=150.0)
    p.add_argument("--steps-per-frame", type=int, default=20)
    p.add_argument("--warmup-steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_simulate_cfd)

    p = sub.add_parser("simulate-campaign", help="simulate a campaign of field files: one run per Reynolds number "
                                                 "(wakes) or seed (turbulence), each cut into output windows")
    p.add_argument("-o", "--output", required=True, help="directory: one .npy per window and campaign.json")
    p.add_argument("--flow", choices=["square", "cylinder", "turbulence"], default="cylinder")
    p.add_argument("--reynolds", type=_number_list(float), help="wakes: Reynolds numbers, e.g. 80,100,120")
    p.add_argument("--seeds", type=_number_list(int), help="turbulence: run seeds, e.g. 0,1,2")
    p.add_argument("--windows", type=int, default=4, help="output windows (files) per run")
    p.add_argument("--frames", type=int, default=24, help="frames per file")
    p.add_argument("--height", type=int, default=64, help="wakes: cells across; turbulence: the box's size")
    p.add_argument("--width", type=int, default=192)
    p.add_argument("--steps-per-frame", type=int, default=20)
    p.add_argument("--warmup-steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0, help="wakes: the initial perturbation's seed")
    p.set_defaults(func=_cmd_simulate_campaign)

    p = sub.add_parser("split", help="train/validation/test split (rows shuffled; field frames contiguous)")
    p.add_argument("input")
    p.add_argument("--train", required=True)
    p.add_argument("--val", required=True)
    p.add_argument("--test", required=True)
    _split_options(p)
    p.set_defaults(func=_cmd_split)

    p = sub.add_parser("extract-events", help="read ROOT events (TTree or RNTuple) or generate NanoAOD-like "
                                              "ones, and write them as a ROOT file of events")
    p.add_argument("input", nargs="?", help="ROOT file or testdata:NAME (omit with --generator)")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--tree")
    p.add_argument("--branches", help="comma-separated names or glob patterns; counters come with their branches")
    p.add_argument("--cut")
    p.add_argument("--generator", choices=["nanoaod", "pythia"],
                   help="nanoaod: the NanoAOD-like layout with synthetic values; pythia: Pythia 8 QCD events "
                        "(the sim extra)")
    p.add_argument("--n-events", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pf-jets", action="store_true",
                   help="pythia: also the jets' PF-like content (energy fractions, multiplicities, ptD, girth)")
    p.add_argument("--workers", type=int, default=1,
                   help="--generator pythia: processes generating chunks of events at once (the events do not "
                        "depend on it); other sources read in one process")
    p.set_defaults(func=_cmd_extract_events)

    p = sub.add_parser("split-events", help="train/validation/test split by event (never splitting an event): "
                                            "the training collection's objects as Parquet, the test events whole")
    p.add_argument("input", help="ROOT file of events")
    p.add_argument("--collection", required=True, help="collection whose objects the model learns (e.g. Jet)")
    p.add_argument("--train", required=True, help="Parquet: objects of the training events")
    p.add_argument("--val", required=True, help="Parquet: objects of the validation events")
    p.add_argument("--test", required=True, help="ROOT: the test events, with every branch")
    _split_options(p)
    p.set_defaults(func=_cmd_split_events)

    p = sub.add_parser("fit-norm", help="fit the normalization on the training split only")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--method", choices=["minmax", "standard"], default="minmax")
    p.add_argument("--log-columns", default="auto", help="auto, none, or comma-separated column names")
    p.set_defaults(func=_cmd_fit_norm)
