"""How much a model shared by a field campaign could at most save over baler's own ``-m none`` files (issue 25).

A model shared by every file of a campaign can take two things from a file: what the file pays for being alone
(its header, and every entropy table it stores) and what its coefficients have in common with the training
files beyond their statistics (a flow's mean and shedding modes, which POD takes on the wake). This script
measures the first, generously: every ``-m none`` file of the campaign is coded as the workflow's
``compress_file`` job would, and each of its integer streams is charged only its own order-0 entropy (the
empirical entropy of the stream's values: the bytes an ideal static prior fitted to that very stream would
code it in, with no table stored), and no header at all. No shared prior can beat that on a stream: a prior fitted
on other files costs at least the stream's cross-entropy, which is at least its own entropy.

    python benchmarks/campaign_ceiling.py [--quick] [--bound 1e-3] [--flows wake,turbulence]

Prints, per campaign and size: the ``-m none`` ratio, the share of the bytes that are header and trailer, the
share that is above the streams' own entropy (tables and coder overhead), and the ratio with both removed, as a
multiple of ``-m none``'s.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from campaign import SIZES, campaign

from baler_core.codec import CompressionOptions, compress_field
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.coding.predictors import base


def order0_bytes(values: np.ndarray) -> float:
    """The empirical (order-0) entropy of ``values`` in bytes."""
    _, counts = np.unique(np.asarray(values).ravel(), return_counts=True)
    p = counts / counts.sum()
    return float(-(counts * np.log2(p)).sum() / 8)


@contextlib.contextmanager
def stream_log() -> Iterator[list[tuple[int, float]]]:
    """Record (coded bytes, order-0 entropy bytes) of every integer stream the field coder writes."""
    log: list[tuple[int, float]] = []
    coded = base.Pending.coded

    def logged(self: base.Pending) -> bytes:
        out = coded(self)
        log.append((len(out), order0_bytes(self.values)))
        return out

    base.Pending.coded = logged  # type: ignore[method-assign]
    try:
        yield log
    finally:
        base.Pending.coded = coded  # type: ignore[method-assign]


def measure(files: list[np.ndarray], bound: str, tmp: Path) -> list[dict]:
    """Per file: its bytes, its streams' coded bytes and their order-0 entropy."""
    opts = CompressionOptions(BoundSpec(parse_bound(bound)))
    out = []
    for x in files:
        with stream_log() as log:
            compress_field(x, None, tmp / "x.baler", opts)
        out.append({"raw": x.nbytes, "bytes": (tmp / "x.baler").stat().st_size,
                    "streams": sum(c for c, _ in log), "entropy": sum(h for _, h in log)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 files per campaign instead of 100")
    ap.add_argument("--bound", default="1e-3", help="range-relative bound")
    ap.add_argument("--flows", default="wake,turbulence")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    print("| campaign | files | `-m none` | header and trailer | above the streams' entropy | ceiling | "
          "ceiling / `-m none` |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for flow in a.flows.split(","):
        per = measure(campaign(flow, a.quick), f"range={a.bound}", tmp)
        for n in SIZES:
            if n > len(per):
                continue
            raw, size = sum(p["raw"] for p in per[:n]), sum(p["bytes"] for p in per[:n])
            streams, entropy = sum(p["streams"] for p in per[:n]), sum(p["entropy"] for p in per[:n])
            print(f"| {flow} | {n} | {raw / size:.2f} | {(size - streams) / size:.1%} | "
                  f"{(streams - entropy) / size:.1%} | {raw / entropy:.2f} | {size / entropy:.3f}x |", flush=True)


if __name__ == "__main__":
    main()
