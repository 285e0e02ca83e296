"""baler as a zarr format 3 codec (name ``baler``): the array-to-bytes step of a zarr 3 array, so zarr 3 users
pick baler's model-free error-bounded coder per array:

    import zarr
    from baler_core.codec.zarr3_codec import BalerCodec
    z = zarr.create_array("flow.zarr", shape=(64, 32, 128, 128), chunks=(8, 32, 128, 128), dtype="float32",
                          serializer=BalerCodec(error_bound="abs=1e-3"), compressors=None)

It is registered under zarr's entry point group ``zarr.codecs``, so an array's metadata (``{"name": "baler",
"configuration": {...}}``) opens it by name. Each chunk is coded as in the numcodecs codec (``zarr_codec.Baler``,
for zarr format 2): a complete ``.baler`` payload, fields of rank 3 and 4, a column otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from zarr.abc.codec import ArrayBytesCodec
from zarr.core.buffer import Buffer, NDBuffer
from zarr.core.common import JSON, parse_named_configuration

from baler_core.codec.zarr_codec import Baler
from baler_core.coding.options import ZSTD_LEVEL

if TYPE_CHECKING:
    from typing import Self

    from zarr.core.array_spec import ArraySpec


@dataclass(frozen=True)
class BalerCodec(ArrayBytesCodec):
    """Error-bounded array-to-bytes codec: ``error_bound`` ``abs=X``, ``range=X``, ``rel=X`` or ``exact`` (per
    chunk, as in the numcodecs codec); ``level``: zstd level of the streams."""

    is_fixed_size = False
    error_bound: str = "abs=1e-3"
    level: int = ZSTD_LEVEL

    def __init__(self, *, error_bound: str = "abs=1e-3", level: int = ZSTD_LEVEL) -> None:
        inner = Baler(error_bound, level)  # checks the bound and names a bad one
        object.__setattr__(self, "error_bound", inner.error_bound)
        object.__setattr__(self, "level", inner.level)

    @classmethod
    def from_dict(cls, data: dict[str, JSON]) -> Self:
        _, configuration = parse_named_configuration(data, "baler", require_configuration=False)
        return cls(**(configuration or {}))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, JSON]:
        return {"name": "baler", "configuration": {"error_bound": self.error_bound, "level": self.level}}

    def _inner(self) -> Baler:
        return Baler(self.error_bound, self.level)

    def _encode_sync(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        blob = self._inner().encode(np.ascontiguousarray(chunk_array.as_numpy_array()))
        return chunk_spec.prototype.buffer.from_bytes(blob)

    def _decode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        flat = self._inner().decode(chunk_bytes.to_bytes())
        arr = np.asarray(flat).astype(chunk_spec.dtype.to_native_dtype(), copy=False).reshape(chunk_spec.shape)
        return chunk_spec.prototype.nd_buffer.from_numpy_array(arr)

    async def _encode_single(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        return self._encode_sync(chunk_array, chunk_spec)

    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        return self._decode_sync(chunk_bytes, chunk_spec)

    def compute_encoded_size(self, _input_byte_length: int, _chunk_spec: ArraySpec) -> int:
        raise NotImplementedError  # variable: it depends on the data
