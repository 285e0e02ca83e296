"""Hybrid integer tokens (JPEG XL's "hybrid integer" coding): a zigzagged value below ``2**split`` is its own
token; above, the token holds the value's bit length and the ``msb`` bits below its leading one, and the lower
bits are stored raw. An entropy coder then needs a table of a few dozen tokens instead of thousands of values.
Used by ``entropy``'s method 5 (a table per stream) and ``prior_tables`` (tables in the model)."""

from __future__ import annotations

import numpy as np

from baler_core.coding import jit
from baler_core.errors import FormatError

PACK_CHUNK = 1 << 16  # values packed at a time (a multiple of 8, so each chunk ends on a byte)


def bit_length(z: np.ndarray) -> np.ndarray:
    """Exact bit length of each uint64 (0 for 0): the float estimate, corrected where rounding moved it."""
    e = np.floor(np.log2(np.maximum(z, 1).astype(np.float64))).astype(np.int64)
    e -= (z >> e.astype(np.uint64)) == 0
    e = np.maximum(e, 0)
    e += (e < 63) & ((z >> np.minimum(e + 1, 63).astype(np.uint64)) != 0)
    return np.where(z == 0, 0, e + 1)


def split_tokens(z: np.ndarray, split: int, msb: int) -> tuple[np.ndarray, np.ndarray]:
    """Token of each zigzagged value (uint64) and the number of its raw low bits."""
    e = bit_length(z) - 1
    small = z < (1 << split)
    nlow = np.where(small, 0, e - msb)
    top = (z >> nlow.astype(np.uint64)) & np.uint64((1 << msb) - 1)
    big = (1 << split) + (e - split) * (1 << msb) + top.astype(np.int64)
    return np.where(small, z.astype(np.int64), big), nlow


def token_limit(split: int, msb: int) -> int:
    """One more than the largest token of a 64-bit value."""
    return (1 << split) + ((64 - split) << msb)


def low_bits(z: np.ndarray, nlow: np.ndarray) -> bytes:
    """The raw low bits of every value that has any, grouped by their count (a reader knows each value's count
    from its token)."""
    low = z & ((np.uint64(1) << nlow.astype(np.uint64)) - np.uint64(1))
    return b"".join(pack_bits(low[nlow == w], int(w)) for w in np.unique(nlow[nlow > 0]))


def low_bits_bytes(nlow: np.ndarray) -> int:
    """Bytes :func:`low_bits` takes."""
    return widths_bytes(np.bincount(nlow))


def widths_bytes(widths: np.ndarray) -> int:
    """Bytes :func:`low_bits` takes for ``widths[w]`` values of ``w`` low bits each."""
    return sum((int(m) * w + 7) // 8 for w, m in enumerate(widths) if w and m)


def join_tokens(tok: np.ndarray, blob: bytes, pos: int, split: int, msb: int) -> tuple[np.ndarray, int]:
    """Zigzagged values from tokens and the low bits at ``blob[pos:]``; returns them and the position after."""
    kernels = jit.module("token_kernels") if jit.active() else None
    if kernels is not None:
        z, end, status = kernels.join(np.ascontiguousarray(tok), np.frombuffer(blob, dtype=np.uint8), pos, split, msb)
        if status == 1:
            raise FormatError("integer stream holds hybrid tokens beyond 64 bits")
        if status == 2:
            raise FormatError("integer stream truncated (hybrid low bits)")
        return z, end
    big = tok >= (1 << split)
    e = np.where(big, split + ((tok - (1 << split)) >> msb), 0)
    if e.max(initial=0) > 63:
        raise FormatError("integer stream holds hybrid tokens beyond 64 bits")
    nlow = np.where(big, e - msb, 0)
    z = np.where(big, 0, tok).astype(np.uint64)
    top = (np.uint64(1) << np.uint64(msb)) | (tok & ((1 << msb) - 1)).astype(np.uint64)
    z[big] = top[big] << nlow[big].astype(np.uint64)
    for w in np.unique(nlow[nlow > 0]):
        sel = nlow == w
        m = int(sel.sum())
        size = (m * int(w) + 7) // 8
        if pos + size > len(blob):
            raise FormatError("integer stream truncated (hybrid low bits)")
        z[sel] |= unpack_bits(blob[pos : pos + size], m, int(w))
        pos += size
    return z, pos


def pack_bits(v: np.ndarray, width: int) -> bytes:
    """``width``-bit big-endian fields of uint64 values, concatenated."""
    nb = (width + 7) // 8
    out = []
    for s in range(0, v.size, PACK_CHUNK):
        raw = v[s : s + PACK_CHUNK].astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - nb :]
        out.append(np.packbits(np.unpackbits(raw, axis=1)[:, 8 * nb - width :]).tobytes())
    return b"".join(out)


def unpack_bits(buf: bytes, m: int, width: int) -> np.ndarray:
    nb = (width + 7) // 8
    out = np.empty(m, dtype=np.uint64)
    for s in range(0, m, PACK_CHUNK):
        c = min(PACK_CHUNK, m - s)
        chunk = np.frombuffer(buf, np.uint8, count=(c * width + 7) // 8, offset=s * width // 8)
        bits = np.zeros((c, 8 * nb), dtype=np.uint8)
        bits[:, 8 * nb - width :] = np.unpackbits(chunk)[: c * width].reshape(c, width)
        word = np.zeros((c, 8), dtype=np.uint8)
        word[:, 8 - nb :] = np.packbits(bits, axis=1)
        out[s : s + c] = word.view(">u8").ravel()
    return out
