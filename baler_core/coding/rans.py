"""The rANS coder behind ``entropy``'s methods 2, 4 and 5 (``constriction``'s stack coder with 32-bit words), its
models, and the size of its output estimated from a histogram without coding.

Log-quantized histograms: count c > 0 is stored as q = 1 + round(8 log2 c), and the model's weights are rebuilt
from q with integers and powers of two only, so every machine builds the same model.
"""

from __future__ import annotations

import math

import numpy as np

from baler_core.coding import jit
from baler_core.errors import FormatError

Q_PER_OCTAVE = 8
Q_MANTISSA = np.array([256, 279, 304, 332, 362, 395, 431, 470], dtype=np.float64)  # 256 * 2**(b / 8)
Q_MAX = 1 + Q_PER_OCTAVE * 40


def q_weights(q: np.ndarray) -> np.ndarray:
    """Model probabilities from quantized counts, bit-identical everywhere: exact float products and an exactly
    rounded sum, no transcendental functions."""
    e = np.maximum(q - 1, 0)
    w = np.where(q > 0, np.ldexp(Q_MANTISSA[e % Q_PER_OCTAVE], (e // Q_PER_OCTAVE).astype(np.int32)), 0.0)
    return w / math.fsum(w.tolist())


def quantized(counts: np.ndarray) -> np.ndarray:
    """Counts rounded to 1/8 octave: q = 1 + round(8 log2 c) for c > 0, 0 for c = 0 (methods 4 and 5)."""
    q = np.zeros(counts.size, dtype=np.int64)
    nz = counts > 0
    q[nz] = 1 + np.rint(Q_PER_OCTAVE * np.log2(counts[nz])).astype(np.int64)
    return q


def rans_encode(sym: np.ndarray, probs: np.ndarray) -> bytes:
    """Symbols (0 .. len(probs) - 1) under the model ``probs``, as little-endian 32-bit words."""
    coder = Encoder()
    coder.push(sym, probs)
    return coder.output()


class Encoder:
    """A stack rANS encoder over 32-bit words: the compiled kernels (``rans_kernels``, the GIL released) where
    they run in this process (``jit``), constriction's own otherwise; both write the same words. Several runs of
    symbols, each under its own model, may be pushed: the last pushed decodes first."""

    def __init__(self) -> None:
        self.kernels = jit.module("rans_kernels") if jit.active() else None
        if self.kernels is None:
            import constriction

            self.coder = constriction.stream.stack.AnsCoder()
        else:
            self.words, self.count, self.state = np.empty(256, dtype=np.uint32), 0, np.uint64(0)

    def push(self, sym: np.ndarray, probs: np.ndarray) -> None:
        """Encode ``sym`` (symbols 0 .. len(probs) - 1) under ``probs``, to decode first to last."""
        if self.kernels is None:
            import constriction

            model = constriction.stream.model.Categorical(probs, perfect=False)
            self.coder.encode_reverse(sym.astype(np.int32, copy=False), model)
            return
        k = self.kernels
        cdf = k.quantized_cdf(np.ascontiguousarray(probs, dtype=np.float64))
        if cdf.size == 0:
            raise ValueError(f"rANS model of {probs.size} symbols is invalid")
        self.words, self.count, state, ok = k.push(np.ascontiguousarray(sym, dtype=np.int32), cdf, self.words,
                                                   self.count, self.state)
        if not ok:
            raise ValueError(f"a symbol lies outside the rANS model's {probs.size} symbols")
        self.state = np.uint64(state)

    def output(self) -> bytes:
        """The words written, little-endian."""
        if self.kernels is None:
            return self.coder.get_compressed().astype("<u4").tobytes()
        return self.kernels.finish(self.words, self.count, self.state).astype("<u4").tobytes()


class Decoder:
    """A stack rANS decoder over 32-bit words: the compiled kernels (``rans_kernels``, the GIL released) where
    they run in this process (``jit``), constriction's own otherwise; several runs of symbols, each under its
    own model, may follow one another (a prior section's streams)."""

    def __init__(self, words: np.ndarray) -> None:
        self.words = np.ascontiguousarray(words, dtype=np.uint32)
        self.kernels = jit.module("rans_kernels") if jit.active() else None
        self.fast = self.kernels is not None
        if self.fast:
            self.pos, state = self.kernels.start(self.words)
            self.state = np.uint64(state)  # kept unsigned: the kernel's signature takes uint64
        else:
            import constriction

            try:
                self.coder = constriction.stream.stack.AnsCoder(self.words)
            except Exception as exc:  # constriction raises on invalid data
                raise FormatError(f"rANS words do not decode ({exc})") from exc

    def decode(self, probs: np.ndarray, n: int, hist: np.ndarray | None = None) -> np.ndarray:
        """The next ``n`` symbols (int32) under the model ``probs``; ``hist`` (int64, one count per symbol of
        ``probs``) gets them counted."""
        if not self.fast:
            import constriction

            try:
                sym = self.coder.decode(constriction.stream.model.Categorical(probs, perfect=False), n)
            except Exception as exc:  # constriction raises on exhausted or invalid data
                raise FormatError(f"rANS words do not decode ({exc})") from exc
            if hist is not None:
                hist += np.bincount(sym, minlength=hist.size)[: hist.size]
            return sym
        k = self.kernels
        cdf = k.quantized_cdf(np.ascontiguousarray(probs, dtype=np.float64))
        if cdf.size == 0:
            raise FormatError(f"rANS model of {probs.size} symbols is invalid")
        counts = hist if hist is not None else np.zeros(0, dtype=np.int64)
        out, self.pos, state = k.decode(self.words, self.pos, self.state, cdf, k.lookup(cdf), n, counts)
        self.state = np.uint64(state)
        return out

    def is_empty(self) -> bool:
        """Whether every word was read and the state is back at its start."""
        if not self.fast:
            return bool(self.coder.is_empty())
        return self.pos == 0 and int(self.state) == 0


def rans_decode(words: bytes, probs: np.ndarray, n: int, hist: np.ndarray | None = None) -> np.ndarray:
    """``n`` symbols from a whole number of 32-bit words, which they must use up exactly; ``hist`` as in
    ``Decoder.decode``."""
    if len(words) % 4:
        raise FormatError("integer stream payload is not a whole number of 32-bit words")
    coder = Decoder(np.frombuffer(words, dtype="<u4"))
    sym = coder.decode(probs, n, hist)
    if not coder.is_empty():
        raise FormatError("integer stream is damaged: words left over after its values")
    return sym


def payload_bytes(bits: float) -> int:
    """Bytes of a rANS payload carrying ``bits`` of information: whole 32-bit words and the coder's final
    state (measured within 4 bytes of constriction's output)."""
    return 4 * (math.ceil(bits / 32) + 1)


def information_bits(counts: np.ndarray, probs: np.ndarray) -> float:
    """Information in symbols with histogram ``counts`` under the model ``probs``."""
    nz = counts > 0
    return -float(np.dot(counts[nz], np.log2(probs[nz])))
