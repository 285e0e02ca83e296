"""Probability tables that live in a model (issue 22's priors) and the integer stream coded against them.

A prior table codes one group of a column's integer stream (residuals in grid steps, or zero flags): hybrid
tokens (``tokens``) of the values' distance from a fixed center, with log-quantized weights (``rans``) fitted
on the model's training rows. Every token from 0 up to ``MARGIN`` tokens beyond the largest seen keeps a small
weight, so a file a little wider than the training rows still codes; a value beyond that makes the stream
fall back to its own table (``estimate`` returns None).

Section (``b<block>/prior``, method ``PRIOR_METHOD``): every stream of a block coded against the model's priors,
in the order the block's columns decode them (model order; within a column ``r``, ``zero``, ``flip``). ``u8
method``, one zigzagged varint per stream (the ``shift`` of its tables' centers: a column whose prediction is a
per-file constant has its residuals moved by a whole number of steps), a varint count of 32-bit words, the words
(one rANS stream holding every group of every stream, in that order), then each group's raw low bits in the same
order. The streams, their groups, sizes and tables come from the column records, the model and the decoded
context columns, so the section stores nothing else, and a block pays one coder flush and one section entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from baler_core.coding.entropy import PRIOR_METHOD, unzigzag, zigzag
from baler_core.coding.rans import Q_MAX, Decoder, Encoder, information_bits, q_weights, quantized
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

    @cached_property
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


def best_shift(parts: list[np.ndarray], median: int) -> int:
    """The center shift that moves the stream's median (of at most about 8,192 evenly spaced values: the shift
    is only tried, and stored) to the training rows' ``median``."""
    x = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    x = x[:: max(1, x.size // 8192)]
    return int(np.partition(x, x.size // 2)[x.size // 2]) - median if x.size else 0


def estimate(parts: list[np.ndarray], tables: list[PriorTable], shift: int = 0) -> int | None:
    """Bytes a stream adds to its block's section (its information and raw bits, and its shift), from
    histograms; None where a value lies beyond its table."""
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
    return len(_varint(_zigzag(shift))) + int(np.ceil(bits / 8)) + extra


def _zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


class BlockWriter:
    """Collects a block's prior-coded streams; :meth:`finish` writes its section."""

    def __init__(self) -> None:
        self.shifts: list[int] = []
        self.groups: list[tuple[np.ndarray, np.ndarray, np.ndarray, PriorTable]] = []

    def __len__(self) -> int:
        return len(self.shifts)

    def add(self, parts: list[np.ndarray], tables: list[PriorTable], shift: int) -> None:
        """One stream: its groups' values and tables (every token must lie in its table: see ``estimate``)."""
        self.shifts.append(shift)
        self.groups.extend((*_tokens(x, t.center + shift), t) for x, t in zip(parts, tables, strict=True))

    def finish(self) -> bytes:
        coder = Encoder()
        for _, tok, _, t in reversed(self.groups):  # a stack: the last group pushed decodes first
            if tok.size:
                coder.push(tok, t.probs)
        words = coder.output()
        head = bytes([PRIOR_METHOD]) + b"".join(_varint(_zigzag(v)) for v in self.shifts) + _varint(len(words) // 4)
        return head + words + b"".join(low_bits(z, nlow) for z, _, nlow, _ in self.groups)


class BlockReader:
    """Reads a block's prior-coded streams in the order they were written; :meth:`finish` checks that the
    section held exactly them."""

    def __init__(self, blob: bytes, n_streams: int) -> None:
        if not blob or blob[0] != PRIOR_METHOD:
            raise FormatError("prior section is not coded against the model's priors")
        pos, self.shifts = 1, []
        for _ in range(n_streams):
            z, pos = _read_varint(blob, pos)
            self.shifts.append((z >> 1) ^ -(z & 1))
        nwords, start = _read_varint(blob, pos)
        self.pos = start + 4 * nwords
        if any(abs(v) >= 2**61 for v in self.shifts) or nwords > MAX_WORDS or self.pos > len(blob):
            raise FormatError("prior section declares shifts or words beyond limits")
        self.blob, self.next_stream = blob, 0
        self.coder = Decoder(np.frombuffer(blob, dtype="<u4", count=nwords, offset=start))

    def read(self, sizes: list[int], tables: list[PriorTable]) -> list[np.ndarray]:
        """The next stream's groups (int64), of ``sizes`` values under ``tables``."""
        if self.next_stream >= len(self.shifts):
            raise FormatError("prior section holds fewer streams than the column records use")
        shift = self.shifts[self.next_stream]
        self.next_stream += 1
        out = []
        for n, t in zip(sizes, tables, strict=True):
            tok = self.coder.decode(t.probs, n).astype(np.int64) if n else np.zeros(0, np.int64)
            z, self.pos = join_tokens(tok, self.blob, self.pos, SPLIT, MSB)
            out.append(unzigzag(z) + np.int64(t.center + shift))
        return out

    def finish(self) -> None:
        if self.next_stream != len(self.shifts) or not self.coder.is_empty() or self.pos != len(self.blob):
            raise FormatError("prior section is damaged: streams, words or low bits left over")


@dataclass
class ColumnPriors:
    """What a column's decoder needs of the priors: the model's entries of its streams (stream -> an object
    with ``ctx`` and ``tables``, ``codec.priors.Prior``) and its block's section reader."""

    entries: dict
    reader: BlockReader
