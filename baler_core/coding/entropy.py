"""Lossless coding of integer streams (quantized latents and residuals) behind one interface.

Methods: ``const`` (every value equal), ``zstd`` (zigzag unless no value is negative, smallest width, byte
planes, zstd) and ``ans``
(an order-0 rANS coder from ``constriction`` with the stream's own histogram stored beside it, which reaches
the empirical entropy; the histogram is stored exactly or, where the stream is smaller that way, as counts
rounded to 1/8 octave, which costs about 0.1 % in the payload and half the table). ``auto`` encodes with each
applicable method and keeps the smallest (rANS sizes estimated from the histograms, ``rans``). Every blob is
self-describing and its declared sizes are checked before anything is allocated.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable

import numpy as np
import zstandard

from baler_core.coding import jit
from baler_core.coding.rans import (
    Q_MANTISSA,
    Q_MAX,
    Q_PER_OCTAVE,
    information_bits,
    payload_bytes,
    q_weights,
    quantized,
    rans_decode,
    rans_encode,
)
from baler_core.coding.tokens import join_tokens, low_bits, low_bits_bytes, split_tokens, token_limit, widths_bytes
from baler_core.errors import FormatError

_CONST, _ZSTD, _ANS, _ZSTD_U, _ANS_Q, _HYB = 0, 1, 2, 3, 4, 5
PRIOR_METHOD = 6  # coded against tables in the model (``prior_tables``): decoded there, never here
MAX_ANS_ALPHABET = 1 << 16
# Hybrid tokens (method 5): a value's distance from the stream's median, zigzagged to z, is its own token below
# 2**_HYB_SPLIT; above, the token holds z's bit length and the _HYB_MSB bits below its leading one, and the lower
# bits are stored raw. rANS codes the tokens: a wide residual stream then needs a table of a few dozen tokens
# instead of thousands of values (JPEG XL's "hybrid integer" coding).
_HYB_SPLIT, _HYB_MSB = 3, 2
_HYB_MIN_WIDTH = 32  # narrower alphabets: the plain rANS table is already small
_HYB_DISTINCT = 64  # tried where a stream holds more than one distinct value per 64 values
_WIDTHS = (1, 2, 4, 8)
ZSTD_TRIED = 1 << 16  # auto: zstd is tried beside rANS on streams estimated smaller than this
# ... and on a table's column streams (model residuals, their context groups, the zero and sign flags): zstd beat
# rANS there only on streams under 2.4 kB (jets with the sequential model, HZZ and NanoAOD-like events without),
# and trying it on the rest took a tenth of the sequential model's coding. A laminar field's smooth streams are
# another matter (zstd saves 8.5 % of the flow past a square's bytes on streams of 4-64 kB)
TABLE_ZSTD_TRIED = 1 << 12
HYBRID = (_HYB_MIN_WIDTH, _HYB_DISTINCT, _HYB_SPLIT, _HYB_MSB)  # where method 5 is tried, and its tokens


def unzstd(blob: bytes, size: int, what: str, exact: bool = True, dictionary: bytes | None = None) -> bytes:
    """A zstd frame's bytes: exactly ``size`` (at most, without ``exact``). The size a frame declares is checked
    before anything is allocated: zstandard's ``max_output_size`` does not bound a frame that declares its own
    content size, so a tiny hostile frame could otherwise make the reader allocate gigabytes. ``dictionary``:
    the raw-content dictionary the frame was compressed with."""
    try:
        declared = zstandard.frame_content_size(blob)
        if declared > size or (exact and declared not in (-1, size)):  # -1: the frame does not declare it
            raise FormatError(f"{what} declares {declared} bytes, expected {'' if exact else 'at most '}{size}")
        d = (None if dictionary is None else
             zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT))
        raw = zstandard.ZstdDecompressor(dict_data=d).decompress(blob, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise FormatError(f"{what} does not decompress ({exc})") from exc
    if len(raw) > size or (exact and len(raw) != size):
        raise FormatError(f"{what} holds {len(raw)} bytes, expected {size}")
    return raw


_LOCAL = threading.local()


def zstd_compress(data: bytes, level: int) -> bytes:
    """A zstd frame with checksum, from a compressor kept per thread and level (building one per call costs
    more than compressing a histogram)."""
    cache = _LOCAL.__dict__.setdefault("compressors", {})
    if level not in cache:
        cache[level] = zstandard.ZstdCompressor(level=level, write_checksum=True)
    return cache[level].compress(data)


def zigzag(x: np.ndarray) -> np.ndarray:
    """Signed to unsigned (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...), in the input's width (int32 or int64)."""
    if x.dtype != np.int32:
        x = x.astype(np.int64)
    bits = 8 * x.itemsize - 1
    return ((x << 1) ^ (x >> bits)).view(f"u{x.itemsize}")


