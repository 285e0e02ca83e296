"""numpy's hugepage advice is turned off for large work only, never where the user set numpy's switch, and the
coding entry points ask for it with their work's size."""

from pathlib import Path

import numpy as np
import pytest

from baler_core.codec import CompressionOptions, compress_field, decompress
from baler_core.coding import hugepages
from baler_core.coding.error_bounds import Bound, BoundSpec

advice = pytest.importorskip("numpy._core.multiarray")._set_madvise_hugepage


@pytest.fixture
def fresh(monkeypatch):
    """This process's advice as it was, restored afterwards; the module as if it had not acted yet."""
    before = advice(True)
    monkeypatch.setattr(hugepages, "_relaxed", False)
    monkeypatch.delenv(hugepages.ENV, raising=False)
    yield
    advice(before)


def _advised() -> bool:
    state = advice(True)
    advice(state)
    return state


def test_small_work_keeps_the_advice(fresh):
    assert not hugepages.relax(hugepages.MIN_BYTES - 1)
    assert _advised()


def test_large_work_turns_it_off_once(fresh):
    assert hugepages.relax(hugepages.MIN_BYTES)
    assert not _advised()
    advice(True)  # a later call does not act again: the process's state is the process's
    assert hugepages.relax(10 * hugepages.MIN_BYTES)
    assert _advised()


def test_the_users_setting_stays(fresh, monkeypatch):
    monkeypatch.setenv(hugepages.ENV, "1")
    assert not hugepages.relax(10 * hugepages.MIN_BYTES)
    assert _advised()


def test_field_coding_asks_with_its_size(fresh, monkeypatch, tmp_path: Path):
    seen = []
    monkeypatch.setattr(hugepages, "relax", lambda n: seen.append(n) or False)
    x = np.random.default_rng(0).standard_normal((6, 20, 30)).astype(np.float32)
    out = tmp_path / "f.baler"
    compress_field(x, None, out, CompressionOptions(BoundSpec(Bound("range", 1e-3))))
    assert seen == [x.nbytes]
    assert np.abs(decompress(out) - x).max() <= 1e-3 * float(x.max() - x.min())
    assert seen == [x.nbytes, x.nbytes]  # the file's declared output
