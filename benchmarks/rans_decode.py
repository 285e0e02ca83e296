#!/usr/bin/env python
"""Decompression with the compiled rANS decoder (``coding/rans_kernels.py``, issue 21) against constriction's,
in one process on the same files: the shared jets tiled to ``--mb`` MB in memory (every tile after the first a
fresh row permutation), compressed once without a model (rANS, ``--entropy ans``) and once with a sequential
model, each decompressed ``--repeat`` times per decoder (the median reported, MB = 1e6 bytes of float32 input per
second) and checked identical.

    python benchmarks/rans_decode.py --mb 200 --model seq.safetensors
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "pythia_jets_13TeV_50k.parquet"


def tiled(df: pd.DataFrame, mb: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = int(mb * 1e6 / (4 * df.shape[1]))
    parts, have = [df], len(df)
    while have < n:
        parts.append(df.iloc[rng.permutation(len(df))])
        have += len(df)
    return pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--mb", type=float, default=200.0)
    ap.add_argument("--model", type=Path, help="sequential model of the jets (without: -m none only)")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    if not a.data.exists():
        sys.exit(f"{a.data} is absent: give --data")
    from baler_core.codec import CompressionOptions, compress_table, decompress
    from baler_core.coding import jit
    from baler_core.coding.error_bounds import load_bound_spec
    from baler_core.models.store import load_model

    df = tiled(pd.read_parquet(a.data).drop(columns=["weight"], errors="ignore"), a.mb)
    raw = df.size * 4
    kernels = jit.module("rans_kernels") is not None
    print(f"{len(df)} rows, {raw / 1e6:.0f} MB; kernels {'on' if kernels else 'missing (numba)'}")
    print("| path | ratio | decompress MB/s, constriction | compiled | speed-up |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="baler-rans-") as d:
        runs = [("-m none, rANS", None, "ans")]
        if a.model is not None:
            runs.append(("sequential", load_model(a.model), "auto"))
        for label, bundle, entropy in runs:
            path = Path(d) / "f.baler"
            compress_table([df], bundle, path, CompressionOptions(load_bound_spec("range=1e-3"), entropy=entropy))
            speeds, outs = {}, {}
            for name, on in (("constriction", "off"), ("compiled", "on")):
                os.environ[jit.ENV] = on  # on: the kernels start on the first file; off: they never run
                times = []
                for _ in range(a.repeat):
                    t = time.perf_counter()
                    outs[name] = decompress(path, bundle)
                    times.append(time.perf_counter() - t)
                speeds[name] = raw / statistics.median(times) / 1e6
            assert outs["constriction"].equals(outs["compiled"]), "the decoders disagree"
            print(f"| {label} | {raw / path.stat().st_size:.2f} | {speeds['constriction']:.1f} | "
                  f"{speeds['compiled']:.1f} | {speeds['compiled'] / speeds['constriction']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