def unzigzag(z: np.ndarray) -> np.ndarray:
    """Inverse of :func:`zigzag`, in the input's width (uint8 -> int8, ..., uint64 -> int64)."""
    z = np.asarray(z)
    if z.dtype.kind != "u":
        z = z.astype(np.uint64)
    signed = f"i{z.itemsize}"
    return (z >> 1).view(signed) ^ -(z & 1).view(signed)


def _to_planes(z: np.ndarray, width: int) -> bytes:
    """Byte planes (all low bytes, then the next bytes, ...): they compress better than interleaved words."""
    planes = np.empty((width, z.size), dtype=np.uint8)
    for i in range(width):
        np.copyto(planes[i], z >> np.array(8 * i, z.dtype) if i else z, casting="unsafe")
    return planes.tobytes()


def _from_planes(raw: bytes, n: int, width: int) -> np.ndarray:
    planes = np.frombuffer(raw, dtype=np.uint8).reshape(width, n)
    z = planes[width - 1].astype(f"<u{width}")
    for i in reversed(range(width - 1)):
        z <<= np.array(8, z.dtype)
        z |= planes[i]
    return z


def _zstd_encode(x: np.ndarray, level: int) -> bytes:
    """Non-negative streams are stored as they are (``_ZSTD_U``), signed ones zigzagged (``_ZSTD``)."""
    unsigned = x.size == 0 or int(x.min()) >= 0
    z = x.view(f"u{x.itemsize}") if unsigned else zigzag(x)
    top = int(z.max()) if z.size else 0
    width = next(w for w in _WIDTHS if top < 1 << (8 * w) or w == 8)
    return (struct.pack("<BB", _ZSTD_U if unsigned else _ZSTD, width)
            + zstd_compress(_to_planes(z, width), level))


def zstd_stream(x: np.ndarray, level: int) -> bytes:
    """The zstd coding of a stream (methods 1 and 3), as ``encode_ints`` writes it (its tables too)."""
    return _zstd_encode(x, level)


def _zstd_decode(blob: bytes, n: int, narrow: bool) -> np.ndarray:
    if len(blob) < 2:
        raise FormatError("integer stream truncated (zstd header)")
    width = blob[1]
    if width not in _WIDTHS:
        raise FormatError(f"integer stream declares width {width}, expected one of {_WIDTHS}")
    raw = unzstd(blob[2:], n * width, "integer stream")
    z = _from_planes(raw, n, width)
    if blob[0] == _ZSTD_U:
        if width == 8 and n and int(z.max()) >= 2**63:
            raise FormatError("unsigned integer stream holds values beyond int64")
        if narrow:  # unsigned of the stored width; callers widen before any arithmetic that could wrap
            return z if width < 8 else z.view(np.int64)
        return z.astype(np.int64)
    return unzigzag(z) if narrow else unzigzag(z.astype(np.uint64))


def _read_quantized(table: bytes, k: int) -> np.ndarray:
    """A method-4/5 table: a plain integer stream (never another rANS stream) of ``k`` quantized counts."""
    if not table or table[0] not in (_CONST, _ZSTD, _ZSTD_U):
        raise FormatError("integer stream histogram is not a plain stream")
    q = decode_ints(table, k)
    if q.min() < 0 or q.max() > Q_MAX or not q.any():
        raise FormatError("integer stream histogram out of range")
    return q


Plan = tuple[int, Callable[[], bytes]]  # (estimated bytes, the encoder that produces them)


def stream_bounds(x: np.ndarray) -> tuple[int, int]:
    """The smallest and the largest value of a non-empty stream (one compiled pass where the kernels run)."""
    kernels = jit.module("rans_kernels") if jit.active() else None
    if kernels is not None:
        lo, hi = kernels.bounds(x)
        return int(lo), int(hi)
    return int(x.min()), int(x.max())


