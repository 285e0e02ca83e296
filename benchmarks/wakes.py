"""Smooth, periodic flows (issue 24): laminar wakes from the project's lattice-Boltzmann solver, every field
predictor against SZ3 in one run.

Three wakes the coders were not tuned on: a circular cylinder (100 frames of 100 x 400, Re 100, D = 12, about two
shedding periods), a square at another resolution (120 frames of 96 x 320, Re 160, D = 12, two periods) and a
larger cylinder (80 frames of 128 x 512, Re 180, D = 16).
Ratio = float32 input bytes / file bytes (no decoder: these runs use no model); errors checked on every value.

    python benchmarks/wakes.py [--quick] [--bounds 1e-2,1e-3,1e-4] [--out results/benchmarks/wakes.tsv]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.codec import CompressionOptions, compress_field, decompress, file_info
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.evaluation.baselines import run_error_bounded
from baler_core.sim import cfd

PREDICTORS = ("lorenzo", "spline", "dct", "auto")


def wakes(quick: bool) -> dict[str, np.ndarray]:
    n = 0.3 if quick else 1.0
    return {
        "cylinder 100x100x400 Re100": cfd.run_lbm(n_frames=round(100 * n), height=100, width=400, reynolds=100,
                                                  obstacle_size=12, shape="cylinder", warmup_steps=4000).frames,
        "square 120x96x320 Re160": cfd.run_lbm(n_frames=round(120 * n), height=96, width=320, reynolds=160,
                                               obstacle_size=12, steps_per_frame=15, warmup_steps=4000,
                                               seed=3).frames,
        # not looked at before the block change was chosen: a larger cylinder, faster shedding, longer frames
        "cylinder 80x128x512 Re180": cfd.run_lbm(n_frames=round(80 * n), height=128, width=512, reynolds=180,
                                                 obstacle_size=16, shape="cylinder", steps_per_frame=25,
                                                 warmup_steps=5000, seed=7).frames,
    }


def period_frames(x: np.ndarray) -> int:
    """The shedding period in frames: the lag that best repeats the flow once the difference between frames
    has risen past half its largest value (0 where the field holds less than a period)."""
    d = np.array([np.mean((x[k:].astype(np.float64) - x[:-k]) ** 2) for k in range(1, len(x) // 2 + 1)])
    risen = np.flatnonzero(d > 0.5 * d.max()) if d.size else d
    if not risen.size or risen[0] + 1 >= d.size:
        return 0
    return int(risen[0] + 1 + np.argmin(d[risen[0] + 1 :])) + 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a third of the frames")
    ap.add_argument("--bounds", default="1e-2,1e-3,1e-4", help="range-relative bounds")
    ap.add_argument("--out", default="results/benchmarks/wakes.tsv")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "x.baler"
        for name, x in wakes(a.quick).items():
            print(f"{name}: period {period_frames(x)} frames", flush=True)
            for b in (float(v) for v in a.bounds.split(",")):
                res, rec = run_error_bounded(x, "sz3", "range", b)
                sz3 = x.nbytes / res.compressed_bytes
                rows.append({"field": name, "bound": b, "method": "sz3", "ratio": sz3, "vs_sz3": 1.0,
                             "max_range_rel": float(np.abs(rec.astype(np.float64) - x).max() / np.ptp(x)),
                             "compress_s": x.nbytes / 1e6 / res.compress_MBps})
                for p in PREDICTORS:
                    opts = CompressionOptions(BoundSpec(parse_bound(f"range={b}")), field_predictor=p)
                    t0 = time.perf_counter()
                    compress_field(x, None, out, opts)
                    t = time.perf_counter() - t0
                    got = decompress(out, None)
                    ratio = x.nbytes / file_info(out)["compressed_bytes"]
                    rows.append({"field": name, "bound": b, "method": f"baler {p}", "ratio": ratio,
                                 "vs_sz3": ratio / sz3,
                                 "max_range_rel": float(np.abs(got.astype(np.float64) - x).max() / np.ptp(x)),
                                 "compress_s": t})
                for r in rows[-len(PREDICTORS) - 1:]:
                    print(f"  range={b:g} {r['method']:14s} {r['ratio']:8.2f}  x{r['vs_sz3']:.2f} SZ3  "
                          f"max err {r['max_range_rel']:.3e}  {r['compress_s']:.1f} s", flush=True)
    path = Path(a.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False, float_format="%.4g")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
