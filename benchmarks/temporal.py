"""Temporal predictors on the laminar wakes (issue 24), measured before building one into the format.

Closed loop, as a decoder would run them: each frame (or block of frames) is predicted from frames already
*rebuilt*, and the residual is coded within the bound by the project's own split spline (2-D, per frame) or DCT
(3-D). Sizes are the residual streams' bytes (no headers); ratio = float32 bytes / those bytes. The open-loop
residual RMS of each predictor, in units of the bound, says why the sizes come out as they do.

    python benchmarks/temporal.py [--bound 1e-3] [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np
from wakes import period_frames, wakes

from baler_core.coding.entropy import encode_ints
from baler_core.coding.predictors.dct import encode_dct
from baler_core.coding.predictors.spline import SPLIT_AXES, split_spline
from baler_core.coding.quantization import SAFETY


def spline_code(d: np.ndarray, step: float) -> tuple[int, np.ndarray]:
    parts, rec = split_spline(d.shape, step, tuple(range(d.ndim)), SPLIT_AXES, float(d.flat[0]), x=d)
    return sum(len(encode_ints(v, "auto", 3)) for v in parts.values()), rec


def dct_code(d: np.ndarray, tol: float) -> tuple[int, np.ndarray]:
    _, streams, out = encode_dct(d, d.shape, tol, "auto", 3)
    return sum(map(len, streams.values())), out.astype(np.float64).reshape(d.shape)


def per_frame(x: np.ndarray, step: float, tol: float, mode: str, period: int) -> int:
    rec, total = np.zeros_like(x), 0
    for t in range(len(x)):
        if mode == "none" or t == 0 or (mode == "period" and t < period):
            pred = 0.0
        elif mode == "prev" or (mode == "linear" and t < 2):
            pred = rec[t - 1]
        elif mode == "linear":
            pred = 2 * rec[t - 1] - rec[t - 2]
        else:
            pred = rec[t - period]
        size, got = spline_code(x[t] - pred, step)
        total, rec[t] = total + size, pred + got
    assert np.abs(rec - x).max() <= tol * (1 + 1e-6)
    return total


def period_blocks(x: np.ndarray, tol: float, period: int, predicted: bool) -> int:
    rec, total = np.zeros_like(x), 0
    for s in range(0, len(x), period):
        pred = rec[s - period : s][: len(x[s : s + period])] if predicted and s >= period else 0.0
        size, got = dct_code(x[s : s + period] - pred, tol)
        total, rec[s : s + period] = total + size, pred + got
    assert np.abs(rec - x).max() <= tol * (1 + 1e-6)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bound", type=float, default=1e-3, help="range-relative")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    for name, x32 in list(wakes(a.quick).items())[:2]:
        x = x32.astype(np.float64)
        p = period_frames(x32)
        tol = a.bound * float(np.ptp(x))
        step = 2 * tol * SAFETY

        def rms(r: np.ndarray) -> str:
            return f"{np.sqrt(np.mean(r**2)) / tol:.2f}"

        def cubic(a: np.ndarray) -> np.ndarray:  # interpolation error of the middle value along axis 0
            return a[3:-3] - (9 * (a[2:-4] + a[4:-2]) - a[:-6] - a[6:]) / 16

        print(f"{name}: period {p} frames; open-loop residual RMS / bound: previous frame "
              f"{rms(x[1:] - x[:-1])}, linear extrapolation {rms(x[2:] - 2 * x[1:-1] + x[:-2])}, one period back "
              f"{rms(x[p:] - x[:-p])}, cubic along time {rms(cubic(x))}, cubic along x {rms(cubic(x.T))}")
        raw = x32.nbytes
        for mode in ("none", "prev", "linear", "period"):
            size = per_frame(x, step, tol, mode, p)
            print(f"  2-D spline per frame, temporal prediction {mode:7s} {raw / size:8.1f}")
        print(f"  3-D spline, whole field                          {raw / spline_code(x, step)[0]:8.1f}")
        print(f"  3-D DCT, whole field                             {raw / dct_code(x32, tol)[0]:8.1f}")
        print(f"  3-D DCT in blocks of one period                  {raw / period_blocks(x, tol, p, False):8.1f}")
        print(f"  ... predicted by the previous period's rebuilt   {raw / period_blocks(x, tol, p, True):8.1f}",
              flush=True)


if __name__ == "__main__":
    main()