def _ans_plans(x: np.ndarray | None, level: int, bounds: tuple[int, int] | None = None,
               counts: np.ndarray | None = None) -> tuple[list[Plan], np.ndarray | None]:
    """rANS with the stream's exact histogram (method 2) and with its log-quantized one (method 4), each with
    its size estimated from the histogram, and the histogram; none for alphabets of one value or wider than
    ``MAX_ANS_ALPHABET``. ``bounds`` and ``counts`` (the histogram from ``lo``): the stream's, where known."""
    lo, hi = bounds or stream_bounds(x)
    k = hi - lo + 1
    if k > MAX_ANS_ALPHABET or k < 2:
        return [], None
    kernels = jit.module("rans_kernels") if jit.active() else None
    if kernels is not None:  # the histogram and both models' bits in two compiled passes, the same numbers
        counts = kernels.histogram(x, lo, k) if counts is None else counts
        exact_bits, q, q_bits = kernels.model_bits(counts, Q_MANTISSA, Q_PER_OCTAVE)
    else:
        counts = np.bincount((x - lo).astype(np.int32, copy=False), minlength=k) if counts is None else counts
        q = quantized(counts)
        exact_bits, q_bits = information_bits(counts, counts / counts.sum()), information_bits(counts, q_weights(q))
    exact = zstd_compress(counts.astype("<u4").tobytes(), level)

    def encode(head: bytes, probs: Callable[[], np.ndarray]) -> bytes:
        return head + rans_encode((x - lo).astype(np.int32, copy=False), probs())

    plans = []
    for method, bits, probs, table in ((_ANS, exact_bits, lambda: counts / counts.sum(), exact),
                                       (_ANS_Q, q_bits, lambda: q_weights(q), _zstd_encode(q, level))):
        head = struct.pack("<BqII", method, lo, k, len(table)) + table
        plans.append((len(head) + payload_bytes(bits), lambda head=head, probs=probs: encode(head, probs)))
    return plans, counts


def ans_encodings(x: np.ndarray, level: int) -> list[bytes]:
    """Both rANS encodings of ``x`` (methods 2 and 4), for tests and tools; ``encode_ints`` codes one."""
    return [plan() for _, plan in _ans_plans(x, level)[0]]


def _ans_decode(blob: bytes, n: int, narrow: bool) -> np.ndarray:
    """rANS stream with an exact (method 2) or log-quantized (method 4) histogram."""
    head = struct.calcsize("<BqII")
    if len(blob) < head:
        raise FormatError("integer stream truncated (ans header)")
    method, lo, k, ntab = struct.unpack_from("<BqII", blob)
    if not 2 <= k <= MAX_ANS_ALPHABET or ntab > len(blob) - head:
        raise FormatError(f"integer stream declares alphabet {k} / table {ntab} bytes beyond limits")
    table = blob[head : head + ntab]
    if method == _ANS:
        counts_raw = unzstd(table, 4 * k, "integer stream histogram")
        counts = np.frombuffer(counts_raw, dtype="<u4").astype(np.float64)
        if counts.sum() != n or not np.all(np.isfinite(counts)):
            raise FormatError(f"integer stream histogram counts {counts.sum():.0f} values, expected {n}")
        probs = counts / counts.sum()
    else:
        q = _read_quantized(table, k)
        probs = q_weights(q)
    seen = np.zeros(k, dtype=np.int64)  # the decoded symbols counted as they are read
    sym = rans_decode(blob[head + ntab :], probs, n, seen)
    # The decoded symbols must reproduce the exact histogram, or have nonzero weight.
    if not np.array_equal(seen, counts) if method == _ANS else np.any(seen[q == 0]):
        raise FormatError("integer stream is damaged: decoded values do not match its histogram")
    if narrow and -(2**31) <= lo and lo + k < 2**31:
        return sym.astype(np.int32, copy=False) + np.int32(lo)
    return sym.astype(np.int64) + lo


