"""Probability tables that live in a model (issue 22's priors) and the integer stream coded against them.

A prior table codes one group of a column's integer stream (residuals in grid steps, or zero flags): hybrid
tokens (``tokens``) of the values' distance from a fixed center, with log-quantized weights (``rans``) fitted
on the model's training rows. Every token from 0 up to ``MARGIN`` tokens beyond the largest seen keeps a small
weight, so a file a little wider than the training rows still codes; a value beyond that makes the stream
fall back to its own table (``estimate`` returns None).

Stream (integer-stream method ``PRIOR_METHOD`` in a column's section): ``u8 method``, the ``shift`` of every
table's center (a zigzagged varint: a column whose prediction is a per-file constant has its residuals moved by
a whole number of steps) and the number of 32-bit words (a varint), then one rANS stream of those words holding
every group's tokens (group 0 decodes first), then the raw low bits of each group in group order. The groups,
their sizes and their tables come from the model and the decoded context columns, so the stream stores nothing
else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baler_core.coding.entropy import PRIOR_METHOD, unzigzag, zigzag
from baler_core.coding.rans import Q_MAX, information_bits, payload_bytes, q_weights, quantized
from baler_core.coding.tokens import join_tokens, low_bits, low_bits_bytes, split_tokens, token_limit
from baler_core.errors import FormatError

SPLIT, MSB = 5, 2  # values within 32 of the center are their own token; above, 2 bits below the leading one
MARGIN = 2 << MSB  # tokens beyond the largest seen that keep a weight: two more octaves
MAX_WORDS = 1 << 40


@dataclass(frozen=True)
class PriorTable:
    """One group's table: the center its values are counted from and the quantized weight of each token."""

    center: int
    q: np.ndarray

    @property
    def probs(self) -> np.ndarray:
        return q_weights(self.q)

    def to_dict(self) -> dict:
        return {"center": self.center, "q": [int(v) for v in self.q]}

    @classmethod
    def from_dict(cls, item: dict, what: str) -> PriorTable:
        """A table from the model's record, checked (a damaged model raises FormatError)."""
        try:
            center, q = item["center"], np.asarray(item["q"], dtype=np.int64)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise FormatError(f"{what}: prior table malformed ({exc})") from exc
        if (not isinstance(center, int) or isinstance(center, bool) or abs(center) >= 2**62 or q.ndim != 1
                or not 2 <= q.size <= token_limit(SPLIT, MSB) or q.min() < 1 or q.max() > Q_MAX):
            raise FormatError(f"{what}: prior table out of range")
        return cls(center, q)


def _tokens(x: np.ndarray, center: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = zigzag(np.asarray(x, dtype=np.int64) - np.int64(center))
    tok, nlow = split_tokens(z, SPLIT, MSB)
    return z, tok, nlow


def fit_table(x: np.ndarray) -> PriorTable:
    """The table of one group's training values: its median as the center, counts of its tokens with half a
    count added to every token up to ``MARGIN`` beyond the largest (so unseen tokens stay codable)."""
    x = np.asarray(x, dtype=np.int64)
    center = int(np.partition(x, x.size // 2)[x.size // 2]) if x.size else 0
    _, tok, _ = _tokens(x, center)
    k = min(int(tok.max(initial=0)) + 1 + MARGIN, token_limit(SPLIT, MSB))
    counts = np.bincount(tok, minlength=k)[:k]
    return PriorTable(center, np.maximum(quantized(2 * counts + 1), 1))  # 2c + 1 >= 1: q >= 1 everywhere


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(out)


def _read_varint(blob: bytes, pos: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        if pos >= len(blob) or shift > 63:
            raise FormatError("prior-coded stream header truncated or malformed")
        byte = blob[pos]
        v |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return v, pos


def _head(shift: int, nwords: int) -> bytes:
    return bytes([PRIOR_METHOD]) + _varint(2 * shift if shift >= 0 else -2 * shift - 1) + _varint(nwords)


def best_shift(parts: list[np.ndarray], median: int) -> int:
    """The center shift that moves the stream's median to the training rows' ``median``."""
    x = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return int(np.partition(x, x.size // 2)[x.size // 2]) - median if x.size else 0


def estimate(parts: list[np.ndarray], tables: list[PriorTable], shift: int = 0) -> int | None:
    """Bytes of ``encode(parts, tables, shift)``, from histograms; None where a value lies beyond its table."""
    if abs(shift) >= 2**61:
        return None
    bits, extra = 0.0, 0
    for x, t in zip(parts, tables, strict=True):
        if not x.size:
            continue
        _, tok, nlow = _tokens(x, t.center + shift)
        if int(tok.max()) >= t.q.size:
            return None
        bits += information_bits(np.bincount(tok, minlength=t.q.size), t.probs)
        extra += low_bits_bytes(nlow)
    words = payload_bytes(bits)
    return len(_head(shift, words // 4)) + words + extra


def encode(parts: list[np.ndarray], tables: list[PriorTable], shift: int = 0) -> bytes:
    """Every group's values in one stream (see the module docstring); every token must lie in its table."""
    import constriction

    coder = constriction.stream.stack.AnsCoder()
    lows = []
    coded = [(_tokens(x, t.center + shift), t) for x, t in zip(parts, tables, strict=True)]
    for (z, tok, nlow), t in reversed(coded):  # a stack: the last group pushed decodes first
        if tok.size:
            model = constriction.stream.model.Categorical(t.probs, perfect=False)
            coder.encode_reverse(tok.astype(np.int32), model)
    for (z, tok, nlow), _ in coded:
        lows.append(low_bits(z, nlow))
    words = coder.get_compressed().astype("<u4").tobytes()
    return _head(shift, len(words) // 4) + words + b"".join(lows)


def decode(blob: bytes, sizes: list[int], tables: list[PriorTable]) -> list[np.ndarray]:
    """The groups' values (int64) of a stream written by :func:`encode`."""
    import constriction

    if not blob or blob[0] != PRIOR_METHOD:
        raise FormatError("integer stream is not coded against the model's prior")
    z, pos = _read_varint(blob, 1)
    nwords, start = _read_varint(blob, pos)
    shift = (z >> 1) ^ -(z & 1)
    pos = start + 4 * nwords
    if abs(shift) >= 2**61 or nwords > MAX_WORDS or pos > len(blob):
        raise FormatError("prior-coded stream declares a shift or words beyond limits")
    words = np.frombuffer(blob, dtype="<u4", count=nwords, offset=start).astype(np.uint32)
    toks = []
    try:
        coder = constriction.stream.stack.AnsCoder(words)
        for n, t in zip(sizes, tables, strict=True):
            model = constriction.stream.model.Categorical(t.probs, perfect=False)
            toks.append(coder.decode(model, n).astype(np.int64) if n else np.zeros(0, np.int64))
        leftover = not coder.is_empty()
    except FormatError:
        raise
    except Exception as exc:  # constriction raises on exhausted or invalid data
        raise FormatError(f"prior-coded stream does not decode ({exc})") from exc
    if leftover:
        raise FormatError("prior-coded stream is damaged: words left over after its values")
    out = []
    for tok, t in zip(toks, tables):
        z, pos = join_tokens(tok, blob, pos, SPLIT, MSB)
        out.append(unzigzag(z) + np.int64(t.center + shift))
    if pos != len(blob):
        raise FormatError("prior-coded stream has trailing bytes after its low bits")
    return out

