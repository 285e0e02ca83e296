"""One model for a whole simulation campaign (issue 25): pooled ratio over 1, 5, 20 and 100 field files, the
decoder counted once, against SZ3 and baler without a model on the same files, in one run.

Two campaigns of the project's own solvers, 100 files each (``baler_core.sim.campaign``):

* wake: the lattice-Boltzmann flow past a cylinder (64 x 192), five runs at Re 90, 100, 110, 120, 130, each cut
  into 20 successive output windows of 20 frames;
* turbulence: 2-D decaying turbulence (128 x 128), five seeds, 20 windows of 10 frames each.

The model is ``pod`` with its defaults (8 modes, the decoder on a grid at 1e-4 of each mode's range), fitted
once per campaign on 256 frames drawn across 8 training files (``io.filesets.draw_frames``),
all from four of the five runs: the run at Re 110 (seed 2) is never seen in training, and its files are also
pooled on their own ("held-out run"). Campaigns of N files take the first N files in an order that cycles
through the runs (window 0 of every run, then window 1, ...). Every file is compressed alone, as one
``compress_file`` job of the workflow would; every value of every baler file is checked against the bound after
decompression. Ratio = float32 input bytes / (compressed bytes + decoder bytes once).

    python benchmarks/campaign.py [--quick] [--bound 1e-3] [--out results/benchmarks/campaign.tsv]
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
from baler_core.io.filesets import draw_frames
from baler_core.sim.campaign import field_campaign
from baler_core.training.loop import TrainConfig
from baler_core.training.train import ModelConfig, train_dataset

SIZES = (1, 5, 20, 100)
HELD_OUT = 2  # index of the run no training file comes from


def campaign(flow: str, quick: bool) -> list[np.ndarray]:
    """The campaign's files in the order campaigns of N files take them (cycling through the runs)."""
    windows = 4 if quick else 20
    if flow == "wake":
        files = list(field_campaign("cylinder", [90, 100, 110, 120, 130], windows, 20, height=64, width=192))
    else:
        files = list(field_campaign("turbulence", [0, 1, 2, 3, 4], windows, 10, height=128))
    by_run = [files[r * windows : (r + 1) * windows] for r in range(5)]
    return [by_run[r][w].frames for w in range(windows) for r in range(5)]


def run_of(i: int) -> int:
    return i % 5


def fit(files: list[np.ndarray], tmp: Path, modes: int | None = None, decoder: str = "auto", frames: int = 256):
    """The model, fitted on frames drawn across 8 training files of the four seen runs; ``decoder`` a dtype or
    ``grid:<bound>``."""
    folder = tmp / "train"
    folder.mkdir(exist_ok=True)
    seen = [i for i in range(len(files)) if run_of(i) != HELD_OUT][:8]
    paths = []
    for i in seen:
        np.save(folder / f"f{i:03d}.npy", files[i])
        paths.append(str(folder / f"f{i:03d}.npy"))
    sample = draw_frames(paths, frames=frames, seed=0)
    dtype, _, bound = decoder.partition(":")
    bundle, _ = train_dataset(sample, tmp / f"pod{modes}-{decoder}.safetensors",
                              ModelConfig(model="pod", latent_dim=modes, decoder_dtype=dtype,
                                          decoder_bound=float(bound) if bound else None),
                              TrainConfig(device="cpu"))
    return bundle