def hybrid_tokens(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Tokens of a stream under method 5 and its number of raw bits (for cost estimates, ``contexts``)."""
    x = np.asarray(x, dtype=np.int64)
    tok, nlow = split_tokens(zigzag(x - np.int64(_median(x)) if x.size else x), _HYB_SPLIT, _HYB_MSB)
    return tok, int(nlow.sum())


def _median(x: np.ndarray) -> int:
    """A middle value, in integers (a float median near int64's limits would round past them), of at most
    about 8,192 evenly spaced values: the center only shifts the tokens, and it is stored."""
    s = x[:: max(1, x.size // 8192)]
    return int(np.partition(s, s.size // 2)[s.size // 2])


def _hyb_plan(x: np.ndarray, level: int, lo: int, hi: int) -> Plan | None:
    """Method 5: hybrid tokens coded by rANS with a log-quantized table, then the raw low bits grouped by
    their count (a reader knows every value's count from its token). ``x`` int32 or int64, from ``lo`` to
    ``hi``."""
    center = _median(x)
    if hi - center >= 2**62 or center - lo >= 2**62:
        return None
    kernels = jit.module("token_kernels") if jit.active() else None
    if kernels is not None:  # the tokens' histogram and the low bits' widths in one compiled pass
        counts, widths = kernels.token_counts(x, center, _HYB_SPLIT, _HYB_MSB, token_limit(_HYB_SPLIT, _HYB_MSB))
        counts = counts[: int(np.flatnonzero(counts)[-1]) + 1]
        extra = widths_bytes(widths)
    else:
        x = x.astype(np.int64, copy=False)
        z = zigzag(x - np.int64(center))
        tok, nlow = split_tokens(z, _HYB_SPLIT, _HYB_MSB)
        counts = np.bincount(tok)
        extra = low_bits_bytes(nlow)
    k = counts.size
    if np.count_nonzero(counts) < 2:
        return None
    if kernels is not None:
        _, q, bits = jit.module("rans_kernels").model_bits(counts, Q_MANTISSA, Q_PER_OCTAVE)
    else:
        q = quantized(counts)
        bits = information_bits(counts, q_weights(q))
    table = _zstd_encode(q, level)

    def encode() -> bytes:
        z = zigzag(x.astype(np.int64, copy=False) - np.int64(center))
        tok, nlow = split_tokens(z, _HYB_SPLIT, _HYB_MSB)
        words = rans_encode(tok, q_weights(q))
        low = low_bits(z, nlow)
        head = struct.pack("<BqBBIII", _HYB, center, _HYB_SPLIT, _HYB_MSB, k, len(table), len(words))
        return head + table + words + low

    return struct.calcsize("<BqBBIII") + len(table) + payload_bytes(bits) + extra, encode


def _hyb_decode(blob: bytes, n: int) -> np.ndarray:
    head = struct.calcsize("<BqBBIII")
    if len(blob) < head:
        raise FormatError("integer stream truncated (hybrid header)")
    _, center, split, msb, k, ntab, nwords = struct.unpack_from("<BqBBIII", blob)
    if not (1 <= split <= 8 and msb <= min(split, 4) and 2 <= k <= (1 << split) + (64 << msb)
            and 1 <= ntab and ntab + nwords <= len(blob) - head and nwords % 4 == 0):
        raise FormatError(f"integer stream declares hybrid tokens ({split}, {msb}, {k}) or sizes beyond limits")
    q = _read_quantized(blob[head : head + ntab], k)
    tok = rans_decode(blob[head + ntab : head + ntab + nwords], q_weights(q), n).astype(np.int64)
    if n and q[tok].min() == 0:
        raise FormatError("integer stream is damaged: decoded tokens do not match its histogram")
    z, pos = join_tokens(tok, blob, head + ntab + nwords, split, msb)
    if pos != len(blob):
        raise FormatError("integer stream has trailing bytes after its hybrid low bits")
    return unzigzag(z) + np.int64(center)


def _distinct(x: np.ndarray, lo: int, hi: int) -> int:
    if hi - lo < 1 << 20:
        return int(np.count_nonzero(np.bincount((x - lo).astype(np.int64))))
    return int(np.unique(x).size)


def _plans(x: np.ndarray, method: str, level: int, lo: int, hi: int, counts: np.ndarray | None) -> list[Plan]:
    """The rANS-family encodings that apply to ``x`` (values ``lo`` to ``hi``; their histogram ``counts`` where
    known) under ``method``, each with its estimated size."""
    if method not in ("auto", "ans"):
        return []
    plans, counts = _ans_plans(x, level, (lo, hi), counts)
    # tokens pay where the plain table is large against the payload: many distinct values per value coded
    if _HYB_MIN_WIDTH <= hi - lo:
        distinct = int(np.count_nonzero(counts)) if counts is not None else _distinct(x, lo, hi)
        if distinct * _HYB_DISTINCT > x.size:
            hyb = _hyb_plan(x, level, lo, hi)
            plans.extend([hyb] if hyb is not None else [])
    return plans


def _as_stream(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return np.ascontiguousarray(values, dtype=np.int32 if values.dtype == np.int32 else np.int64).ravel()


def plan_ints(values: np.ndarray, method: str = "auto", level: int = 9,
              summary: tuple[int, int, np.ndarray | None] | None = None, zstd_below: int = ZSTD_TRIED) -> Plan:
    """``encode_ints``' coding of ``values`` before it runs: the bytes it is expected to take (from histograms;
    zstd, where no rANS method applies, is run) and the encoder. Only the rANS encoding estimated smallest is
    run (the estimates are within a few bytes); ``auto`` also tries zstd where that estimate is below
    ``zstd_below`` bytes (``ZSTD_TRIED``, or ``TABLE_ZSTD_TRIED``: zstd wins on short streams, where the rANS
    tables weigh most, and costs more time than rANS on long ones). Callers that estimate first and code later
    keep the plan (``predictors.base.Pending``); callers that know the stream's ``summary``
    (``estimates.summary_of``: a grouping pass counts as it goes) pass it."""
    x = _as_stream(values)
    lo, hi, counts = summary if summary is not None else (*(stream_bounds(x) if x.size else (0, 0)), None)
    if lo == hi:
        blob = struct.pack("<Bq", _CONST, lo)
        return len(blob), lambda: blob
    plans = _plans(x, method, level, lo, hi, counts)
    if not plans:  # zstd only
        blob = _zstd_encode(x, level)
        return len(blob), lambda: blob
    best = min(plans, key=lambda p: p[0])
    if method == "auto" and best[0] < zstd_below:
        return best[0], lambda: min((best[1](), _zstd_encode(x, level)), key=len)
    return best


def ans_sizes(lo: int, hi: int, counts: np.ndarray, level: int) -> list[int]:
    """The rANS methods' estimated sizes for a stream known by its histogram ``counts`` of ``lo`` to ``hi``."""
    return [size for size, _ in _ans_plans(None, level, (lo, hi), counts)[0]]  # the values: read by encoders only


def encode_ints(values: np.ndarray, method: str = "auto", level: int = 9, zstd_below: int = ZSTD_TRIED) -> bytes:
    """Encode a 1-D integer array losslessly; ``method``: auto, zstd or ans (rANS on values or on hybrid
    tokens); see ``plan_ints``."""
    return plan_ints(values, method, level, zstd_below=zstd_below)[1]()


def estimate_ints(values: np.ndarray, method: str = "auto", level: int = 9) -> int:
    """Bytes ``encode_ints`` is expected to take, from histograms (``plan_ints``): for choosing between codings
    without running the entropy coder on each."""
    return plan_ints(values, method, level)[0]


def decode_ints(blob: bytes, n: int, narrow: bool = False) -> np.ndarray:
    """Decode ``n`` integers as int64, or with ``narrow`` in the smallest signed type the stream stores (for
    speed; callers then do their own arithmetic in a wide enough type). A damaged blob raises FormatError,
    never returns wrong-sized data."""
    if not blob:
        raise FormatError("empty integer stream")
    if blob[0] == _CONST:
        if len(blob) != 9:
            raise FormatError("constant integer stream has the wrong size")
        return np.full(n, struct.unpack_from("<q", blob, 1)[0], dtype=np.int64)
    if blob[0] in (_ZSTD, _ZSTD_U):
        return _zstd_decode(blob, n, narrow)
    if blob[0] in (_ANS, _ANS_Q):
        return _ans_decode(blob, n, narrow)
    if blob[0] == _HYB:
        return _hyb_decode(blob, n)
    if blob[0] == PRIOR_METHOD:
        raise FormatError("integer stream is coded against a model's prior, but its column record does not say so")
    raise FormatError(f"integer stream method {blob[0]} unknown")
