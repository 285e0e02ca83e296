import json
import struct

import pytest

from baler_core.errors import FormatError
from baler_core.format.container import MAGIC, VERSION, ContainerReader, ContainerWriter
from baler_core.format.header_dictionary import HEADER_DICTIONARY


def _write(path, sections=None, header=None):
    with ContainerWriter(path) as w:
        for k, v in (sections or {"a": b"hello", "b": b"\x00" * 100}).items():
            w.add(k, v)
        w.finish(header or {"format": "baler", "n": 3})


def test_round_trip(tmp_path):
    p = tmp_path / "x.baler"
    _write(p)
    with ContainerReader(p) as r:
        assert r.read("a") == b"hello" and r.read("b") == b"\x00" * 100
        assert r.header["n"] == 3 and r.version == VERSION
        with pytest.raises(FormatError, match="missing"):
            r.read("c")
    assert not list(tmp_path.glob(".*part"))


def test_future_major_version_refused(tmp_path):
    p = tmp_path / "x.baler"
    _write(p)
    raw = bytearray(p.read_bytes())
    raw[len(MAGIC) : len(MAGIC) + 2] = struct.pack("<H", VERSION[0] + 1)
    p.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=rf"version {VERSION[0] + 1}\.{VERSION[1]} is not readable"):
        ContainerReader(p)


def test_wrong_magic_truncation_and_flips(tmp_path):
    p = tmp_path / "x.baler"
    _write(p)
    good = p.read_bytes()
    p.write_bytes(b"PK" + good[2:])
    with pytest.raises(FormatError, match="magic"):
        ContainerReader(p)
    for cut in (5, len(good) // 2, len(good) - 1):
        p.write_bytes(good[:cut])
        with pytest.raises(FormatError):
            ContainerReader(p)
    for pos in range(0, len(good), 7):
        bad = bytearray(good)
        bad[pos] ^= 0x40
        p.write_bytes(bytes(bad))
        with pytest.raises(FormatError):
            ContainerReader(p)


def test_abort_leaves_nothing(tmp_path):
    p = tmp_path / "x.baler"
    with pytest.raises(RuntimeError):
        with ContainerWriter(p) as w:
            w.add("a", b"123")
            raise RuntimeError("killed")
    assert not p.exists() and not list(tmp_path.iterdir())


def test_sections_outside_body_refused(tmp_path):
    p = tmp_path / "x.baler"
    _write(p)
    with ContainerReader(p) as r:
        assert r.header["sections"]["a"][1] == 5
    # hand-craft a file whose section table points past the header, with a valid checksum
    import hashlib

    body = MAGIC + struct.pack("<HH", *VERSION) + b"abc"
    hdr = json.dumps({"sections": {"a": [12, 10_000, 0]}}).encode()
    blob = body + hdr + struct.pack("<Q", len(hdr))
    p.write_bytes(blob + hashlib.sha256(blob).digest() + b"BALEREND")
    with pytest.raises(FormatError, match="outside"):
        ContainerReader(p)


def test_header_is_compressed_and_plain_json_headers_still_read(tmp_path):
    """1.2 writes a zstd header (1.12 with the fixed header dictionary); a file written with a plain JSON header
    (1.0 / 1.1) still opens."""
    import hashlib

    import zstandard

    p = tmp_path / "x.baler"
    _write(p)
    raw = p.read_bytes()
    hlen = struct.unpack_from("<Q", raw, len(raw) - 48)[0]
    body_end = len(raw) - 40
    header_start = body_end - 8 - hlen
    assert raw[header_start : header_start + 4] == b"\x28\xb5\x2f\xfd"
    with pytest.raises(zstandard.ZstdError):  # since 1.12 it needs the fixed header dictionary
        zstandard.ZstdDecompressor().decompress(raw[header_start : header_start + hlen])
    d = zstandard.ZstdCompressionDict(HEADER_DICTIONARY, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    header = json.loads(zstandard.ZstdDecompressor(dict_data=d).decompress(raw[header_start : header_start + hlen]))
    plain = json.dumps(header).encode()
    body = raw[:header_start] + plain + struct.pack("<Q", len(plain))
    old = tmp_path / "old.baler"
    old.write_bytes(body + hashlib.sha256(body).digest() + b"BALEREND")
    with ContainerReader(old) as rd:
        assert rd.header == header
        assert rd.read("a") == ContainerReader(p).read("a")
