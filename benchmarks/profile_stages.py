#!/usr/bin/env python
"""Where the time goes: a per-stage profile of baler's compress and decompress paths (issue 21).

Each path runs once in this process under ``cProfile`` on one thread (so the stages add up to the wall time),
after one unprofiled warm-up run that also gives the wall-clock MB/s on every core. The profiler's time is then
charged to stages: a function of ``baler_core`` counts in its module's stage; time in numpy, torch, zstd,
constriction and other libraries is charged to the nearest ``baler_core`` caller (shared in proportion to the
calls' time where several call it). Stages:

- reading / writing: Parquet and ``.baler`` input and output (``io``, ``format``, pyarrow);
- normalization: ``prep``;
- inference: the models' forward passes (``models``, ``codec/inference``, torch);
- quantization: the grid and the model residuals' quantization, bound checks and exceptions;
- prediction: the field predictors' passes (Lorenzo, spline, interpolation, DCT) and their inverses;
- mode search / context search: choosing each column's coding mode and context split;
- entropy coding: rANS and zstd streams, tables and their sizes;
- other: everything else (the codec's driver, bookkeeping).

Paths: ``table-none`` (``-m none``, rANS), ``table-sequential`` (the sequential model, range 1e-3; trained here
on 20k jets for a few epochs, its speed does not depend on how long it trained), ``field-auto`` (``-m none``,
the best-ratio model-free field coder) and ``cli-table`` (the whole ``baler compress`` / ``decompress`` of
Parquet with the sequential model, in this process).

    python benchmarks/profile_stages.py                  # every path, ~20 MB each (~3 min on 2 cores)
    python benchmarks/profile_stages.py --paths field-auto --mb 50

The shared jets (``../shared/data``, or ``--data``) feed the table paths; without them those paths are skipped.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import DEFAULT_DATA, load_jets, simulate_field, tile_field, tile_jets  # noqa: E402

STAGES = ("reading", "normalization", "inference", "quantization", "prediction", "mode search", "context search",
          "entropy coding", "writing", "other")
# (stage, substring of a baler_core file path or function name); the first match wins
RULES = (
    ("reading", "baler_core/io/"), ("reading", "format/container.py:_open"), ("reading", "format/container.py:read"),
    ("writing", "baler_core/format/"), ("writing", "io/tables.py:write"),
    ("normalization", "baler_core/prep/"),
    ("inference", "baler_core/models/"), ("inference", "codec/inference.py"), ("inference", "coding/mlp_kernels.py"),
    ("context search", "coding/contexts.py"),
    ("mode search", "coding/columns.py:encode_best"), ("mode search", "coding/columns.py:encode_column"),
    ("entropy coding", "coding/entropy.py"), ("entropy coding", "coding/rans.py"),
    ("entropy coding", "coding/lossless.py"),
    ("prediction", "coding/predictors/lorenzo.py"), ("prediction", "coding/predictors/spline.py"),
    ("prediction", "coding/predictors/interp.py"), ("prediction", "coding/predictors/dct.py"),
    ("prediction", "coding/predictors/levels.py"),
    ("quantization", "coding/quantization.py"), ("quantization", "coding/grid.py"),
    ("quantization", "coding/predictors/base.py"), ("quantization", "coding/rms.py"),
    ("quantization", "coding/error_bounds.py"),
)
OURS = "baler_core/"


def stage_of(key: tuple[str, int, str]) -> str | None:
    """The stage of a profiled function, None for code outside baler_core."""
    path, _, name = key
    if OURS not in path:
        return None
    where = path[path.index(OURS):] + ":" + name
    for stage, pattern in RULES:
        if pattern in where:
            return stage
    return "other"


def charge(stats: pstats.Stats) -> dict[str, float]:
    """Seconds per stage: own time of baler_core functions, library time moved up to the nearest baler_core
    callers in proportion to the time each caller spent in it."""
    raw = stats.stats  # {func: (cc, nc, tt, ct, callers {caller: (cc, nc, tt, ct)})}
    out: dict[str, float] = defaultdict(float)

    def up(func, t: float, seen: frozenset) -> None:
        stage = stage_of(func)
        if stage is not None:
            out[stage] += t
            return
        callers = raw.get(func, (0, 0, 0, 0, {}))[4]
        edges = {c: v[3] for c, v in callers.items() if c not in seen}
        total = sum(edges.values())
        if total <= 0:
            out["other"] += t
            return
        for caller, ct in edges.items():
            up(caller, t * ct / total, seen | {func})

    for func, (_, _, tt, _, _) in raw.items():
        up(func, tt, frozenset())
    return dict(out)


def profiled(fn) -> tuple[float, dict[str, float]]:
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    fn()
    prof.disable()
    wall = time.perf_counter() - t0
    return wall, charge(pstats.Stats(prof))


def train_sequential(jets, path: Path) -> None:
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    train_dataset(jets.iloc[:20000].reset_index(drop=True), path, ModelConfig(model="sequential", latent_dim=16),
                  TrainConfig(loss="l1", batch_size=1024, epochs=3, device="cpu"))


def paths(args, work: Path) -> dict:
    """{name: (raw MB, compress(threads), decompress(threads))} for the chosen paths."""
    from baler_core.cli.main import main as cli
    from baler_core.codec import CompressionOptions, compress_field, compress_table, decompress
    from baler_core.coding.error_bounds import Bound, BoundSpec
    from baler_core.models.store import load_model

    def options(threads: int) -> CompressionOptions:
        o = CompressionOptions(BoundSpec(Bound("range", 1e-3)))
        o.threads = threads
        return o

    out = {}
    jets = None
    if any(p.startswith(("table", "cli")) for p in args.paths):
        if args.data.exists():
            jets = tile_jets(load_jets(args.data), args.mb)
        else:
            print(f"shared jets not found at {args.data}: table paths skipped")
    model = work / "sequential.safetensors"
    if jets is not None and ({"table-sequential", "cli-table"} & set(args.paths)):
        t0 = time.perf_counter()
        train_sequential(jets, model)
        print(f"trained the sequential model (3 epochs, 20k rows) in {time.perf_counter() - t0:.1f} s")
    for name in args.paths:
        target = work / f"{name}.baler"
        if name == "field-auto":
            field = tile_field(simulate_field(work / "turb.npy", 64), args.mb)
            out[name] = (field.nbytes / 1e6, lambda t, f=field: compress_field(f, None, target, options(t)),
                         lambda t: decompress(target, None, threads=t))
        elif jets is None:
            continue
        elif name == "table-none":
            out[name] = (jets.size * 4 / 1e6, lambda t: compress_table([jets], None, target, options(t)),
                         lambda t: decompress(target, None, threads=t))
        elif name == "table-sequential":
            bundle = load_model(model)
            out[name] = (jets.size * 4 / 1e6, lambda t, b=bundle: compress_table([jets], b, target, options(t)),
                         lambda t, b=bundle: decompress(target, b, threads=t))
        elif name == "cli-table":
            src, back = work / "jets.parquet", work / "back.parquet"
            jets.to_parquet(src)
            out[name] = (jets.size * 4 / 1e6,
                         lambda t: cli(["compress", str(src), "-o", str(target), "-m", str(model), "--error-bound",
                                        "range=1e-3", "--threads", str(t)]),
                         lambda t: cli(["decompress", str(target), "-o", str(back), "-m", str(model), "--threads",
                                          str(t)]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", nargs="+", default=["table-none", "table-sequential", "field-auto", "cli-table"])
    ap.add_argument("--mb", type=float, default=20.0, help="input size per path in MB (float32)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f}; cores {os.cpu_count()}")
    rows = []
    from baler_core.coding import jit

    jit.engage(int(args.mb * 2**20))  # the kernels as the library starts them for this size (BALER_JIT=on: any)
    with tempfile.TemporaryDirectory(prefix="baler-profile-") as tmp:
        for name, (mb, comp, decomp) in paths(args, Path(tmp)).items():
            for step, fn in (("compress", comp), ("decompress", decomp)):
                t0 = time.perf_counter()
                fn(0)  # warm-up on every core: the wall-clock speed a user sees
                speed = mb / (time.perf_counter() - t0)
                wall, stages = profiled(lambda fn=fn: fn(1))
                rows.append((name, step, mb, speed, wall, stages))
    print("\nseconds per stage, one thread under the profiler (MB/s: every core, not profiled)\n")
    used = [s for s in STAGES if any(r[5].get(s, 0) >= 0.005 for r in rows)]
    print("| path | step | MB | MB/s | profiled s | " + " | ".join(used) + " |")
    print("|---|---|---:|---:|---:|" + "---:|" * len(used))
    for name, step, mb, speed, wall, stages in rows:
        cells = " | ".join(f"{stages.get(s, 0.0):.2f}" for s in used)
        print(f"| {name} | {step} | {mb:.0f} | {speed:.1f} | {wall:.2f} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
