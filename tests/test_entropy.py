import numpy as np
import pytest

from baler_core.coding.entropy import decode_ints, encode_ints, unzigzag, zigzag
from baler_core.errors import FormatError


@pytest.mark.parametrize("method", ["auto", "ans", "zstd"])
@pytest.mark.parametrize("case", ["normal", "wide", "const", "binary", "extreme", "empty"])
def test_round_trip_exact(method, case):
    rng = np.random.default_rng(3)
    x = {
        "normal": np.rint(rng.normal(0, 30, 5000)),
        "wide": rng.integers(-(2**40), 2**40, 1000),
        "const": np.full(100, -7),
        "binary": (rng.uniform(size=4000) < 0.05).astype(int),
        "extreme": np.array([-(2**62), 2**62, 0, 1, -1]),
        "empty": np.zeros(0, dtype=np.int64),
    }[case].astype(np.int64)
    blob = encode_ints(x, method)
    y = decode_ints(blob, len(x))
    assert y.dtype == np.int64
    np.testing.assert_array_equal(x, y)


def test_ans_reaches_entropy():
    rng = np.random.default_rng(0)
    x = np.rint(rng.normal(0, 20, 200_000)).astype(np.int64)
    _, counts = np.unique(x, return_counts=True)
    p = counts / counts.sum()
    entropy_bytes = -(p * np.log2(p)).sum() * len(x) / 8
    blob = encode_ints(x, "ans")
    assert len(blob) < 1.02 * entropy_bytes + 2000
    assert len(encode_ints(x, "auto")) <= len(encode_ints(x, "zstd"))


def test_zigzag_inverse():
    x = np.array([0, -1, 1, -(2**63), 2**63 - 1], dtype=np.int64)
    np.testing.assert_array_equal(unzigzag(zigzag(x)), x)


