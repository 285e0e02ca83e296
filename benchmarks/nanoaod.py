"""NanoAOD precisions (issue 18): baler against what CMS does today, on the same events, in one run.

NanoAOD rounds float branches to a few mantissa bits (eta and phi 12, mass and most floats 10, pt and weights
full precision) and writes the ROOT file with LZMA level 9. Here the same events go through
- ``trunc+lzma9/branch``: the same rounding, then each branch (values, and each collection's counter once) on its
  own through LZMA preset 9, the best a per-branch ROOT basket can do;
- ``trunc+ROOT lzma9``: the same rounding written by uproot as a TTree with LZMA 9 (what a NanoAOD file holds);
- ``uproot default``: the input file as uproot writes it with its default compression (zlib);
- ``baler -m none`` at the same bounds (``rel=2^-13`` for eta and phi, ``rel=2^-11`` for the other floats,
  ``exact`` for pt, MET and weights; NanoAOD's rounding to k bits has relative error <= 2^-(k+1));
- ``baler sequential``, a model trained on the jets, the other parts coded without a model (decoder counted).

Every value of every baler file is checked against its bound, and event counts and counters must match. With
``--physics`` the physics-analysis check runs at each bound of ``--sweep`` (model-free, dithered grid) and the
table of largest pulls is printed.

    python benchmarks/nanoaod.py --input events.root [--physics] [--out results/benchmarks/nanoaod.tsv]
    python benchmarks/nanoaod.py --pythia 20000          # generate Pythia 8 events first (the sim extra)
"""

from __future__ import annotations

import argparse
import lzma
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.codec.events import compress_events, decompress_events
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.coding.options import CompressionOptions
from baler_core.evaluation.baselines import truncate_mantissa
from baler_core.io.events import Events, read_events, to_awkward
from baler_core.training.loop import TrainConfig
from baler_core.training.train import ModelConfig, train_dataset

BITS_ANGLE, BITS_OTHER = 12, 10
SWEEP = ["range=1e-4", "range=3e-4", "range=1e-3", "range=3e-3", "range=1e-2"]


def nanoaod_bits(name: str, dtype: np.dtype) -> int | None:
    """Mantissa bits NanoAOD keeps for a branch (None: full precision)."""
    leaf = name.replace(".", "_").split("_")[-1].lower()
    if dtype.kind != "f" or leaf in ("pt", "genweight", "weight") or name.startswith("MET_pt"):
        return None
    return BITS_ANGLE if leaf in ("eta", "phi") else BITS_OTHER


def bounds_for(ev: Events) -> BoundSpec:
    cols = {}
    for t in (ev.per_event, *(c.objects for c in ev.collections)):
        for name in t.columns:
            if t[name].dtype.kind != "f":
                continue
            bits = nanoaod_bits(name, t[name].dtype)
            cols[name] = parse_bound("exact" if bits is None else f"rel={2.0 ** -(bits + 1)!r}")
    return BoundSpec(parse_bound("exact"), cols)


def truncated_tables(ev: Events) -> dict[str, np.ndarray]:
    out = {}
    for t in (ev.per_event, *(c.objects for c in ev.collections)):
        for name in t.columns:
            x = t[name].to_numpy()
            bits = nanoaod_bits(name, x.dtype)  # NanoAOD's rounding, as ROOT's Float16_t / precision= does
            out[name] = x if bits is None else truncate_mantissa(x, bits)
    return out


def lzma_per_branch(arrays: dict[str, np.ndarray]) -> int:
    return sum(len(lzma.compress(np.ascontiguousarray(a).tobytes(), preset=9)) for a in arrays.values())


def check(ev: Events, back: Events, bounds: BoundSpec) -> float:
    """Largest error relative to its bound over every value; raises where events or counts differ."""
    assert back.n_events == ev.n_events
    worst = 0.0
    for a, b in zip((ev.per_event, *(c.objects for c in ev.collections)),
                    (back.per_event, *(c.objects for c in back.collections))):
        assert list(a.columns) == list(b.columns) and len(a) == len(b)
        for name in a.columns:
            x, y = a[name].to_numpy(), b[name].to_numpy()
            assert x.dtype == y.dtype, name
            bound = bounds.for_column(name)
            if x.dtype.kind != "f" or bound.kind == "exact":
                assert np.array_equal(x.view(np.uint8), y.view(np.uint8)), name
                continue
            d = np.abs(x.astype(np.float64) - y)
            lim = bound.value * (np.abs(x.astype(np.float64)) if bound.kind == "rel" else np.ptp(x))
            assert np.all(d <= lim * (1 + 1e-6) + 1e-30), name
            worst = max(worst, float(np.max(d / np.where(lim > 0, lim, 1))))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", help="NanoAOD-like ROOT file (tree Events)")
    ap.add_argument("--pythia", type=int, help="generate this many Pythia 8 events instead (sim extra)")
    ap.add_argument("--epochs", type=int, default=30, help="sequential model training epochs")
    ap.add_argument("--physics", action="store_true", help="also run the physics check over --sweep")
    ap.add_argument("--sweep", default=",".join(SWEEP), help="bounds of the physics check, comma-separated")
    ap.add_argument("--physics-only", action="store_true", help="skip the ratio comparison")
    ap.add_argument("--physics-model", action="store_true",
                    help="the physics check with a sequential model trained on the jets (the learned points; "
                         "decoder embedded) instead of the model-free grid")
    ap.add_argument("--out", help="TSV of the figures")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nanoaod-bench-"))
    if a.pythia:
        from baler_core.sim.nanoaod import write_arrays
        from baler_core.sim.pythia import pythia_events

        src = write_arrays(tmp / "pythia.root", pythia_events(a.pythia, seed=1))
    elif a.input:
        src = Path(a.input)
    else:
        ap.error("give --input FILE or --pythia N")
    ev = read_events(src)
    raw = ev.raw_bytes()
    n_obj = {c.name: len(c.objects) for c in ev.collections}
    print(f"{src}: {ev.n_events} events, objects {n_obj}, raw {raw / 1e6:.2f} MB")
    rows = []

    def add(method: str, size: int, extra: str = "") -> None:
        rows.append({"method": method, "bytes": size, "ratio": raw / size, "note": extra})
        print(f"{method:28s} {size / 1e6:8.3f} MB  ratio {raw / size:6.2f}  {extra}", flush=True)

    if a.physics_only:
        a.physics = True
    else:
        compare_ratios(ev, src, tmp, a.epochs, add, raw, rows)
    if a.physics:
        physics_sweep(ev, src, tmp, raw, a.sweep.split(","), a.epochs if a.physics_model else 0)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(a.out, sep="\t", index=False)


