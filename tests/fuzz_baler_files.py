"""Mutation fuzzing of .baler files: flips, truncations, insertions, re-sealed body and header mutations.

Every mutated file must either raise a BalerError (a clear error) or decompress to data of the declared
shape and dtypes; any other exception, a crash or a hang is a failure. Run longer campaigns with:

    python tests/fuzz_baler_files.py --cases 200000 --seed 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import struct
import sys
import time
from pathlib import Path

import numpy as np
import zstandard

from baler_core.codec import decompress
from baler_core.errors import BalerError
from baler_core.format.container import DICTIONARY_FROM, END_MAGIC, MAGIC
from baler_core.format.header_dictionary import HEADER_DICTIONARY

_TRAILER = 8 + 32 + len(END_MAGIC)
_EXTREMES = [-1, 0, 1, 2**31, 2**62, -(2**62), 1e308, -1e308, 0.5, "x", None, [], {}, True]


def reseal(body_and_header: bytes, header_len: int) -> bytes:
    """Append a valid length, checksum and end marker so the mutation reaches the parser."""
    blob = body_and_header + struct.pack("<Q", header_len)
    return blob + hashlib.sha256(blob).digest() + END_MAGIC


def split_file(raw: bytes) -> tuple[bytes, bytes]:
    """(body, header as plain JSON bytes): a zstd-compressed header (format 1.2; with the header dictionary
    since 1.12) is decompressed. ``reseal``
    may store either form; readers accept both."""
    (hlen,) = struct.unpack_from("<Q", raw, len(raw) - _TRAILER)
    end = len(raw) - _TRAILER
    header = raw[end - hlen : end]
    if header[:4] == b"\x28\xb5\x2f\xfd":  # since 1.12 with the fixed header dictionary
        version = struct.unpack_from("<HH", raw, len(MAGIC))
        d = (zstandard.ZstdCompressionDict(HEADER_DICTIONARY, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
             if version >= DICTIONARY_FROM else None)
        header = zstandard.ZstdDecompressor(dict_data=d).decompress(header)
    return raw[: end - hlen], header


def _mutate_json(obj, rng: random.Random):
    """Replace one random scalar inside the header with an extreme or wrongly typed value."""
    paths = []

    def walk(o, path):
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, path + [k])
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, path + [i])
        else:
            paths.append(path)

    walk(obj, [])
    if not paths:
        return obj
    path = rng.choice(paths)
    target = obj
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = rng.choice(_EXTREMES)
    return obj


KINDS = ["flip", "truncate", "insert", "resealed-body", "resealed-body", "resealed-header-json",
         "resealed-header-byte"]


def mutate(raw: bytes, rng: random.Random) -> tuple[str, bytes]:
    kind = rng.randrange(7)
    return KINDS[kind], _mutate(raw, rng, kind)


def _mutate(raw: bytes, rng: random.Random, kind: int) -> bytes:
    b = bytearray(raw)
    if kind == 0:  # flip bits anywhere (the checksum must catch it)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == 1:  # truncate anywhere
        return bytes(b[: rng.randrange(len(b))])
    if kind == 2:  # insert junk
        pos = rng.randrange(len(b))
        return bytes(b[:pos] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + b[pos:])
    body, header = split_file(raw)
    if kind in (3, 4):  # re-sealed body mutation: valid checksum, damaged section bytes
        bb = bytearray(body)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(12, len(bb)) if len(bb) > 12 else 0
            bb[pos] ^= rng.randrange(1, 256)
        return reseal(bytes(bb) + header, len(header))
    if kind == 5:  # re-sealed structured header mutation, stored compressed as a writer would
        h = _mutate_json(json.loads(header), rng)
        new = zstandard.ZstdCompressor().compress(json.dumps(h).encode())
        return reseal(body + new, len(new))
    hb = bytearray(header)  # re-sealed raw header byte mutation (often invalid JSON), stored compressed or plain
    hb[rng.randrange(len(hb))] ^= rng.randrange(1, 256)
    new = zstandard.ZstdCompressor().compress(bytes(hb)) if rng.random() < 0.5 else bytes(hb)
    return reseal(body + new, len(new))


def check_case(data: bytes, path: Path, bundle, expected) -> str:
    """'error' when a BalerError was raised, 'ok' when the output has the declared shape and dtypes."""
    path.write_bytes(data)
    try:
        out = decompress(path, bundle)
    except BalerError:
        return "error"
    # A re-sealed hostile header may declare other dtypes or names: the output must match the declaration.
    if isinstance(expected, np.ndarray):
        assert isinstance(out, np.ndarray) and out.dtype.kind in "biuf" and out.ndim == 3
    else:
        assert all(out[c].dtype.kind in "biuf" for c in out.columns)
    return "ok"


def run_campaign(files: list[tuple[Path, object, object]], cases: int, seed: int, workdir: Path) -> dict:
    """Mutate the given (file, bundle or None, expected output) triples ``cases`` times in total."""
    rng = random.Random(seed)
    originals = [(p.read_bytes(), bundle, exp) for p, bundle, exp in files]
    counts: dict = {}
    target = workdir / "fuzz.baler"
    t0 = time.perf_counter()
    for i in range(cases):
        raw, bundle, exp = originals[i % len(originals)]
        kind, data = mutate(raw, rng)
        outcome = check_case(data, target, bundle, exp)
        counts.setdefault(kind, {"error": 0, "ok": 0})[outcome] += 1
    counts["seconds"] = time.perf_counter() - t0
    return counts


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from test_reliability import build_fuzz_corpus

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        corpus = build_fuzz_corpus(Path(d))
        print(run_campaign(corpus, a.cases, a.seed, Path(d)))
