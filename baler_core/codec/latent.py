"""The stored latent: quantized per channel, entropy-coded, one section per channel."""

from __future__ import annotations

import numpy as np
import zstandard

from baler_core.coding.columns import unzstd_section
from baler_core.coding.entropy import decode_ints, encode_ints
from baler_core.coding.options import CompressionOptions
from baler_core.coding.quantization import dequantize_latent, quantize_latent
from baler_core.format.container import ContainerReader, ContainerWriter


def latent_blobs(stored: np.ndarray, spec: str, opts: CompressionOptions) -> list[bytes]:
    blobs = []
    for c in range(stored.shape[1]):
        ch = np.ascontiguousarray(stored[:, c])
        if spec.startswith("int"):
            blobs.append(encode_ints(ch.ravel(), opts.entropy, opts.level))
        else:
            blobs.append(zstandard.ZstdCompressor(level=opts.level, write_checksum=True).compress(ch.tobytes()))
    return blobs


def write_latent(w: ContainerWriter, prefix: str, z: np.ndarray, spec: str, opts: CompressionOptions
                  ) -> tuple[dict, np.ndarray]:
    stored, params = quantize_latent(z, spec)
    for c, blob in enumerate(latent_blobs(stored, spec, opts)):
        w.add(f"{prefix}/latent/{c}", blob)
    return params, dequantize_latent(stored, spec, params)


def read_latent(rd: ContainerReader, prefix: str, shape: tuple[int, ...], spec: str, params: dict) -> np.ndarray:
    per = int(np.prod(shape[2:], dtype=np.int64)) * shape[0]
    chans = []
    for c in range(shape[1]):
        blob = rd.read(f"{prefix}/latent/{c}")
        if spec.startswith("int"):
            ch = decode_ints(blob, per)
        else:
            dt = np.float32 if spec == "float32" else np.float16
            ch = np.frombuffer(unzstd_section(blob, per * np.dtype(dt).itemsize), dtype=dt)
        chans.append(ch.reshape((shape[0], *shape[2:])))
    stored = np.stack(chans, axis=1) if chans else np.zeros(shape)
    return dequantize_latent(stored, spec, params)

