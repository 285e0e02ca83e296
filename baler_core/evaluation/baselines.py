"""Reference codecs measured on the same test split as baler: gzip and zstd (lossless) and, when their optional
packages are installed, mantissa truncation + zstd, SZ3, ZFP and SPERR; and baler without a model (``grid``).
Each reports bytes, ratio and throughput."""

from __future__ import annotations

import gzip
import lzma
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import zstandard

from baler_core.errors import InputError


@dataclass
class BaselineResult:
    method: str
    label: str
    raw_bytes: int
    compressed_bytes: int
    ratio: float
    compress_MBps: float
    decompress_MBps: float
    lossless: bool

    def to_dict(self) -> dict:
        return asdict(self)


def combine_results(results: list[BaselineResult]) -> BaselineResult:
    """One result for several tables coded one after another (the parts of events): bytes add up, and so do
    the seconds behind each speed."""
    if len(results) == 1:
        return results[0]
    raw, size = sum(r.raw_bytes for r in results), sum(r.compressed_bytes for r in results)
    t_c = sum(r.raw_bytes / 1e6 / r.compress_MBps for r in results if r.compress_MBps > 0)
    t_d = sum(r.raw_bytes / 1e6 / r.decompress_MBps for r in results if r.decompress_MBps > 0)
    first = results[0]
    return BaselineResult(first.method, first.label, raw, size, raw / max(size, 1), raw / 1e6 / max(t_c, 1e-9),
                          raw / 1e6 / max(t_d, 1e-9), all(r.lossless for r in results))


def table_bytes(data: pd.DataFrame | np.ndarray) -> bytes:
    """The data as stored uncompressed: column after column in each column's dtype (fields: the array)."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).tobytes()
    return b"".join(np.ascontiguousarray(data[c].to_numpy()).tobytes() for c in data.columns)


def _timed(fn, *args, repeat: int = 3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return out, best


def run_lossless(data: pd.DataFrame | np.ndarray, codec: str, level: int) -> tuple[BaselineResult, bytes]:
    """Compress and decompress with gzip or zstd at ``level``; the round trip is checked byte for byte."""
    raw = table_bytes(data)
    if codec == "gzip":
        enc, dec = (lambda b: gzip.compress(b, compresslevel=level, mtime=0)), gzip.decompress
    elif codec == "zstd":
        cctx, dctx = zstandard.ZstdCompressor(level=level), zstandard.ZstdDecompressor()
        enc, dec = cctx.compress, dctx.decompress
    else:
        raise InputError(f"baseline codec {codec!r} unknown; choose gzip or zstd")
    blob, t_c = _timed(enc, raw)
    back, t_d = _timed(dec, blob)
    if back != raw:
        raise RuntimeError(f"{codec} round trip is not exact")
    mb = len(raw) / 1e6
    res = BaselineResult(codec, f"{codec}-l{level}", len(raw), len(blob), len(raw) / max(len(blob), 1),
                         mb / max(t_c, 1e-9), mb / max(t_d, 1e-9), True)
    return res, blob


def truncate_mantissa(x: np.ndarray, keep_bits: int) -> np.ndarray:
    """Round float32 values to ``keep_bits`` mantissa bits (pointwise relative error <= 2**-(keep_bits+1))."""
    if x.dtype != np.float32:
        return x
    if not 0 <= keep_bits <= 23:
        raise InputError(f"mantissa bits must be in [0, 23], got {keep_bits}")
    drop = 23 - keep_bits
    if drop == 0:
        return x.copy()
    u = x.view(np.uint32).astype(np.uint64)
    half = np.uint64(1 << (drop - 1))
    mask = np.uint64(((1 << 32) - 1) ^ ((1 << drop) - 1))
    r = ((u + half) & mask).astype(np.uint32)
    finite = np.isfinite(x)
    out = np.where(finite, r.view(np.float32), x)
    return out


def run_rounded(data: pd.DataFrame | np.ndarray, bits_of: Callable[[str], int], coder: str, level: int,
                method: str, label: str) -> tuple[BaselineResult, pd.DataFrame | np.ndarray]:
    """Each float32 column's mantissa rounded to ``bits_of(column name)`` bits (a field is named ``field``), then
    the whole table coded with ``coder`` (``zstd`` at ``level``, or ``lzma`` at preset ``level``)."""
    if coder not in ("zstd", "lzma"):
        raise InputError(f"coder after rounding {coder!r} unknown; choose zstd or lzma")
    if isinstance(data, np.ndarray):
        rec = truncate_mantissa(data, bits_of("field"))
    else:
        rec = pd.DataFrame({c: truncate_mantissa(data[c].to_numpy(), bits_of(str(c))) for c in data.columns})
    raw = table_bytes(data)
    if coder == "zstd":
        enc, dec = zstandard.ZstdCompressor(level=level).compress, zstandard.ZstdDecompressor().decompress
    else:
        enc, dec = (lambda b: lzma.compress(b, preset=level)), lzma.decompress
    blob, t_c = _timed(enc, table_bytes(rec), repeat=1)
    _, t_d = _timed(dec, blob, repeat=1)
    mb = len(raw) / 1e6
    res = BaselineResult(method, label, len(raw), len(blob), len(raw) / max(len(blob), 1), mb / max(t_c, 1e-9),
                         mb / max(t_d, 1e-9), False)
    return res, rec


def run_truncation(data: pd.DataFrame | np.ndarray, keep_bits: int, level: int = 19
                   ) -> tuple[BaselineResult, pd.DataFrame | np.ndarray]:
    """Mantissa truncation of float32 columns followed by zstd (the production HEP trick)."""
    return run_rounded(data, lambda _: keep_bits, "zstd", level, "trunc", f"trunc{keep_bits}-zstd{level}")


def columns_of(data: pd.DataFrame | np.ndarray) -> list[np.ndarray]:
    """A table's columns as arrays; a field is one column."""
    return [data] if isinstance(data, np.ndarray) else [data[c].to_numpy() for c in data.columns]