def compare_ratios(ev: Events, src: Path, tmp: Path, epochs: int, add, raw: int, rows: list) -> None:
    add("uproot default (input)", src.stat().st_size)
    trunc = truncated_tables(ev)
    counters = {c.counter for c in ev.collections}
    t0 = time.perf_counter()
    add("trunc+lzma9/branch", lzma_per_branch(trunc), f"{time.perf_counter() - t0:.1f} s")
    import uproot

    tev = Events(ev.tree, ev.layout, pd.DataFrame({k: trunc[k] for k in ev.per_event.columns}),
                 [type(c)(c.name, c.counter, c.fields, c.branches, pd.DataFrame({b: trunc[b] for b in c.branches}))
                  for c in ev.collections], ev.order, ev.synthetic_counters)
    arrays = to_awkward(tev)
    with uproot.recreate(tmp / "trunc.root", compression=uproot.LZMA(9)) as f:
        keys = [k for k in arrays if k not in counters]
        f.mktree("Events", {k: arrays[k].dtype if isinstance(arrays[k], np.ndarray) else arrays[k].type
                            for k in keys})
        f["Events"].extend({k: arrays[k] for k in keys})
    add("trunc+ROOT lzma9", (tmp / "trunc.root").stat().st_size)

    bounds = bounds_for(ev)
    t0 = time.perf_counter()
    compress_events(ev, None, tmp / "none.baler", CompressionOptions(bounds))
    t_c = time.perf_counter() - t0
    worst = check(ev, decompress_events(tmp / "none.baler"), bounds)
    add("baler -m none", (tmp / "none.baler").stat().st_size, f"{t_c:.1f} s, worst error/bound {worst:.3f}")

    jets = next(c for c in ev.collections if c.name == "Jet")
    model = tmp / "seq.safetensors"
    t0 = time.perf_counter()
    bundle, _ = train_dataset(jets.objects, model, ModelConfig(model="sequential", latent_dim=8),
                              TrainConfig(epochs=epochs, loss="l1", batch_size=1024, device="cpu", seed=0))
    t_train = time.perf_counter() - t0
    compress_events(ev, bundle, tmp / "seq.baler", CompressionOptions(bounds, embed_decoder=True))
    worst = check(ev, decompress_events(tmp / "seq.baler", bundle), bounds)
    add("baler sequential (+decoder)", (tmp / "seq.baler").stat().st_size,
        f"trained {t_train:.0f} s, worst error/bound {worst:.3f}")
    best = min(r["bytes"] for r in rows if r["method"].startswith("baler"))
    ref = {r["method"]: r["bytes"] for r in rows}
    print(f"best baler vs trunc+lzma9/branch: {ref['trunc+lzma9/branch'] / best:.2f}x smaller; "
          f"vs trunc+ROOT lzma9: {ref['trunc+ROOT lzma9'] / best:.2f}x; "
          f"vs uproot default: {ref['uproot default (input)'] / best:.2f}x")


def physics_sweep(ev: Events, src: Path, tmp: Path, raw: int, sweep: list[str], epochs: int = 0) -> None:
    """Largest pull per observable at each bound: model-free (``epochs=0``), or with a sequential model trained
    on the jets for ``epochs`` (the other parts coded without it; the decoder embedded and counted)."""
    from baler_core.evaluation.observables import standard_observables
    from baler_core.evaluation.physics import evaluate_physics, load_events

    orig, obs = load_events(src), standard_observables()
    bundle = None
    if epochs:
        jets = next(c for c in ev.collections if c.name == "Jet")
        bundle, _ = train_dataset(jets.objects, tmp / "phys-seq.safetensors",
                                  ModelConfig(model="sequential", latent_dim=8),
                                  TrainConfig(epochs=epochs, loss="l1", batch_size=1024, device="cpu", seed=0))
    table = {}
    for spec in sweep:
        out = tmp / "sweep.baler"
        compress_events(ev, bundle, out, CompressionOptions(BoundSpec(parse_bound(spec)),
                                                            embed_decoder=bundle is not None))
        t = evaluate_physics(orig, load_events(out), obs)
        table[spec] = dict(zip(t["observable"], t["largest_pull"]))
        table[spec]["ratio"] = raw / out.stat().st_size
    print("largest pull per observable (" + ("sequential model on the jets, decoder embedded" if epochs else
                                              "model-free, dithered grid") + "):")
    print(pd.DataFrame(table).T.round(2).to_string())


if __name__ == "__main__":
    main()
