"""The ``.baler`` container: named binary sections and a JSON header in a footer, guarded by sha256.

Layout (all integers little-endian)::

    magic  b"\\x89BALER\\r\\n"   8 bytes
    u16 major, u16 minor       format version
    section bytes ...          each section is self-describing (see entropy.py) and listed in the header
                               with its offset, length and CRC-32
    header                     UTF-8 JSON (zstd-compressed since 1.2): shapes, columns, dtypes, model sha256,
                               codec parameters, sections
    u64 header length
    sha256                     32 bytes over everything before it
    end magic b"BALEREND"      8 bytes

The header sits at the end so a file can be written in one streaming pass. A reader checks the magic, the
version, the checksum (streamed, bounded memory) and every section's offset and length against the file size
before reading any of it. Files are written to a temporary name and renamed, so an interrupted job never
leaves a truncated file that looks complete. Versioning: a file with a newer *major* version is refused; a
newer *minor* version only adds header fields that older readers may ignore.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
import zlib
from pathlib import Path

import zstandard

from baler_core.coding.entropy import unzstd
from baler_core.errors import FormatError, InputError
from baler_core.format.header_dictionary import HEADER_DICTIONARY

MAGIC = b"\x89BALER\r\n"
END_MAGIC = b"BALEREND"
VERSION = (1, 15)  # 1.1: the model-free `grid` mode, unsigned zstd streams; 1.2: zstd-compressed header;
# 1.3: the aligned `alin` / `alog` modes; 1.4: integer stream method 5 (hybrid tokens); 1.5: `dct` field blocks;
# 1.6: the `events` kind (HEP events: table files nested as sections) and the `exact` mode; 1.7: `dither` on
# grid table columns; 1.8: dithered residual modes `dlin` / `dlog` / `dalin` / `dalog` (table columns coded
# against a model or a constant); 1.9: context splits on a dithered column's own dither position and phase;
# 1.10: `resgrid` field blocks (a model's prediction plus its residual coded by the model-free field coder);
# 1.11: integer streams coded against the model's priors (method 6, `prior` in column records, `priors` in the
# header); 1.12: the header compressed with a fixed zstd dictionary (format/header_dictionary.py), and the column
# records of a file coded against a model's priors in a section of their own (``head``), compressed with the
# model's header template as zstd dictionary (see ContainerWriter.finish); 1.13: a `dct` block's corrections
# stored sparse where smaller (``dct_k``: runs of zeros ``kgap`` and the nonzero values ``kval``); 1.14: a `dct`
# block rebuilt by a float32 inverse transform (``dct_f32``); 1.15: a `dct` block's coefficients grouped by
# interpolated envelope level and context (``dct_ctx``, predictors/dct_contexts.py)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_PREFIX = len(MAGIC) + 4
_TRAILER = 8 + 32 + len(END_MAGIC)
MAX_HEADER_BYTES = 64 << 20
DICTIONARY_FROM = (1, 12)  # headers from this version on are compressed with HEADER_DICTIONARY
INNER_SECTION = "head"
INNER_KEYS = ("blocks", "columns")


def _json(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, allow_nan=False, separators=(",", ":")).encode()


def inner_json(header: dict) -> bytes:
    """The bytes of a header's inner part (its column names and records), as a template and a file store them."""
    return _json({k: header[k] for k in INNER_KEYS if k in header})


