"""The compiled rANS decoder (coding/rans_kernels.py) reads constriction's streams bit for bit, and its encoder
writes them: random models (with zero probabilities, up to thousands of symbols), random lengths, several runs
from one coder."""

import constriction
import numpy as np
import pytest

from baler_core.coding import jit, rans
from baler_core.coding.predictors.base import dither_offsets
from baler_core.errors import FormatError, InputError


def _model(rng: np.random.Generator) -> np.ndarray:
    k = int(rng.integers(2, 3000))
    p = rng.random(k) ** rng.uniform(0.5, 8)
    p[rng.random(k) < 0.2] = 0.0
    p[int(rng.integers(k))] += 1e-3
    return p / p.sum()


def _encode(runs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """constriction's words for symbol runs decoded in order (a stack: the last run is pushed first)."""
    coder = constriction.stream.stack.AnsCoder()
    for sym, p in reversed(runs):
        coder.encode_reverse(sym.astype(np.int32), constriction.stream.model.Categorical(p, perfect=False))
    return coder.get_compressed().astype(np.uint32)


@pytest.fixture
def warm(monkeypatch):
    """Every stream through the kernels, however short (a process otherwise starts them for large files)."""
    if jit.module("rans_kernels") is None:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(jit, "_active", True)


def test_kernels_read_constriction_streams_bit_for_bit(warm):
    rng = np.random.default_rng(11)
    for _ in range(60):
        p = _model(rng)
        n = int(rng.integers(0, 5000))
        sym = rng.choice(p.size, size=n, p=p)
        got = rans.rans_decode(_encode([(sym, p)]).astype("<u4").tobytes(), p, n)
        assert got.dtype == np.int32 and np.array_equal(got, sym)
    runs = [(rng.choice(p.size, size=int(rng.integers(0, 800)), p=p), p) for p in (_model(rng) for _ in range(7))]
    coder = rans.Decoder(_encode(runs))
    assert coder.fast
    for sym, p in runs:
        assert np.array_equal(coder.decode(p, sym.size), sym)
    assert coder.is_empty()


def test_kernels_write_constriction_streams_bit_for_bit(warm, monkeypatch):
    """Empty, one-symbol, short and long runs, unlikely symbols (the coder's state grows fastest), several runs on
    one coder; a symbol outside the model is refused and the coder is left as it was."""
    rng = np.random.default_rng(12)
    for trial in range(80):
        p = _model(rng)
        sym = rng.choice(p.size, size=int(rng.choice([0, 1, 2, 3, 7, 500, 20000])), p=p)
        if trial % 8 == 0:
            sym[:] = int(np.argmin(np.where(p > 0, p, 2.0)))
        coder = rans.Encoder()
        assert coder.kernels is not None
        coder.push(sym, p)
        assert coder.output() == _encode([(sym, p)]).astype("<u4").tobytes()
        assert rans.rans_encode(sym, p) == coder.output()
    runs = [(rng.choice(p.size, size=int(rng.integers(0, 800)), p=p), p) for p in (_model(rng) for _ in range(7))]
    coder = rans.Encoder()
    for sym, p in reversed(runs):
        coder.push(sym, p)
    words = coder.output()
    assert words == _encode(runs).astype("<u4").tobytes()
    with pytest.raises(ValueError, match="outside"):
        coder.push(np.array([0, runs[0][1].size]), runs[0][1])
    assert coder.output() == words
    monkeypatch.setattr(jit, "_active", False)
    plain = rans.Encoder()
    assert plain.kernels is None
    for sym, p in reversed(runs):
        plain.push(sym, p)
    assert plain.output() == words


def test_encoder_step_at_extreme_states(warm):
    """The encoder's quotient by a reciprocal (``rans_kernels.reciprocals``) is the exact division for every
    state the coder can hold before a symbol (up to ``width << 40``, 2^64 - 1 at the top), widths 1 to 2^24:
    each single step against the rule in Python integers (``(x // w) << 24 | x % w + cdf[s]``, a word pushed
    first when ``x >> 40 >= w``)."""
    kernels = jit.module("rans_kernels")
    rng = np.random.default_rng(3)
    for head in ([1, 2, 3], [1 << 23], [(1 << 24) - 1], [int(w) for w in rng.integers(1, 50, 40)]):
        widths = np.array([*head, (1 << 24) - sum(head)], dtype=np.int64)  # the last takes the rest of 2^24
        cdf = np.concatenate([[0], np.cumsum(widths)]).astype(np.uint32)
        for s, w in enumerate(widths.tolist()):
            top = (w << 40) - 1  # the largest state left unpushed before a symbol of width w
            for x in {0, 1, w - 1, w, top, top - 1, top - w, top // 2, (1 << 64) - 1, int(rng.integers(0, 1 << 62))}:
                _, k, state, ok = kernels.push(np.array([s], np.int32), cdf, np.zeros(4, np.uint32), 0, np.uint64(x))
                y = x >> 32 if x >> 40 >= w else x
                assert ok and k == (1 if x >> 40 >= w else 0)
                assert int(state) == ((y // w) << 24 | (y % w + int(cdf[s]))), (w, x)


def test_kernels_and_constriction_agree_on_damage(warm, monkeypatch):
    """A stream with a word flipped or cut decodes to other symbols or leaves words or state over: both decoders
    raise FormatError, and a model constriction refuses is refused."""
    rng = np.random.default_rng(5)
    p = _model(rng)
    sym = rng.choice(p.size, size=3000, p=p)
    words = _encode([(sym, p)])
    damaged = [np.concatenate([words[:5], [words[5] ^ 0x40], words[6:]]).astype(np.uint32), words[1:]]
    for kernels in (True, False):
        monkeypatch.setattr(jit, "_active", kernels)
        assert np.array_equal(rans.rans_decode(words.astype("<u4").tobytes(), p, sym.size), sym)
        for w in damaged:
            try:
                got = rans.rans_decode(w.astype("<u4").tobytes(), p, sym.size)
            except FormatError:
                continue
            assert not np.array_equal(got, sym)
        with pytest.raises(FormatError):
            rans.rans_decode(words.astype("<u4").tobytes(), np.array([1.0]), 3)


def test_kernels_start_for_large_files_only(monkeypatch):
    """auto: a file declaring MIN_BYTES of output (MIN_BYTES_SHARED outside the command line) starts the kernels,
    a smaller one does not (numba's start would cost more than they save), and once started they serve
    everything; BALER_JIT=on / off overrides, and any other value is refused by name. The values are the same."""
    if jit.module("rans_kernels") is None or jit.module("pcg_kernels") is None:  # loaded before exclusive is set
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(2)
    p = np.full(256, 1 / 256)
    short = rng.integers(0, 256, 1000)
    monkeypatch.setattr(jit, "_active", False)
    monkeypatch.delenv(jit.ENV, raising=False)
    monkeypatch.setattr(jit, "exclusive", False)
    assert not jit.engage(jit.MIN_BYTES_SHARED - 1) and not rans.Decoder(_encode([(short, p)])).fast
    monkeypatch.setattr(jit, "exclusive", True)  # the command line's process: a lower threshold
    assert not jit.engage(jit.MIN_BYTES - 1)
    plain = dither_offsets(9, 5000, np.float32)
    assert jit.engage(jit.MIN_BYTES) and jit.engage(10)
    coder = rans.Decoder(_encode([(short, p)]))
    assert coder.fast and np.array_equal(coder.decode(p, short.size), short) and coder.is_empty()
    assert np.array_equal(dither_offsets(9, 5000, np.float32), plain)  # compiled offsets: the same numbers
    monkeypatch.setattr(jit, "_active", False)
    monkeypatch.setenv(jit.ENV, "off")
    assert not jit.engage(1 << 40)
    monkeypatch.setenv(jit.ENV, "on")
    assert jit.engage(1)
    monkeypatch.setenv(jit.ENV, "fast")
    with pytest.raises(InputError, match="BALER_JIT"):
        jit.engage(1)


def test_lookup_entries_hold_whole_intervals_or_point_at_them(warm):
    """The decoder's lookup table: an entry holds a symbol's interval where that symbol holds every quantile of
    the entry (decoded in one load), else points at the first symbol to search from; both kinds, and symbols
    beyond what an entry can hold (alphabets of 40,000), decode constriction's words."""
    kernels = jit.module("rans_kernels")
    shift = kernels.PRECISION - kernels.LOOKUP_BITS
    rng = np.random.default_rng(5)
    for k, heavy in ((3, 1), (300, 7), (40_000, 35_000)):
        p = rng.random(k) * 1e-3
        p[heavy] = 1.0  # one wide interval (entries packed), and many narrow ones (entries that search)
        p /= p.sum()
        cdf = kernels.quantized_cdf(p)
        lut = kernels.lookup(cdf)
        packed = lut[:-1] >= 0
        assert packed.any() == (heavy < kernels.PACKED_SYMBOLS) and ((~packed).any() or k == 3)
        for b in np.flatnonzero(packed):
            left, width, s = lut[b] & 0xFFFFFF, (lut[b] >> 24) & 0xFFFFFF, lut[b] >> 48
            assert (left, left + width) == (cdf[s], cdf[s + 1])
            assert left <= b << shift < (b + 1) << shift <= left + width
        for b in np.flatnonzero(~packed):
            s = -1 - lut[b]
            assert cdf[s] <= b << shift < cdf[s + 1]
        sym = rng.choice(k, size=20000, p=p)
        assert np.array_equal(rans.rans_decode(_encode([(sym, p)]).astype("<u4").tobytes(), p, sym.size), sym)


def test_estimate_passes_match_numpy(warm, monkeypatch):
    """The compiled histogram and model bits behind the rANS size estimates give numpy's quantized counts and
    bits, and ``estimate_ints`` the same sizes either way."""
    from baler_core.coding import entropy, rans_kernels
    from baler_core.coding.rans import Q_MANTISSA, Q_PER_OCTAVE, information_bits, q_weights, quantized

    rng = np.random.default_rng(4)
    for _ in range(40):
        lo = int(rng.integers(-1000, 1000))
        x = (rng.geometric(rng.uniform(0.01, 0.9), int(rng.integers(2, 20000))) * rng.choice([-1, 1])).astype(np.int64)
        x += lo
        counts = rans_kernels.histogram(x, int(x.min()), int(x.max() - x.min()) + 1)
        assert np.array_equal(counts, np.bincount(x - x.min()))
        exact, q, bits_q = rans_kernels.model_bits(counts, Q_MANTISSA, Q_PER_OCTAVE)
        assert np.array_equal(q, quantized(counts))
        assert exact == pytest.approx(information_bits(counts, counts / counts.sum()), rel=1e-12, abs=1e-9)
        assert bits_q == pytest.approx(information_bits(counts, q_weights(q)), rel=1e-12, abs=1e-9)
        sizes = []
        for active in (True, False):
            monkeypatch.setattr(jit, "_active", active)
            sizes.append(entropy.estimate_ints(x, "ans"))
        assert sizes[0] == sizes[1]


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_plans_code_what_they_estimate(warm, monkeypatch, dtype):
    """``plan_ints`` (one pass for the bounds, the histogram reused for the distinct count, the hybrid tokens'
    model bits compiled) estimates and codes as ``estimate_ints`` / ``encode_ints`` do, with the kernels and
    without: the same sizes and the same bytes, every blob decoding to its stream."""
    from baler_core.coding import entropy, rans_kernels

    rng = np.random.default_rng(7)
    streams = [np.zeros(0, dtype), np.full(50, -3, dtype), np.array([5, 6], dtype)]
    for _ in range(30):  # narrow and wide alphabets, short streams (tables weigh) and long ones
        n = int(rng.integers(2, 30000))
        scale = float(rng.choice([0.5, 3, 40, 5000]))
        streams.append((np.round(rng.laplace(0, scale, n)) + rng.integers(-100, 100)).astype(dtype))
    for x in streams:
        if x.size:
            assert tuple(rans_kernels.bounds(x)) == (x.min(), x.max())
        for method in ("auto", "ans", "zstd"):
            got = []
            for active in (True, False):
                monkeypatch.setattr(jit, "_active", active)
                size, encode = entropy.plan_ints(x, method, 3)
                blob = encode()
                assert blob == entropy.encode_ints(x, method, 3)
                assert size == entropy.estimate_ints(x, method, 3)
                assert np.array_equal(entropy.decode_ints(blob, x.size), x)
                got.append((size, blob))
            assert got[0] == got[1], (x.size, method)
