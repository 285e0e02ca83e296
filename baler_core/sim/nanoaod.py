"""NanoAOD-like events for tests and examples: a tree ``Events`` with per-event branches and two collections.

Not a physics generator (see ``benchmarks`` for Pythia 8 events): it reproduces the *layout* and the value
patterns analyses see. Jets are pt-ordered with a falling spectrum, the leading pair roughly back to back in
phi, a few percent of events have no jet; muons are rarer (most events have none); the per-event branches are
``run`` (uint32), ``luminosityBlock`` (uint32), ``event`` (uint64), ``genWeight`` and ``MET_pt`` (float32).
Precisions follow NanoAOD's storage (float32; ids and flags as int32 / uint8 / bool).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _jets(rng: np.random.Generator, counts: np.ndarray) -> dict[str, np.ndarray]:
    n = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    index = np.arange(n) - starts  # position of each jet in its event
    pt = 20.0 + rng.exponential(45.0, n) / (1.0 + 0.6 * index)
    order = np.lexsort((-pt, np.repeat(np.arange(len(counts)), counts)))  # pt-descending inside each event
    pt = pt[order]
    phi0 = np.repeat(rng.uniform(-np.pi, np.pi, len(counts)), counts)
    phi = np.where(index == 0, phi0, np.where(index == 1, phi0 + np.pi + rng.normal(0, 0.3, n),
                                              rng.uniform(-np.pi, np.pi, n)))
    phi = (phi + np.pi) % (2 * np.pi) - np.pi
    return {
        "pt": pt.astype(np.float32),
        "eta": np.clip(rng.normal(0, 1.6, n), -4.7, 4.7).astype(np.float32),
        "phi": phi.astype(np.float32),
        "mass": (pt * rng.uniform(0.04, 0.22, n)).astype(np.float32),
        "btagDeepB": rng.beta(0.6, 3.0, n).astype(np.float32),
        "jetId": rng.choice(np.array([0, 2, 6], np.int32), n, p=[0.03, 0.07, 0.9]),
        "nConstituents": rng.poisson(18 + pt / 10).astype(np.uint8),
        "puId": rng.integers(0, 8, n).astype(np.int32),
    }


def _muons(rng: np.random.Generator, counts: np.ndarray) -> dict[str, np.ndarray]:
    n = int(counts.sum())
    return {
        "pt": (3.0 + rng.exponential(15.0, n)).astype(np.float32),
        "eta": rng.uniform(-2.4, 2.4, n).astype(np.float32),
        "phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
        "charge": rng.choice(np.array([-1, 1], np.int32), n),
        "tightId": rng.random(n) < 0.8,
    }


def nanoaod_events(n_events: int, seed: int = 0) -> dict:
    """Top-level name -> array (numpy for per-event branches, awkward records for ``Jet`` and ``Muon``)."""
    import awkward as ak

    rng = np.random.default_rng(seed)
    n_jet = rng.poisson(4.0, n_events)
    n_jet[rng.random(n_events) < 0.05] = 0
    n_mu = rng.poisson(0.4, n_events)
    jets, muons = _jets(rng, n_jet), _muons(rng, n_mu)
    jet_px = np.add.reduceat(np.append(jets["pt"] * np.cos(jets["phi"]), 0), np.cumsum(n_jet) - n_jet)
    jet_px[n_jet == 0] = 0
    return {
        "run": np.full(n_events, 1, np.uint32),
        "luminosityBlock": (1 + np.arange(n_events) // 500).astype(np.uint32),
        "event": (1_000_000 + np.arange(n_events)).astype(np.uint64),
        "genWeight": rng.choice(np.array([1.0, -1.0], np.float32), n_events, p=[0.9, 0.1]) * 1.25,
        "MET_pt": np.abs(rng.normal(25, 15, n_events) + 0.1 * jet_px).astype(np.float32),
        "Jet": ak.zip({k: ak.unflatten(v, n_jet) for k, v in jets.items()}),
        "Muon": ak.zip({k: ak.unflatten(v, n_mu) for k, v in muons.items()}),
    }


def write_nanoaod(path: str | Path, n_events: int, seed: int = 0, layout: str = "ttree") -> Path:
    """Write :func:`nanoaod_events` as a TTree (``nJet`` + ``Jet_*``, NanoAOD's naming) or an RNTuple
    (record collections ``Jet`` and ``Muon``)."""
    return write_arrays(path, nanoaod_events(n_events, seed), layout)


def write_arrays(path: str | Path, arrays: dict, layout: str = "ttree") -> Path:
    """Write top-level arrays (numpy per event, awkward records per collection) as the tree ``Events``."""
    import uproot

    with uproot.recreate(path) as f:
        if layout == "rntuple":
            f["Events"] = arrays
        elif layout == "ttree":
            f.mktree("Events", {k: v.dtype if isinstance(v, np.ndarray) else v.type for k, v in arrays.items()})
            f["Events"].extend(arrays)
        else:
            raise ValueError(f"layout {layout!r}: ttree or rntuple")
    return Path(path)
