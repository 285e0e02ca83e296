#!/usr/bin/env python
"""What the events' structure would give the sequential model (issue 18): jets conditioned on their event.

Pythia 8 events (``baler_core.sim.pythia``, PF-like jet content) of one seed train the model, those of another
seed are coded. The jets' table is coded four ways at one bound, each with its own model trained the same way:
- ``plain``: the jets alone (what the codec does today);
- ``count``: plus the event's jet count and the jet's index in its event (both free to a decoder: the counts
  are decoded before the objects);
- ``prev``: plus the previous jet of the same event (every column; zeros for a leading jet);
- ``lead``: plus the event's leading jet instead.
The context columns come first in the model's order (each jet column sees all of them), the jets' columns in the
order the plain model chose. Only the jets' own columns are counted: the context would come from the counts and
from jets already decoded, so it costs nothing in a file (the previous jet's values are the original ones here,
where a decoder would have them within the bound: an upper limit of the gain). A separate estimate gives the
subleading jet's phi against the leading one's plus pi, wrapped, which a point prediction with unwrapped
residuals cannot use.

    python benchmarks/event_context.py --events 10000 --bound range=1e-3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

VARIANTS = ("plain", "count", "prev", "lead")


def jets_of(n_events: int, seed: int, cache: Path) -> pd.DataFrame:
    """The jets of ``n_events`` Pythia events with their event number in ``_evt`` (cached as Parquet)."""
    path = cache / f"jets-{seed}-{n_events}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    import awkward as ak

    from baler_core.sim.pythia import pythia_events

    jets = pythia_events(n_events, seed=seed, pf=True, workers=2)["Jet"]
    n = ak.num(jets).to_numpy()
    df = pd.DataFrame({k: ak.flatten(jets[k]).to_numpy() for k in jets.fields})
    df.insert(0, "_evt", np.repeat(np.arange(len(n)), n))
    df.to_parquet(path)
    return df


def positions(evt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each jet's index in its event, its event's jet count and the row of its event's first jet."""
    starts = np.r_[0, np.flatnonzero(np.diff(evt)) + 1].astype(np.int64)
    counts = np.diff(np.r_[starts, len(evt)])
    first = np.repeat(starts, counts)
    return np.arange(len(evt)) - first, np.repeat(counts, counts), first


def with_context(df: pd.DataFrame, how: str) -> tuple[pd.DataFrame, list[str]]:
    """The jets' table with the context columns of ``how`` in front; the jets' own column names."""
    evt = df["_evt"].to_numpy()
    jets = df.drop(columns="_evt").reset_index(drop=True)
    idx, n, first = positions(evt)
    ctx: dict[str, np.ndarray] = {}
    if how != "plain":
        ctx["@n"] = np.minimum(n, 20).astype(np.float32)
        ctx["@index"] = np.minimum(idx, 20).astype(np.float32)
    if how in ("prev", "lead"):
        ref = np.arange(len(evt)) - 1 if how == "prev" else first
        has = idx > 0
        for c in jets.columns:
            v = jets[c].to_numpy().astype(np.float32)
            ctx[f"@{how}.{c}"] = np.where(has, v[np.maximum(ref, 0)], np.float32(0))
    return pd.concat([pd.DataFrame(ctx), jets], axis=1), list(jets.columns)


def wrapped_phi_bits(df: pd.DataFrame, step: float) -> list[tuple[int, int, float, float]]:
    """Per jet index k = 1..3: jets, entropy (bits) of phi on a grid of ``step`` and of phi minus the previous jet's
    phi plus pi, wrapped into [-pi, pi)."""
    evt, phi = df["_evt"].to_numpy(), df["phi"].to_numpy().astype(np.float64)
    idx, _, _ = positions(evt)

    def bits(q: np.ndarray) -> float:
        _, c = np.unique(q, return_counts=True)
        p = c / c.sum()
        return float(-(p * np.log2(p)).sum())

    out = []
    for k in (1, 2, 3):
        rows = np.flatnonzero(idx == k)
        d = (phi[rows] - phi[rows - 1] - np.pi + np.pi) % (2 * np.pi) - np.pi
        out.append((k, rows.size, bits(np.round(phi[rows] / step)), bits(np.round(d / step))))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10000, help="events per seed (training and coded)")
    ap.add_argument("--bound", default="range=1e-3")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--hidden", type=int, default=8, help="width of the sequential model's heads")
    ap.add_argument("--cache", type=Path, help="folder for the generated jets (default: a temporary one)")
    a = ap.parse_args(argv)
    from baler_core.codec.table import compress_table
    from baler_core.coding.error_bounds import load_bound_spec
    from baler_core.coding.options import CompressionOptions
    from baler_core.format.inspect import column_costs
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    with tempfile.TemporaryDirectory(prefix="baler-evctx-") as tmp:
        cache = a.cache or Path(tmp)
        cache.mkdir(parents=True, exist_ok=True)
        train, test = jets_of(a.events, 1, cache), jets_of(a.events, 2, cache)
        print(f"{len(train)} training jets, {len(test)} coded jets ({a.events} events each), bound {a.bound}")
        order: list[str] = []
        costs: dict[str, dict[str, int]] = {}
        for how in VARIANTS:
            tr, cols = with_context(train, how)
            te, _ = with_context(test, how)
            if how != "plain":
                ctx = [c for c in tr.columns if c.startswith("@")]
                tr, te = tr[ctx + order], te[ctx + order]
            t0 = time.perf_counter()
            bundle, _ = train_dataset(tr, Path(tmp) / f"{how}.safetensors",
                                      ModelConfig(model="sequential", latent_dim=a.hidden,
                                                  order="auto" if how == "plain" else "given"),
                                      TrainConfig(epochs=a.epochs, loss="l1", batch_size=1024, device="cpu", seed=0))
            if how == "plain":
                order = list(bundle.columns)
            out = Path(tmp) / f"{how}.baler"
            compress_table([te], bundle, out, CompressionOptions(load_bound_spec(a.bound)))
            got = {r["column"]: int(r["bytes"]) for r in column_costs(out)}
            costs[how] = {c: got[c] for c in cols}
            print(f"  {how}: trained in {time.perf_counter() - t0:.0f} s, jets' columns "
                  f"{sum(costs[how].values())} bytes", flush=True)
    base = costs["plain"]
    total = sum(base.values())
    top = [c for c in base if c == "pt"] + sorted((c for c in base if c != "pt"), key=lambda c: -base[c])[:5]
    print(f"\n| context | jets' columns, bytes | change | {' | '.join(top)} |")
    print("|---|---:|---:|" + "---:|" * len(top))
    for how in VARIANTS:
        own = sum(costs[how].values())
        per = " | ".join(f"{100 * (costs[how][c] / base[c] - 1):+.1f} %" for c in top)
        print(f"| {how} | {own} | {100 * (own / total - 1):+.2f} % | {per} |")
    print("\nshare of the plain file: " + ", ".join(f"{c} {100 * base[c] / total:.1f} %" for c in top))
    # the grid of a range bound on phi (range 2 pi); other bounds: a fixed 2e-3 rad, for the comparison only
    step = float(a.bound.split("=")[1]) * 2 * 2 * np.pi if a.bound.startswith("range=") else 2e-3
    print(f"\nphi of the k-th jet on a grid of {step:.2e} rad, bits: alone / against the previous jet's phi + pi, "
          "wrapped")
    for k, n, alone, paired in wrapped_phi_bits(test, step):
        print(f"  k={k}: {n} jets, {alone:.2f} / {paired:.2f}")


if __name__ == "__main__":
    main()
