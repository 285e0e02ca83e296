"""The compiled joining of hybrid tokens (coding/token_kernels.py) gives numpy's values and position for every
token layout the format allows, and refuses the same damaged streams."""

import numpy as np
import pytest

from baler_core.coding import entropy, jit
from baler_core.coding.tokens import join_tokens, low_bits, split_tokens
from baler_core.errors import FormatError

LAYOUTS = [(1, 0), (2, 2), (3, 0), (4, 1), (4, 2), (8, 4)]


def _values(rng: np.random.Generator, n: int) -> np.ndarray:
    z = (rng.geometric(1e-3, n).astype(np.uint64) * rng.integers(1, 1 << 20, n).astype(np.uint64))
    small = rng.random(n) < 0.3
    z[small] = rng.integers(0, 40, int(small.sum()))  # tokens of their own, between long ones
    extremes = np.array([0, 1, 2**63, 2**64 - 1, 2**40 + 3], dtype=np.uint64)
    return np.concatenate([extremes, z]) if n else extremes


def _join(tok: np.ndarray, blob: bytes, pos: int, split: int, msb: int, compiled: bool, monkeypatch) -> tuple:
    monkeypatch.setattr(jit, "_active", compiled)
    try:
        return join_tokens(tok, blob, pos, split, msb)
    except FormatError as err:
        return str(err)


@pytest.fixture
def kernels():
    if jit.module("token_kernels") is None:
        pytest.skip("numba is not installed")


@pytest.mark.parametrize("split,msb", LAYOUTS)
def test_compiled_join_matches_numpy(kernels, monkeypatch, split, msb):
    rng = np.random.default_rng(split * 10 + msb)
    for n in (0, 1, 7, 5000):
        z = _values(rng, n)
        tok, nlow = split_tokens(z, split, msb)
        blob = b"head" + low_bits(z, nlow) + b"tail"
        got, end = _join(tok, blob, 4, split, msb, True, monkeypatch)
        want, want_end = _join(tok, blob, 4, split, msb, False, monkeypatch)
        assert got.dtype == np.uint64 and np.array_equal(got, z) and np.array_equal(want, z)
        assert end == want_end == len(blob) - 4


@pytest.mark.parametrize("split,msb", LAYOUTS)
def test_compiled_join_refuses_what_numpy_refuses(kernels, monkeypatch, split, msb):
    rng = np.random.default_rng(7)
    z = _values(rng, 2000)
    tok, nlow = split_tokens(z, split, msb)
    bits = low_bits(z, nlow)
    short = _join(tok, bits[:-1], 0, split, msb, True, monkeypatch)
    assert short == _join(tok, bits[:-1], 0, split, msb, False, monkeypatch) == \
        "integer stream truncated (hybrid low bits)"
    beyond = np.append(tok, (1 << split) + ((64 - split) << msb))  # a bit length of 65
    assert _join(beyond, bits, 0, split, msb, True, monkeypatch) == \
        _join(beyond, bits, 0, split, msb, False, monkeypatch) == "integer stream holds hybrid tokens beyond 64 bits"


def test_hybrid_streams_decode_alike_either_way(kernels, monkeypatch):
    """Whole method-5 streams (wide, many distinct values) through ``decode_ints``, compiled and not."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.integers(-(2**40), 2**40, 3000), rng.integers(-50, 50, 3000)])
    blob = entropy.encode_ints(x, "ans")
    assert blob[0] == 5  # method 5: hybrid tokens
    for compiled in (True, False):
        monkeypatch.setattr(jit, "_active", compiled)
        assert np.array_equal(entropy.decode_ints(blob, x.size), x)


def test_token_counts_match_the_tokens(kernels):
    """The estimate's histogram of tokens and of low-bit widths, against the tokens numpy builds."""
    from baler_core.coding import token_kernels
    from baler_core.coding.tokens import token_limit

    rng = np.random.default_rng(5)
    for split, msb in LAYOUTS:
        x = np.concatenate([rng.integers(-(2**50), 2**50, 4000), rng.integers(-9, 9, 4000), [0, 2**61, -(2**61)]])
        center = int(rng.integers(-100, 100))
        z = entropy.zigzag(x - np.int64(center))
        tok, nlow = split_tokens(z, split, msb)
        counts, widths = token_kernels.token_counts(x, center, split, msb, token_limit(split, msb))
        assert np.array_equal(counts, np.bincount(tok, minlength=counts.size))
        assert np.array_equal(widths[1:], np.bincount(nlow, minlength=64)[1:])  # values with raw bits, by count
