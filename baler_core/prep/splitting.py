"""Train/validation/test splits of a dataset, written as files the later rules read."""

from __future__ import annotations

import numpy as np
import pandas as pd

from baler_core.errors import InputError
from baler_core.io.events import Events


def split_indices(n: int, val_fraction: float, test_fraction: float, seed: int, contiguous: bool
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint train, validation and test indices covering ``range(n)``.

    Tables are shuffled rows; fields (time series) are contiguous blocks (train, then validation, then test),
    so that neighbouring, nearly identical frames do not leak between splits.
    """
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise InputError(f"split fractions must be in (0, 1) and sum below 1: val={val_fraction}, test={test_fraction}")
    n_val, n_test = max(1, int(round(n * val_fraction))), max(1, int(round(n * test_fraction)))
    if n - n_val - n_test < 1:
        raise InputError(f"{n} rows are too few for a train/validation/test split")
    order = np.arange(n) if contiguous else np.random.default_rng(seed).permutation(n)
    train, val, test = order[: n - n_val - n_test], order[n - n_val - n_test : n - n_test], order[n - n_test :]
    return np.sort(train), np.sort(val), np.sort(test)


def split_dataset(data: pd.DataFrame | np.ndarray, val_fraction: float, test_fraction: float, seed: int
                  ) -> tuple[pd.DataFrame | np.ndarray, ...]:
    is_field = isinstance(data, np.ndarray)
    idx = split_indices(len(data), val_fraction, test_fraction, seed, contiguous=is_field)
    if is_field:
        return tuple(np.ascontiguousarray(data[i]) for i in idx)
    return tuple(data.iloc[i].reset_index(drop=True) for i in idx)


def split_events(ev: Events, val_fraction: float, test_fraction: float, seed: int
                 ) -> tuple[Events, Events, Events]:
    """Train, validation and test events: events shuffled with ``seed``, each kept whole in one split."""
    if ev.n_events < 3:
        raise InputError(f"{ev.n_events} events are too few for a train/validation/test split")
    return tuple(ev.select(i) for i in split_indices(ev.n_events, val_fraction, test_fraction, seed, False))