class ContainerWriter:
    """Write sections one after another, then :meth:`finish` with the header; use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
        self._f = open(self.tmp, "wb")
        self._hash = hashlib.sha256()
        self._pos = 0
        self.sections: dict[str, list[int]] = {}
        self._write(MAGIC + struct.pack("<HH", *VERSION))

    def _write(self, data: bytes) -> None:
        self._f.write(data)
        self._hash.update(data)
        self._pos += len(data)

    def add(self, name: str, data: bytes) -> None:
        if name in self.sections:
            raise ValueError(f"section {name!r} written twice")
        self.sections[name] = [self._pos, len(data), zlib.crc32(data)]
        self._write(data)

    def finish(self, header: dict, template: bytes | None = None) -> int:
        """Write header and trailer, fsync and rename into place; returns the file size. ``template`` (1.12): the
        column names and records go to section ``head``, zstd-compressed with ``template`` (the same part of
        the header of rows the model was fitted on, carried by its decoder) as dictionary, so a small file pays
        for what differs from it only; a reader needs the decoder to read them (``merge_inner``)."""
        if template is not None:
            d = zstandard.ZstdCompressionDict(template, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
            z = zstandard.ZstdCompressor(level=19, dict_data=d, write_dict_id=False, write_checksum=True)
            self.add(INNER_SECTION, z.compress(inner_json(header)))
            header = {**{k: v for k, v in header.items() if k not in INNER_KEYS}, "inner": INNER_SECTION}
        header = {**header, "sections": self.sections}
        # zstd: per-column records repeat the same keys, and small files are mostly header otherwise; the fixed
        # dictionary holds the keys and structure every header repeats (a 2,500-row file's header: 322 -> 142 bytes)
        d = zstandard.ZstdCompressionDict(HEADER_DICTIONARY, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        raw = zstandard.ZstdCompressor(level=19, write_checksum=True, dict_data=d, write_dict_id=False).compress(
            _json(header))
        self._write(raw)
        self._write(struct.pack("<Q", len(raw)))
        digest = self._hash.digest()
        self._f.write(digest + END_MAGIC)
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        os.replace(self.tmp, self.path)
        return self._pos + 32 + len(END_MAGIC)

    def abort(self) -> None:
        if not self._f.closed:
            self._f.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self._f.closed:
            self.abort()


class ContainerReader:
    """Open and verify a ``.baler`` file; sections are read on demand."""

    def __init__(self, path: str | Path, verify: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"{self.path}: file does not exist")
        self.size = self.path.stat().st_size
        self._f = open(self.path, "rb")
        self._lock = threading.Lock()  # sections may be read from several decoding threads
        try:
            self._open(verify)
        except Exception:
            self._f.close()
            raise

    def _open(self, verify: bool) -> None:
        name = self.path
        if self.size < _PREFIX + _TRAILER:
            raise FormatError(f"{name}: too short ({self.size} bytes) to be a .baler file")
        head = self._f.read(_PREFIX)
        if head[: len(MAGIC)] != MAGIC:
            raise FormatError(f"{name}: not a .baler file (wrong magic bytes)")
        major, minor = struct.unpack_from("<HH", head, len(MAGIC))
        if major != VERSION[0]:
            raise FormatError(f"{name}: format version {major}.{minor} is not readable by this baler "
                              f"(reads {VERSION[0]}.x); upgrade baler")
        self.version = (major, minor)
        self._f.seek(self.size - _TRAILER)
        trailer = self._f.read(_TRAILER)
        (hlen,) = struct.unpack_from("<Q", trailer)
        digest, end = trailer[8:40], trailer[40:]
        if end != END_MAGIC:
            raise FormatError(f"{name}: truncated or damaged (end marker missing)")
        body_end = self.size - 32 - len(END_MAGIC)
        if hlen > MAX_HEADER_BYTES or hlen > self.size - _PREFIX - _TRAILER:
            raise FormatError(f"{name}: header length {hlen} exceeds the file")
        if verify:
            h = hashlib.sha256()
            self._f.seek(0)
            left = body_end
            while left:
                chunk = self._f.read(min(left, 1 << 22))
                if not chunk:
                    raise FormatError(f"{name}: file shrank while reading")
                h.update(chunk)
                left -= len(chunk)
            if h.digest() != digest:
                raise FormatError(f"{name}: checksum mismatch: the file is damaged")
        self.header_start = body_end - 8 - hlen
        self._f.seek(self.header_start)
        raw = self._f.read(hlen)
        if raw[:4] == _ZSTD_MAGIC:  # 1.2 and later; 1.0 and 1.1 files store plain JSON
            raw = unzstd(raw, MAX_HEADER_BYTES, f"{name}: header", exact=False,
                         dictionary=HEADER_DICTIONARY if self.version >= DICTIONARY_FROM else None)
        try:
            self.header = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise FormatError(f"{name}: header is not valid JSON ({exc})") from exc
        if not isinstance(self.header, dict) or not isinstance(self.header.get("sections"), dict):
            raise FormatError(f"{name}: header lacks a section table")
        for sec, val in self.header["sections"].items():
            if isinstance(val, list) and len(val) == 2 and self.version == (1, 0):
                # [offset, length] without a CRC-32: written by a 1.0 baler before its first release
                raise FormatError(f"{name}: format 1.0 without section CRCs (a pre-release writer) is not "
                                  "supported; compress the original data again")
            if (not isinstance(val, list) or len(val) != 3 or not all(type(v) is int for v in val)
                    or val[0] < _PREFIX or val[1] < 0 or val[0] + val[1] > self.header_start):
                raise FormatError(f"{name}: section {sec!r} lies outside the file body")

    def merge_inner(self, template: bytes) -> None:
        """Add the column names and records of a 1.12 file's ``head`` section to ``header``, decompressed with
        ``template`` (its decoder's header template)."""
        inner_section = self.header.get("inner")
        if inner_section is None:
            return
        if inner_section != INNER_SECTION:
            raise FormatError(f"{self.path}: header names an unknown inner section {inner_section!r}")
        raw = unzstd(self.read(INNER_SECTION), MAX_HEADER_BYTES, f"{self.path}: inner header", exact=False,
                     dictionary=template)
        try:
            inner = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise FormatError(f"{self.path}: inner header is not valid JSON ({exc}): was the file written with "
                              "another decoder's header template?") from exc
        if not isinstance(inner, dict) or set(inner) - set(INNER_KEYS):
            raise FormatError(f"{self.path}: inner header malformed")
        self.header = {**{k: v for k, v in self.header.items() if k != "inner"}, **inner}

    def read(self, name: str) -> bytes:
        if name not in self.header["sections"]:
            raise FormatError(f"{self.path}: section {name!r} missing")
        off, length, crc = self.header["sections"][name]
        with self._lock:
            self._f.seek(off)
            data = self._f.read(length)
        if len(data) != length:
            raise FormatError(f"{self.path}: section {name!r} truncated")
        if zlib.crc32(data) != crc:
            raise FormatError(f"{self.path}: section {name!r} is damaged (CRC mismatch)")
        return data

    def section_bytes(self, prefix: str = "") -> int:
        return sum(v[1] for k, v in self.header["sections"].items() if k.startswith(prefix))

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> ContainerReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
