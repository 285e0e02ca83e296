"""baler as a numcodecs codec (id ``baler``), so zarr and xarray users pick baler's error-bounded coder per array:

    import zarr
    from baler_core.codec.zarr_codec import Baler
    z = zarr.create_array("flow.zarr", shape=(64, 32, 128, 128), chunks=(8, 32, 128, 128), dtype="f4",
                          zarr_format=2, compressors=Baler(error_bound="abs=1e-3"))

The codec is registered under numcodecs' entry point ``numcodecs.codecs``, so ``numcodecs.get_codec({"id":
"baler", ...})`` and zarr's metadata find it by name. Each chunk becomes a complete ``.baler`` payload: float
chunks of rank 3 or 4 are coded as fields (every predictor, every value within the bound), others as one table
column (rank 1, 2: values in chunk order); integer chunks come back exact. An ``abs=`` bound means the same in
every chunk; ``range=`` and ``rel=`` are relative to each chunk's values.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from numcodecs.abc import Codec
from numcodecs.compat import ensure_ndarray, ndarray_copy

from baler_core.codec.decompress import decompress
from baler_core.codec.field import compress_field
from baler_core.codec.table import compress_table
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.coding.options import ZSTD_LEVEL, CompressionOptions
from baler_core.errors import InputError


class Baler(Codec):
    """Error-bounded compression of zarr chunks (model-free). ``error_bound``: ``abs=X``, ``range=X``,
    ``rel=X`` or ``exact``; ``level``: zstd level of the streams."""

    codec_id = "baler"

    def __init__(self, error_bound: str = "abs=1e-3", level: int = ZSTD_LEVEL) -> None:
        bound = parse_bound(error_bound)
        if bound.kind in ("none", "rms"):
            raise InputError(f"numcodecs baler: error_bound {error_bound!r}: give abs=, range=, rel= or exact")
        self.error_bound, self.level = str(error_bound), int(level)

    def _opts(self) -> CompressionOptions:
        return CompressionOptions(BoundSpec(parse_bound(self.error_bound)), level=self.level, threads=1)

    def encode(self, buf) -> bytes:
        arr = ensure_ndarray(buf)
        if arr.dtype.kind not in "biuf":
            raise InputError(f"numcodecs baler: chunks of dtype {arr.dtype} cannot be coded; numbers only")
        with tempfile.TemporaryDirectory(prefix="baler-chunk-") as tmp:
            out = Path(tmp) / "chunk.baler"
            if arr.dtype in (np.float32, np.float64) and arr.ndim in (3, 4):
                compress_field(np.ascontiguousarray(arr), None, out, self._opts(), "zarr chunk")
            else:
                compress_table([pd.DataFrame({"x": arr.reshape(-1)})], None, out, self._opts(), "zarr chunk")
            return out.read_bytes()

    def decode(self, buf, out=None):
        with tempfile.TemporaryDirectory(prefix="baler-chunk-") as tmp:
            path = Path(tmp) / "chunk.baler"
            path.write_bytes(ensure_ndarray(buf).tobytes())
            got = decompress(path)
        arr = got if isinstance(got, np.ndarray) else got["x"].to_numpy()
        return ndarray_copy(np.ascontiguousarray(arr).reshape(-1), out)