def per_file_bytes(files: list[np.ndarray], bundle, bound: str, tmp: Path, check: bool) -> tuple[list[int], float]:
    opts = CompressionOptions(BoundSpec(parse_bound(bound)))
    sizes, seconds = [], 0.0
    for x in files:
        t0 = time.perf_counter()
        compress_field(x, bundle, tmp / "x.baler", opts)
        seconds += time.perf_counter() - t0
        sizes.append(file_info(tmp / "x.baler")["compressed_bytes"])
        if check:
            rec = decompress(tmp / "x.baler", bundle)
            tol = float(bound.split("=")[1]) * (float(x.max()) - float(x.min()))
            err = np.abs(rec.astype(np.float64) - x).max()
            if not err <= tol:
                raise SystemExit(f"bound broken: {err} > {tol}")
    return sizes, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 files per campaign instead of 100")
    ap.add_argument("--bound", default="1e-3", help="range-relative bound")
    ap.add_argument("--flows", default="wake,turbulence")
    ap.add_argument("--out", default="results/benchmarks/campaign.tsv")
    a = ap.parse_args()
    bound = f"range={a.bound}"
    rows, tradeoff = [], []
    tmp = Path(tempfile.mkdtemp())
    for flow in a.flows.split(","):
        t0 = time.perf_counter()
        files = campaign(flow, a.quick)
        raw = [x.nbytes for x in files]
        print(f"{flow}: {len(files)} files of {files[0].shape} simulated in {time.perf_counter() - t0:.0f} s",
              flush=True)
        sz3 = [run_error_bounded(x, "sz3", "range", float(a.bound))[0].compressed_bytes for x in files]
        none, t_none = per_file_bytes(files, None, bound, tmp, check=True)
        bundle = fit(files, tmp)
        pod, t_pod = per_file_bytes(files, bundle, bound, tmp, check=True)
        dec = len(bundle.decoder_blob())
        print(f"  compress seconds per file: none {t_none / len(files):.2f}, pod {t_pod / len(files):.2f}")
        groups = {f"{n} files": list(range(min(n, len(files)))) for n in SIZES if n <= len(files)}
        groups["held-out run"] = [i for i in range(len(files)) if run_of(i) == HELD_OUT]
        for label, idx in groups.items():
            r = sum(raw[i] for i in idx)
            row = {"flow": flow, "bound": bound, "campaign": label, "n_files": len(idx), "raw_MB": r / 1e6,
                   "sz3": r / sum(sz3[i] for i in idx), "none": r / sum(none[i] for i in idx),
                   "pod_without_decoder": r / sum(pod[i] for i in idx),
                   "pod_with_decoder": r / (sum(pod[i] for i in idx) + dec), "decoder_bytes": dec}
            row["pod_vs_sz3"], row["pod_vs_none"] = row["pod_with_decoder"] / row["sz3"], \
                row["pod_with_decoder"] / row["none"]
            rows.append(row)
            print(f"  {label:13s} SZ3 {row['sz3']:6.1f}  none {row['none']:6.1f}  "
                  f"pod {row['pod_without_decoder']:6.1f}  with decoder {row['pod_with_decoder']:6.1f}  "
                  f"({row['pod_vs_sz3']:.2f}x SZ3, "
                  f"{row['pod_vs_none']:.2f}x none)", flush=True)
        # the decoder-size trade-off on the first 20 files: modes and stored weight precision
        idx = list(range(min(20, len(files))))
        r = sum(raw[i] for i in idx)
        for modes in (2, 4, 8, 16):
            for dtype in ("float16", "grid:1e-3", "grid:3e-4", "grid:1e-4", "grid:1e-5"):
                b = fit(files, tmp, modes, dtype)
                sizes, _ = per_file_bytes([files[i] for i in idx], b, bound, tmp, check=False)
                d = len(b.decoder_blob())
                t = {"flow": flow, "modes": modes, "decoder_dtype": dtype, "decoder_bytes": d,
                     "ratio_without_decoder": r / sum(sizes), "ratio_20_files": r / (sum(sizes) + d),
                     "ratio_100_files_est": 5 * r / (5 * sum(sizes) + d)}
                tradeoff.append(t)
                print(f"  modes {modes:2d} {dtype:8s} decoder {d / 1e3:7.1f} kB  "
                      f"without {t['ratio_without_decoder']:6.1f}  20 files {t['ratio_20_files']:6.1f}  "
                      f"100 files (est.) {t['ratio_100_files_est']:6.1f}",
                      flush=True)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out, sep="\t", index=False, float_format="%.4g")
    pd.DataFrame(tradeoff).to_csv(out.with_name(out.stem + "_decoder.tsv"), sep="\t", index=False,
                                  float_format="%.4g")
    print(f"wrote {out} and {out.with_name(out.stem + '_decoder.tsv')}")


if __name__ == "__main__":
    main()
