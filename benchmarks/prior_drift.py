#!/usr/bin/env python
"""Priors under drift (issue 22): a sequential model and its priors fitted on low-pT-hat events of the shared jets,
used on held-out files of the same kind and on files of hard events (another pT-hat range), each file coded with
the priors and with its own tables only.

- Events: the shared jets' rows of one event are adjacent, pt descending; an event starts where pt rises. The
  leading jet's pt stands for the event's pT-hat. Training: 80 % of the events whose leading jet is below
  ``--soft`` GeV (their rows train the model, 8 wide, L1, up to 300 epochs, and fit the priors); held out: the
  other 20 %; drift: the events whose leading jet is above ``--hard`` GeV, which the model never saw.
- Each set is cut into files of about ``--rows`` rows (whole events). Every file is compressed with the priors
  and without (``use_priors=False``: the adaptive tables alone), decompressed and checked against its bound.

    python benchmarks/prior_drift.py                      # range 1e-3, rel 4.9e-4, rms 1e-2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from shared_model import SHARED, bounds_of, train, with_priors  # noqa: E402


def events(df: pd.DataFrame) -> np.ndarray:
    """Event number of each row (an event starts where pt rises)."""
    pt = df["pt"].to_numpy()
    return np.cumsum(np.r_[True, pt[1:] > pt[:-1]]) - 1


def files_of(df: pd.DataFrame, ev: np.ndarray, rows: int) -> list[pd.DataFrame]:
    """Whole events, in order, cut into files of at least ``rows`` rows (the last may be shorter)."""
    starts = np.flatnonzero(np.r_[True, ev[1:] != ev[:-1]])
    out, begin = [], 0
    for s in starts[1:]:
        if s - begin >= rows:
            out.append(df.iloc[begin:s].reset_index(drop=True))
            begin = s
    out.append(df.iloc[begin:].reset_index(drop=True))
    return out


def within(orig: pd.DataFrame, back: pd.DataFrame, spec: str) -> bool | None:
    """Every value within a pointwise bound (range: the file's range); None for rms (not pointwise)."""
    kind, _, value = spec.partition("=")
    if kind not in ("range", "rel"):
        return None
    for c in orig.columns:
        o, r = orig[c].to_numpy(np.float64), back[c].to_numpy(np.float64)
        lim = float(value) * (np.ptp(o) if kind == "range" else np.abs(o)) * (1 + 1e-9)
        if np.any(np.abs(o - r) > lim):
            return False
    return True


def run(files: list[pd.DataFrame], model: Path, bounds, spec: str, tmp: Path) -> dict:
    from baler_core.codec import CompressionOptions, compress_table, decompress
    from baler_core.models.store import load_model

    bundle = load_model(model)
    out = {"with": [], "without": [], "used": 0, "ok": None}
    for i, part in enumerate(files):
        for use in (True, False):
            path = tmp / f"f{i}-{use}.baler"
            header = compress_table([part], bundle, path, CompressionOptions(bounds, use_priors=use))
            out["with" if use else "without"].append(path.stat().st_size)
            if use:
                recs = header["blocks"][0]["columns"]
                out["used"] += sum(len(r.get("prior", [])) for r in recs)
                ok = within(part, decompress(path, bundle), spec)
                out["ok"] = ok if out["ok"] is None else out["ok"] and ok
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--soft", type=float, default=200.0, help="training events: leading jet below this pt (GeV)")
    ap.add_argument("--hard", type=float, default=300.0, help="drift events: leading jet above this pt (GeV)")
    ap.add_argument("--rows", type=int, default=2500, help="rows a file, about")
    ap.add_argument("--bounds", nargs="+", default=["range=1e-3", "rel=4.9e-4", "rms=1e-2"])
    a = ap.parse_args(argv)
    if not a.data.exists():
        sys.exit(f"{a.data} is absent: give --data")
    df = pd.read_parquet(a.data).drop(columns=["weight"], errors="ignore")
    ev = events(df)
    lead = df["pt"].to_numpy()[np.r_[True, ev[1:] != ev[:-1]]][ev]
    soft, hard = lead < a.soft, lead > a.hard
    soft_events = np.unique(ev[soft])
    cut = soft_events[int(0.8 * soft_events.size)]
    train_rows = df[soft & (ev < cut)].reset_index(drop=True)
    held = files_of(df[soft & (ev >= cut)].reset_index(drop=True), ev[soft & (ev >= cut)], a.rows)
    drift = files_of(df[hard].reset_index(drop=True), ev[hard], a.rows)
    print(f"training rows {len(train_rows)} (leading jet < {a.soft:g} GeV); held out {len(held)} files, "
          f"{sum(map(len, held))} rows; drift (leading jet > {a.hard:g} GeV) {len(drift)} files, "
          f"{sum(map(len, drift))} rows")
    print("| bound | files | bytes with priors | bytes, own tables only | change | largest file change "
          "| prior-coded streams | every value within the bound |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory(prefix="baler-drift-") as d:
        tmp = Path(d)
        model = tmp / "seq.safetensors"
        train(train_rows, model)
        for spec in a.bounds:
            bounds = bounds_of(spec, train_rows)
            fitted = with_priors(model, train_rows, bounds, tmp / "priors.safetensors")
            for label, files in (("held out", held), ("drift", drift)):
                got = run(files, fitted, bounds, spec, tmp)
                w, wo = sum(got["with"]), sum(got["without"])
                worst = max(x / y - 1 for x, y in zip(got["with"], got["without"]))
                print(f"| {spec} | {label} ({len(files)}) | {w} | {wo} | {w / wo - 1:+.2%} | {worst:+.2%} | "
                      f"{got['used']} | {'n/a (rms)' if got['ok'] is None else 'yes' if got['ok'] else 'NO'} |",
                      flush=True)


if __name__ == "__main__":
    main()
