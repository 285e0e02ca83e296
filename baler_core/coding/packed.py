"""Decoder weights stored on a grid (``decoder_dtype: grid``): each floating tensor of a decoder quantized within
a range-relative bound and coded by the model-free coder with the Lorenzo and spline predictors (the smaller).

A POD decoder is frames (the mean flow and the modes): smooth arrays that float16 stores at 16 bits a value and
zstd barely shrinks, where a grid at 1e-4 of each mode's range stores them in about 4 bits (the wake campaign of
``benchmarks/campaign.py``: 17 frames of 64 x 192 in 146 kB with Lorenzo alone, 110 kB with the spline too; the
DCT adds nothing). No transform, because the weights must decode bit-identically on every machine (the model's
predictions, and so every coded file, depend on them): Lorenzo is exact integer arithmetic and the spline the
same element-wise float64 operations in the same order on both sides, where a transform is a matrix product
whose rounding differs between BLAS builds.

A packed tensor is bytes: ``<I`` header length, a JSON header (``shape``, per slice the grid record and its
stream lengths) and the streams. Tensors of three or more axes are coded slice by slice along the first axis
(a POD model's modes, a convolution's output channels); smaller ones whole.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from baler_core.coding.error_bounds import Bound
from baler_core.coding.grid import decode_grid, encode_grid
from baler_core.errors import FormatError

DEFAULT_BOUND = 1e-4  # range-relative, per slice (benchmarks/campaign.py: the decoder trade-off)
_LEVEL = 19
PACK_PREDICTORS = ("lorenzo", "spline")  # decoded bit-identically everywhere (no matrix product)
_MAX_HEADER = 16 << 20


def _slices(x: np.ndarray) -> list[np.ndarray]:
    return [x[i : i + 1] for i in range(x.shape[0])] if x.ndim >= 3 else [x.reshape(1, -1) if x.ndim < 2 else x]


def pack_array(x: np.ndarray, bound: float = DEFAULT_BOUND) -> bytes:
    """Code a float array within ``bound`` times each slice's range; returns the packed bytes."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise FormatError("decoder weights hold non-finite values; cannot store them on a grid")
    parts, streams = [], []
    for s in _slices(x):
        got = encode_grid(s, Bound("range", bound), "auto", _LEVEL, s.shape, PACK_PREDICTORS)
        if got is None:
            raise FormatError(f"decoder weights of shape {x.shape} cannot be stored on a grid at {bound:g}")
        rec, st = got
        parts.append({"rec": rec, "streams": [[k, len(v)] for k, v in st.items()], "shape": list(s.shape)})
        streams.extend(st.values())
    head = json.dumps({"shape": list(x.shape), "slices": parts}, sort_keys=True).encode()
    return struct.pack("<I", len(head)) + head + b"".join(streams)


def unpack_array(blob: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """The float32 array of ``shape`` packed in ``blob``; FormatError for anything malformed."""
    if len(blob) < 4:
        raise FormatError("packed decoder tensor truncated")
    (n,) = struct.unpack_from("<I", blob)
    if n > min(_MAX_HEADER, len(blob) - 4):
        raise FormatError("packed decoder tensor header beyond its bytes")
    try:
        head = json.loads(blob[4 : 4 + n])
        if [int(v) for v in head["shape"]] != list(shape):
            raise FormatError(f"packed decoder tensor has shape {head['shape']}, the model needs {list(shape)}")
        out, pos = [], 4 + n
        for part in head["slices"]:
            sizes = {str(k): int(v) for k, v in part["streams"]}
            if any(v < 0 for v in sizes.values()) or pos + sum(sizes.values()) > len(blob):
                raise FormatError("packed decoder tensor streams beyond its bytes")
            st = {}
            for k, v in part["streams"]:
                st[str(k)], pos = blob[pos : pos + int(v)], pos + int(v)
            s_shape = tuple(int(v) for v in part["shape"])
            vals = decode_grid(part["rec"], lambda k, st=st: st[k], int(np.prod(s_shape)), np.dtype(np.float32))
            out.append(vals.reshape(s_shape))
    except FormatError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise FormatError(f"packed decoder tensor malformed ({type(exc).__name__}: {exc})") from exc
    arr = np.concatenate(out) if len(out) > 1 or len(shape) >= 3 else out[0]
    if arr.size != int(np.prod(shape)):
        raise FormatError(f"packed decoder tensor holds {arr.size} values, the model needs {int(np.prod(shape))}")
    return arr.reshape(shape)