def _abs_bound(x: np.ndarray, kind: str, value: float) -> float:
    if kind == "abs":
        return value
    if kind == "range":
        fin = x[np.isfinite(x)]
        rng = float(fin.max() - fin.min()) if fin.size else 0.0
        return value * rng if rng > 0 else value
    raise InputError(f"lossy baselines take abs=X or range=X bounds, got {kind}")


def _sz3_codec(x: np.ndarray, eb: float):
    import pysz

    cfg = pysz.szConfig(x.shape)
    cfg.errorBoundMode = pysz.szErrorBoundMode.ABS
    cfg.absErrorBound = eb
    return (lambda: pysz.sz.compress(np.ascontiguousarray(x), cfg)[0],
            lambda blob: pysz.sz.decompress(blob, x.dtype, x.shape)[0])


def _sperr_codec(x: np.ndarray, eb: float):
    """SPERR (wavelets + outlier correction, a pointwise bound) through its numcodecs codec; it takes any rank
    (above 3-D, each [depth, height, width] slice on its own)."""
    from numcodecs_wasm_sperr import Sperr

    codec = Sperr(mode="pwe", pwe=float(eb))
    return (lambda: np.asarray(codec.encode(np.ascontiguousarray(x))).view(np.uint8).ravel(),
            lambda blob: np.asarray(codec.decode(blob)).reshape(x.shape))


def _zfp_codec(x: np.ndarray, eb: float):
    import zfpy

    return (lambda: zfpy.compress_numpy(np.ascontiguousarray(x), tolerance=eb), zfpy.decompress_numpy)


def run_grid(data: pd.DataFrame | np.ndarray, kind: str, value: float, entropy: str = "auto"
             ) -> tuple[BaselineResult, pd.DataFrame | np.ndarray]:
    """baler without a model (``-m none``): the floor every trained model must beat, at any bound kind."""
    import tempfile

    from baler_core.codec import CompressionOptions, compress_field, compress_table, decompress, file_info
    from baler_core.coding.error_bounds import Bound, BoundSpec

    opts = CompressionOptions(BoundSpec(Bound(kind, value)), entropy=entropy)
    with tempfile.TemporaryDirectory(prefix="baler-grid-") as tmp:
        out = Path(tmp) / "grid.baler"
        if isinstance(data, np.ndarray):
            _, t_c = _timed(compress_field, data, None, out, opts, repeat=1)
        else:
            _, t_c = _timed(compress_table, [data], None, out, opts, repeat=1)
        rec, t_d = _timed(decompress, out, repeat=1)
        size = file_info(out)["file_bytes"]
    raw = len(table_bytes(data))
    mb = raw / 1e6
    res = BaselineResult("grid", f"baler-grid-{kind}{value:g}", raw, size, raw / max(size, 1),
                         mb / max(t_c, 1e-9), mb / max(t_d, 1e-9), False)
    return res, rec


def run_error_bounded(data: pd.DataFrame | np.ndarray, codec: str, kind: str, value: float
                      ) -> tuple[BaselineResult, pd.DataFrame | np.ndarray]:
    """SZ3 (``pysz``), ZFP (``zfpy``) or SPERR (``numcodecs-wasm-sperr``) per column (tables) or on the whole
    array (fields), at an absolute or range-relative bound; integer columns and non-float dtypes are stored with
    zstd, exactly. ``grid`` is baler's own model-free coder."""
    if codec == "grid":
        return run_grid(data, kind, value)
    makers = {"sz3": _sz3_codec, "zfp": _zfp_codec, "sperr": _sperr_codec}
    if codec not in makers:
        raise InputError(f"lossy baseline {codec!r} unknown; choose grid, sz3, zfp or sperr")
    raw = table_bytes(data)
    total, t_c, t_d, outs = 0, 0.0, 0.0, []
    for x in columns_of(data):
        if x.dtype.kind != "f" or not np.all(np.isfinite(x)):
            blob, tc = _timed(zstandard.ZstdCompressor(level=19).compress, np.ascontiguousarray(x).tobytes(), repeat=1)
            total, t_c, outs = total + len(blob), t_c + tc, outs + [x]
            continue
        enc, dec = makers[codec](x, _abs_bound(x, kind, value))
        blob, tc = _timed(enc, repeat=1)
        y, td = _timed(dec, blob, repeat=1)
        total, t_c, t_d = total + len(bytes(blob)), t_c + tc, t_d + td
        outs.append(np.asarray(y, dtype=x.dtype).reshape(x.shape))
    rec = outs[0] if isinstance(data, np.ndarray) else pd.DataFrame(dict(zip(data.columns, outs)))
    mb = len(raw) / 1e6
    res = BaselineResult(codec, f"{codec}-{kind}{value:g}", len(raw), total, len(raw) / max(total, 1),
                         mb / max(t_c, 1e-9), mb / max(t_d, 1e-9), False)
    return res, rec
