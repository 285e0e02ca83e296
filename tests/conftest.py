"""Shared fixtures: small synthetic jet-like tables and flow-like fields, and small trained models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED_JETS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pythia_jets_13TeV_50k.parquet"


def make_jets(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Jet-like columns: heavy-tailed pt, eta, phi, mass, energy from them, integer multiplicities, a constant."""
    rng = np.random.default_rng(seed)
    pt = (20 + rng.pareto(3.0, n) * 40).astype(np.float32)
    eta = rng.normal(0, 1.5, n).astype(np.float32)
    phi = rng.uniform(-np.pi, np.pi, n).astype(np.float32)
    mass = (pt * rng.uniform(0.02, 0.2, n)).astype(np.float32)
    energy = np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2).astype(np.float32)
    nch = rng.poisson(pt / 10).astype(np.float32)
    nneu = rng.poisson(pt / 15).astype(np.int32)
    frac = rng.uniform(0, 1, n).astype(np.float32)
    frac[rng.uniform(size=n) < 0.2] = 0.0  # zeros, as in per-species energy fractions
    return pd.DataFrame({"pt": pt, "eta": eta, "phi": phi, "mass": mass, "energy": energy,
                         "nCharged": nch, "nNeutral": nneu, "frac": frac,
                         "flag": np.ones(n, dtype=np.float32)})


def make_field(n: int = 12, h: int = 37, w: int = 53, seed: int = 0) -> np.ndarray:
    """A smooth travelling-wave field with an odd frame size."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    frames = [np.sin(2 * np.pi * (x * 2 - 0.05 * t)) * np.cos(2 * np.pi * y) + 0.1 * rng.normal(size=(h, w)) * 0.01
              for t in range(n)]
    return np.stack(frames).astype(np.float32)


@pytest.fixture(scope="session")
def jets() -> pd.DataFrame:
    return make_jets()


@pytest.fixture(scope="session")
def jets_model(tmp_path_factory, jets):
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    path = tmp_path_factory.mktemp("model") / "jets.safetensors"
    mc = ModelConfig(model="dense", latent_dim=4, hidden=[32, 16])
    tc = TrainConfig(epochs=15, batch_size=256, seed=1, device="cpu")
    bundle, _ = train_dataset(jets, path, mc, tc)
    return path, bundle


@pytest.fixture(scope="session")
def field_model(tmp_path_factory):
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    path = tmp_path_factory.mktemp("fmodel") / "field.safetensors"
    mc = ModelConfig(latent_dim=2, channels=[8, 8])
    tc = TrainConfig(epochs=5, batch_size=4, seed=1, device="cpu", patch=None)
    bundle, _ = train_dataset(make_field(), path, mc, tc)
    return path, bundle


@pytest.fixture(scope="session")
def prior_rows() -> pd.DataFrame:
    """7,000 rows of jets with energy shares (test_sequential's table): the first 5,000 train, the rest are held."""
    from test_sequential import _table

    return _table(7000, seed=3)


@pytest.fixture(scope="session")
def prior_models(prior_rows, tmp_path_factory):
    """A sequential model trained on the first 5,000 of ``prior_rows``, without and with priors: range=1e-3
    fitted with those rows (the set's ranges and a header template), rel=1e-3 the priors alone."""
    from baler_core.codec.priors import add_priors, fit_priors
    from baler_core.coding.error_bounds import load_bound_spec
    from baler_core.models.store import load_model
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    d = tmp_path_factory.mktemp("priors")
    plain = d / "seq.safetensors"
    train = prior_rows.iloc[:5000]
    train_dataset(train, plain, ModelConfig(model="sequential", latent_dim=8),
                  TrainConfig(epochs=15, batch_size=256, device="cpu", loss="l1"))
    with_priors = d / "seq-priors.safetensors"
    for i, spec in enumerate(("range=1e-3", "rel=1e-3")):
        bundle, bounds = load_model(plain if i == 0 else with_priors), load_bound_spec(spec)
        add_priors(plain if i == 0 else with_priors, with_priors, bundle, bounds, fit_priors(bundle, train, bounds),
                   train if i == 0 else None)
    return plain, with_priors