def test_damaged_streams_raise():
    x = np.rint(np.random.default_rng(1).normal(0, 10, 1000)).astype(np.int64)
    for method in ("ans", "zstd"):
        blob = encode_ints(x, method)
        with pytest.raises(FormatError):
            decode_ints(blob[: len(blob) // 2], len(x))
        with pytest.raises(FormatError):
            decode_ints(bytes([77]) + blob[1:], len(x))
    with pytest.raises(FormatError):
        decode_ints(b"", 3)


def test_quantized_histogram_when_the_table_dominates():
    """A wide alphabet in a short stream: the log-quantized table (method 4) beats the exact one."""
    from baler_core.coding.entropy import ans_encodings

    x = np.rint(np.random.default_rng(4).laplace(0, 200, 20000)).astype(np.int64)
    exact, blob = ans_encodings(x, 9)
    assert exact[0] == 2 and blob[0] == 4 and len(blob) < len(exact)
    np.testing.assert_array_equal(decode_ints(blob, len(x)), x)
    with pytest.raises(FormatError):
        decode_ints(blob[: len(blob) - 8], len(x))
    with pytest.raises(FormatError):  # the table must be a plain stream, not another rANS stream
        decode_ints(blob[:21] + bytes([2]) + blob[22:], len(x))


def test_hybrid_tokens_for_wide_streams():
    """Wide residuals (method 5): tokens of bit length and two leading bits, coded by rANS with a small table,
    the lower bits raw. Smaller than rANS on the values, exact round trip up to 62-bit spreads."""
    from baler_core.coding.entropy import ans_encodings
    from baler_core.coding.tokens import bit_length

    rng = np.random.default_rng(6)
    x = np.rint(rng.laplace(3, 3000, 20000)).astype(np.int64)
    blob = encode_ints(x, "ans")
    assert blob[0] == 5 and len(blob) < min(map(len, ans_encodings(x, 9)))
    np.testing.assert_array_equal(decode_ints(blob, len(x)), x)
    wide = np.r_[rng.integers(-50, 50, 5000), 2**61, -(2**61), 2**40 + 1, -7].astype(np.int64)
    got = encode_ints(wide, "ans")
    assert got[0] == 5  # no plain rANS alphabet is that wide
    np.testing.assert_array_equal(decode_ints(got, len(wide)), wide)
    z = np.array([0, 1, 2, 3, 2**53 - 1, 2**53, 2**53 + 1, 2**63, 2**64 - 1], dtype=np.uint64)
    assert bit_length(z).tolist() == [int(v).bit_length() for v in z]
    for bad in (blob[:-3], blob + b"\x00", blob[:9] + bytes([40]) + blob[10:]):  # cut, padded, split 40
        with pytest.raises(FormatError):
            decode_ints(bad, len(x))
    top = np.array([2**63 - 1, 2**63 - 1, 2**63 - 101, 2**63 - 40] * 10, dtype=np.int64)  # median near int64's max
    np.testing.assert_array_equal(decode_ints(encode_ints(top, "ans"), top.size), top)


def test_hybrid_table_must_be_a_plain_stream():
    """A method-5 table that is itself a method-5 stream (each nested level would cost a decoding pass) or a
    huge declared alphabet is refused before anything is decoded."""
    import struct

    head = lambda split, msb, k, nt: struct.pack("<BqBBIII", 5, 1, split, msb, k, nt, 0)  # noqa: E731
    inner = struct.pack("<Bq", 0, 1)
    nested = inner
    for _ in range(8):
        nested = head(3, 2, 40, len(nested)) + nested
    huge = head(16, 16, (1 << 16) + (64 << 16), len(inner)) + inner
    for bad, why in ((nested, "plain stream"), (huge, "beyond limits")):
        with pytest.raises(FormatError, match=why):
            decode_ints(bad, 10)


def test_quantized_weights_are_exact_powers():
    """Weights come from integers and powers of two only: q = 1 + 8 k means 2**k exactly."""
    from baler_core.coding.entropy import q_weights

    w = q_weights(np.array([1, 9, 0, 17]))
    assert w.tolist() == [1 / 7, 2 / 7, 0.0, 4 / 7]


def test_zstd_frame_declaring_more_than_expected_is_refused_before_decompressing():
    """zstandard's max_output_size does not bound a frame that declares its size: the declared size is checked
    first, so a small hostile frame cannot make the reader allocate what it declares."""
    import zstandard

    frame = zstandard.ZstdCompressor(level=1).compress(bytes(16 << 20))  # 16 MiB of zeros, a few hundred bytes
    assert len(frame) < 4096
    with pytest.raises(FormatError, match="declares"):
        decode_ints(bytes([3, 1]) + frame, 10)


def test_zstd_tried_on_table_streams_only_where_short():
    """auto tries zstd beside rANS on streams estimated under ``zstd_below`` bytes: a long periodic stream (zstd
    finds the repeats rANS cannot) is zstd-coded by default but rANS-coded under the tables' threshold
    (``TABLE_ZSTD_TRIED``, as ``contexts.encode_split`` codes its groups); a short one is zstd-coded under both.
    Every coding decodes to the values."""
    from baler_core.coding.contexts import encode_split
    from baler_core.coding.entropy import TABLE_ZSTD_TRIED, ZSTD_TRIED, plan_ints

    rng = np.random.default_rng(4)
    period = rng.integers(-40, 40, 97)
    long, short = np.tile(period, 800), np.tile(period[:40], 25)
    assert TABLE_ZSTD_TRIED <= plan_ints(long, "ans", 9)[0] < ZSTD_TRIED
    assert plan_ints(short, "ans", 9)[0] < TABLE_ZSTD_TRIED
    zstd, rans = (1, 3), (2, 4, 5)
    for x, below, methods in ((long, ZSTD_TRIED, zstd), (long, TABLE_ZSTD_TRIED, rans),
                              (short, ZSTD_TRIED, zstd), (short, TABLE_ZSTD_TRIED, zstd)):
        blob = encode_ints(x, "auto", 9, below)
        assert blob[0] in methods, (x.size, below, blob[0])
        np.testing.assert_array_equal(decode_ints(blob, x.size), x)
    (name, blob), = encode_split(long, np.zeros(long.size, np.int64), 1, "auto", 9).items()
    assert name == "r@0" and blob[0] in rans
