"""The ``dct`` field predictor: orthonormal transform, bounds on every value after outlier correction, signed
zeros, a decoder whose transform rounds differently, malformed records, and its size on smooth flow."""

import numpy as np
import pytest
from conftest import make_field
from test_codec import _assert_bound

from baler_core.codec import CompressionOptions, compress_field, decompress
from baler_core.coding.entropy import decode_ints, encode_ints
from baler_core.coding.error_bounds import Bound, BoundSpec
from baler_core.coding.grid import decode_grid, encode_grid
from baler_core.coding.predictors import dct as transform
from baler_core.coding.predictors import dct_contexts, dct_corrections, dct_envelope
from baler_core.errors import FormatError
from baler_core.format.container import ContainerReader


def _dct_file(field, tmp_path, bound, name="d.baler", **kw):
    out = tmp_path / name
    compress_field(field, None, out, CompressionOptions(bounds=BoundSpec(bound), field_predictor="dct", **kw))
    with ContainerReader(out) as rd:
        cols = [blk["columns"][0] for blk in rd.header["blocks"]]
    return decompress(out), out, cols


@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 1, 9), (7, 1, 1), (3, 17, 4), (4, 33, 65)])
def test_transform_is_orthonormal_and_inverts(shape):
    x = np.random.default_rng(1).normal(size=shape)
    c = transform._transform(x, inverse=False)
    assert np.isclose(np.sum(c**2), np.sum(x**2))
    np.testing.assert_allclose(transform._transform(c, inverse=True), x, atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 1, 9), (5, 1, 1), (3, 17, 4), (2, 33, 65)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bound", [Bound("abs", 0.01), Bound("range", 1e-3)])
def test_dct_round_trip_keeps_every_bound(tmp_path, shape, dtype, bound):
    rng = np.random.default_rng(sum(shape))
    field = (np.cumsum(rng.normal(size=shape), axis=-1) * 3 + 100).astype(dtype)
    rec, _, cols = _dct_file(field, tmp_path, bound)
    assert rec.shape == field.shape and rec.dtype == field.dtype
    assert all("dct" in c for c in cols)
    _assert_bound(field.ravel(), rec.ravel(), bound)


def test_outliers_are_corrected_and_signed_zeros_kept(tmp_path):
    """White noise spreads every coefficient's error: many values need a correction, and all keep the bound."""
    field = np.random.default_rng(3).normal(size=(6, 20, 30)).astype(np.float32)
    field[2, 5:9, 5:9] = 0.0
    field[4, 1, 1:4] = -0.0
    rec, streams = encode_grid(field.ravel(), Bound("range", 1e-3), "ans", 3, field.shape, ("dct",))
    assert rec["dct_zeros"] is True
    corrections = decode_ints(streams["k"], field.size)
    assert np.count_nonzero(corrections) > field.size // 20
    out = decode_grid(rec, streams.__getitem__, field.size, field.dtype).reshape(field.shape)
    _assert_bound(field.ravel(), out.ravel(), Bound("range", 1e-3))
    zeros = field == 0
    np.testing.assert_array_equal(out[zeros], 0.0)
    np.testing.assert_array_equal(np.signbit(out[zeros]), np.signbit(field[zeros]))


def test_a_decoder_that_rounds_differently_still_keeps_the_bound(monkeypatch):
    """BLAS may sum in another order elsewhere. Push the decoder's inverse transform by 0.9 of the float64 slack
    the encoder allows plus a float32 rounding, each value away from the original: every value must still keep
    the bound. (White noise under a tight bound puts many corrected values near the bound's edge.)"""
    field = np.random.default_rng(5).normal(size=(8, 100, 128)).astype(np.float32)
    bound = Bound("range", 1e-5)
    rec, streams = encode_grid(field.ravel(), bound, "ans", 3, field.shape, ("dct",))
    assert "dct" in rec
    plain = decode_grid(rec, streams.__getitem__, field.size, field.dtype)
    exact = transform._transform
    push = np.where(plain >= field.ravel(), 1.0, -1.0).reshape(field.shape)
    push *= (0.9 * transform._MARGIN + float(np.finfo(np.float32).eps)) * float(np.abs(field).max())

    def pushed(x, inverse, overwrite=False):
        return exact(x, inverse, overwrite) + push if inverse else exact(x, inverse, overwrite)

    monkeypatch.setattr(transform, "_transform", pushed)
    out = decode_grid(rec, streams.__getitem__, field.size, field.dtype)
    assert np.count_nonzero(out != plain) > 100  # the push changes many float32 values
    _assert_bound(field.ravel(), out, bound)


def test_a_float32_inverse_that_rounds_differently_still_keeps_the_bound(monkeypatch):
    """A float32 block under a bound far above float32's rounding is rebuilt by a float32 inverse (1.14,
    ``dct_f32``). Push that inverse by 0.9 of its margin plus a float32 rounding away from each original value:
    every value keeps the bound; so does a reader that ignores the key and rebuilds in float64 (1.13)."""
    field = np.random.default_rng(6).normal(size=(8, 100, 128)).astype(np.float32)
    bound = Bound("range", 1e-3)
    rec, streams = encode_grid(field.ravel(), bound, "ans", 3, field.shape, ("dct",))
    assert rec.get("dct_f32") is True
    plain = decode_grid(rec, streams.__getitem__, field.size, field.dtype)
    _assert_bound(field.ravel(), plain, bound)
    as_float64 = decode_grid({k: v for k, v in rec.items() if k != "dct_f32"}, streams.__getitem__, field.size,
                             field.dtype)
    assert np.count_nonzero(as_float64 != plain) > 100
    _assert_bound(field.ravel(), as_float64, bound)
    exact = transform._transform
    push = np.where(plain >= field.ravel(), 1.0, -1.0).reshape(field.shape)
    push *= (0.9 * transform._MARGIN32 + float(np.finfo(np.float32).eps)) * float(np.abs(field).max())

    def pushed(x, inverse, overwrite=False):
        assert not inverse or x.dtype == np.float32
        return (exact(x, inverse, overwrite) + push).astype(np.float32) if inverse else exact(x, inverse, overwrite)

    monkeypatch.setattr(transform, "_transform", pushed)
    out = decode_grid(rec, streams.__getitem__, field.size, field.dtype)
    assert np.count_nonzero(out != plain) > 100
    _assert_bound(field.ravel(), out, bound)


@pytest.mark.parametrize("x, bound, f32", [(np.float32, Bound("range", 1e-3), True),
                                           (np.float64, Bound("range", 1e-3), False),
                                           (np.float32, Bound("range", 1e-5), False)])
def test_the_float32_inverse_only_where_float32_rounding_is_far_below_the_bound(x, bound, f32):
    field = (np.random.default_rng(2).normal(size=(4, 20, 24)) + 3).astype(x)
    rec, streams = encode_grid(field.ravel(), bound, "ans", 3, field.shape, ("dct",))
    assert rec.get("dct_f32", False) is f32
    _assert_bound(field.ravel(), decode_grid(rec, streams.__getitem__, field.size, field.dtype), bound)


def _reader(streams: dict[str, bytes]):
    """Like a container: a missing section is a FormatError."""
    def read(name: str) -> bytes:
        if name not in streams:
            raise FormatError(f"section {name!r} missing")
        return streams[name]
    return read


def test_dct_record_and_streams_checked(monkeypatch):
    field = make_field(n=4, h=9, w=11)
    rec, streams = encode_grid(field.ravel(), Bound("range", 1e-3), "ans", 3, field.shape, ("dct",))
    streams = _reader(streams)
    np.testing.assert_allclose(decode_grid(rec, streams, field.size, field.dtype), field.ravel(),
                               atol=1e-3 * float(field.max() - field.min()))
    for bad in ({"dct_step": -1.0}, {"dct_step": "1"}, {"dct_half": float("nan")}, {"dct_half": None},
                {"dct": [4, 9, 12]}, {"dct_zeros": True}, {"dct_f32": 1}, {"dct_f32": "yes"}):
        with pytest.raises(FormatError):
            decode_grid({**rec, **bad}, streams, field.size, field.dtype)
    n_env = dct_envelope.envelope_ids(field.shape)[1]
    bad_env = encode_ints(np.full(n_env, 101), "ans", 3)
    with pytest.raises(FormatError, match="envelope"):
        decode_grid(rec, lambda k: bad_env if k == "env" else streams(k), field.size, field.dtype)
    monkeypatch.setattr(transform, "MAX_AXIS", 8)
    with pytest.raises(FormatError, match="longer"):
        decode_grid(rec, streams, field.size, field.dtype)
    # int64's minimum: np.abs wraps it to a negative number, so a check by magnitude would let it through
    lowest = encode_ints(np.full(field.size, np.iinfo(np.int64).min), "zstd", 3)
    monkeypatch.undo()
    with pytest.raises(FormatError, match="correction"):
        decode_grid(rec, lambda k: lowest if k == "k" else streams(k), field.size, field.dtype)


def test_dct_declines_blocks_whose_transform_overflows(tmp_path):
    field = np.full((1, 2, 4), 1.5e308)
    field[0, 0, 0] = 0.5
    assert transform.encode_dct(field.ravel(), field.shape, 1e302, "ans", 3) is None  # inf - inf in the sums
    rec, _, cols = _dct_file(field, tmp_path, Bound("abs", 1e302))
    assert "dct" not in cols[0]
    _assert_bound(field.ravel(), rec.ravel(), Bound("abs", 1e302))


def test_dct_declines_long_axes_and_bounds_below_rounding(monkeypatch):
    field = make_field(n=2, h=9, w=40)
    monkeypatch.setattr(transform, "MAX_AXIS", 32)
    assert transform.encode_dct(field.ravel(), field.shape, 1e-3, "ans", 3) is None
    monkeypatch.undo()
    tiny = float(np.abs(field).max()) * 4e-7  # within a few float32 roundings of the values
    assert transform.encode_dct(field.ravel(), field.shape, tiny, "ans", 3) is None
    rec, _ = encode_grid(field.ravel(), Bound("abs", tiny), "ans", 3, field.shape, ("dct",))
    assert "dct" not in rec  # the grid's Lorenzo coding takes over


def test_dct_is_smaller_than_the_spline_on_turbulence(tmp_path):
    from baler_core.sim import cfd

    field = cfd.simulate_decaying_turbulence(n_frames=8, size=64)
    bound = Bound("range", 1e-3)
    rec, dct_file, _ = _dct_file(field, tmp_path, bound)
    _assert_bound(field.ravel(), rec.ravel(), bound)
    spline = tmp_path / "s.baler"
    compress_field(field, None, spline, CompressionOptions(bounds=BoundSpec(bound), field_predictor="spline"))
    assert dct_file.stat().st_size < 0.9 * spline.stat().st_size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 17, 4), (5, 40, 33), (1, 1, 9), (2, 70, 130), (600,), (4, 3, 20, 18)])
def test_compiled_transform_coder_matches_numpy(monkeypatch, shape, dtype):
    """Coding and decoding with the compiled passes (``jit`` active: indices, corrections, envelope levels and
    grouping; coefficients put in place, scaled and range-checked, then corrections and exact zeros) give the
    very bytes and bits of the numpy path, for blocks whose axes do and do not divide into the envelope blocks,
    with signed zeros, in float32 and float64."""
    from baler_core.coding import jit

    if jit.module("transform_kernels") is None:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(sum(shape))
    field = (np.cumsum(rng.normal(size=shape), axis=-1) * 3 + 100).astype(dtype)
    flat = field.reshape(-1)
    flat[rng.choice(flat.size, 5, replace=False)] = 0.0
    flat[rng.choice(flat.size, 5, replace=False)] = -0.0
    coded = {}
    for active in (False, True):  # the compiled encoder writes the very same streams
        monkeypatch.setattr(jit, "_active", active)
        coded[active] = encode_grid(field.ravel(), Bound("range", 1e-3), "ans", 3, field.shape, ("dct",))
    assert coded[False] == coded[True]
    rec, streams = coded[True]
    assert "dct" in rec and rec["dct_zeros"] is True
    assert rec.get("dct_f32", False) is (dtype == np.float32)  # both inverse transforms are compared
    ids, _ = dct_envelope.envelope_ids(shape)
    assert np.array_equal(dct_envelope.envelope_sizes(shape), np.bincount(ids))
    got = {}
    for active in (False, True):
        monkeypatch.setattr(jit, "_active", active)
        got[active] = decode_grid(rec, streams.__getitem__, field.size, field.dtype)
    assert got[True].dtype == field.dtype
    uint = np.uint32 if dtype == np.float32 else np.uint64
    assert np.array_equal(got[False].view(uint), got[True].view(uint))
    assert np.array_equal(np.signbit(got[True]), np.signbit(flat))


def test_compiled_transform_decoder_refuses_out_of_range_values(monkeypatch):
    """A coefficient or a correction beyond the format's limit is a malformed file on both paths."""
    from baler_core.coding import jit

    if jit.module("transform_kernels") is None:
        pytest.skip("numba is not installed")
    field = (np.cumsum(np.random.default_rng(3).normal(size=(4, 20, 20)), axis=-1) + 50).astype(np.float32)
    monkeypatch.setattr(dct_contexts, "SCHEMES", ((0, 0),))  # streams cc<level>, counted by the envelope
    rec, streams = encode_grid(field.ravel(), Bound("range", 1e-3), "ans", 3, field.shape, ("dct",))
    sizes = dct_envelope.envelope_sizes(field.shape)
    per_level = np.bincount(decode_ints(streams["env"], sizes.size), weights=sizes).astype(int)
    level = int(np.flatnonzero(per_level)[0])
    for name, n in (("k", field.size), (f"cc{level}", per_level[level])):
        bad = dict(streams)
        bad[name] = encode_ints(np.full(n, 2**41, dtype=np.int64), "ans", 3)
        for active in (False, True):
            monkeypatch.setattr(jit, "_active", active)
            with pytest.raises(FormatError, match="out of range"):
                decode_grid(rec, bad.__getitem__, field.size, field.dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_bound_check_finds_the_same_misses(monkeypatch, dtype):
    """The compiled bound check of the transform coder flags the very values numpy flags: those beyond the bound
    less the margin (or not finite) and exact zeros that come back with the other sign."""
    from baler_core.coding import jit

    if jit.module("transform_kernels") is None:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(11)
    x = rng.normal(size=5000).astype(dtype)
    x[:40] = 0.0
    x[40:80] = -0.0
    out = (x + rng.uniform(-2e-3, 2e-3, size=x.size)).astype(dtype)
    out[:20], out[40:60] = -0.0, 0.0  # sign flips of exact zeros
    out[100] = np.inf
    got = {}
    for active in (False, True):
        monkeypatch.setattr(jit, "_active", active)
        got[active] = transform.misses(x, out, 1e-3)
    assert 100 in got[False] and set(range(20)) <= set(got[False]) and 45 in got[False]
    assert np.array_equal(got[False], got[True])


@pytest.fixture(params=[False, True], ids=["numpy", "compiled"])
def decoder(request, monkeypatch) -> bool:
    """Run the test with the numpy passes and with the compiled ones (``jit`` active; skipped without numba)."""
    from baler_core.coding import jit

    if request.param and jit.module("transform_kernels") is None:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(jit, "_active", request.param)
    return request.param


def _dense_corrections(rec: dict, streams: dict, n: int) -> np.ndarray:
    return dct_corrections.read_corrections(rec, streams.__getitem__, n).astype(np.int64)


def _both_forms(rec: dict, streams: dict, n: int) -> tuple[tuple[dict, dict], tuple[dict, dict]]:
    """A ``dct`` block's record and streams with its corrections dense (``k``) and sparse (``dct_k``), whichever
    form the coder chose."""
    assert "dct" in rec
    k = _dense_corrections(rec, streams, n)
    nz = np.flatnonzero(k)
    base = {key: v for key, v in streams.items() if key not in ("k", "kgap", "kval")}
    plain = {key: v for key, v in rec.items() if key != "dct_k"}
    dense = (plain, {**base, "k": encode_ints(k, "ans", 3)})
    gaps = encode_ints(np.diff(nz, prepend=-1) - 1, "ans", 3)
    sparse = ({**plain, "dct_k": int(nz.size)}, {**base, "kgap": gaps, "kval": encode_ints(k[nz], "ans", 3)})
    return dense, sparse


def _dct_block(frames: int, size: int) -> tuple[np.ndarray, dict, dict]:
    from baler_core.sim import cfd

    field = cfd.simulate_decaying_turbulence(n_frames=frames, size=size).astype(np.float32)
    rec, streams = encode_grid(field.ravel(), Bound("range", 1e-3), "ans", 3, field.shape, ("dct",))
    return field, rec, streams


def test_sparse_corrections_rebuild_the_very_values_of_dense_ones(decoder):
    """The two forms of a block's corrections (format 1.13) decode to the same bits, compiled or not."""
    field, rec, streams = _dct_block(6, 48)
    (rec_d, st_d), (rec_s, st_s) = _both_forms(rec, streams, field.size)
    assert rec_s["dct_k"] > 0
    got_d = decode_grid(rec_d, st_d.__getitem__, field.size, field.dtype)
    got_s = decode_grid(rec_s, st_s.__getitem__, field.size, field.dtype)
    assert np.array_equal(got_d.view(np.uint32), got_s.view(np.uint32))
    _assert_bound(field.ravel(), got_s, Bound("range", 1e-3))


def test_sparse_corrections_are_chosen_where_smaller():
    """Turbulence at range 1e-3 needs a correction for about 1 % of its values: a block of 262k values stores
    the runs of zeros and the nonzero values, fewer bytes than a value for every value; a small block, where
    the runs' table weighs more, keeps one stream. Every value comes back within the bound."""
    for frames, size, sparse in ((16, 128, True), (8, 64, False)):
        field, rec, streams = _dct_block(frames, size)
        assert ("dct_k" in rec) is sparse and ("k" in streams) is not sparse
        (_, st_d), (_, st_s) = _both_forms(rec, streams, field.size)
        assert (len(st_s["kgap"]) + len(st_s["kval"]) < len(st_d["k"])) is sparse
        _assert_bound(field.ravel(), decode_grid(rec, streams.__getitem__, field.size, field.dtype),
                      Bound("range", 1e-3))


def test_dense_corrections_stay_one_stream():
    """White noise under a tight bound corrects a large share of its values: one value for every value stays."""
    field = np.random.default_rng(5).normal(size=(8, 40, 48)).astype(np.float32)
    rec, streams = encode_grid(field.ravel(), Bound("range", 1e-5), "ans", 3, field.shape, ("dct",))
    assert "dct" in rec and "k" in streams and "dct_k" not in rec
    assert np.count_nonzero(_dense_corrections(rec, streams, field.size)) > field.size // 10


def test_malformed_sparse_corrections_are_refused(decoder):
    """A count that is not a count, positions beyond the block: a FormatError, on both decoders."""
    field, rec, streams = _dct_block(4, 32)
    _, (rec, streams) = _both_forms(rec, streams, field.size)
    nk = rec["dct_k"]
    assert nk > 0
    for bad in (-1, True, field.size + 1, "3"):
        with pytest.raises(FormatError, match="dct_k"):
            decode_grid({**rec, "dct_k": bad}, streams.__getitem__, field.size, field.dtype)
    far = {**streams, "kgap": encode_ints(np.full(nk, field.size // nk + 2), "ans", 3)}
    with pytest.raises(FormatError, match="positions out of range"):
        decode_grid(rec, far.__getitem__, field.size, field.dtype)


def test_compiled_indices_widen_where_int32_does_not_hold_them():
    """The compiled quantizer writes int32 indices and reports where one does not fit (the encoder then writes
    int64), refuses magnitudes beyond the format's limit, and its envelope-only first pass sums what
    ``envelope_energy`` sums over the written indices."""
    from baler_core.coding import jit
    from baler_core.coding.predictors.dct_corrections import MAX_COEF

    kernels = jit.module("transform_kernels")
    if kernels is None:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(3)
    shape = np.array([5, 12, 9], dtype=np.int64)
    cut = dct_envelope.envelope_cut(tuple(shape))
    coef = rng.laplace(0, 50, int(shape.prod())).astype(np.float32)
    for big in (False, True):
        if big:
            coef[7] = np.float32(-3e9)  # beyond int32 at step 1
        want = np.copysign(np.floor(np.abs(coef) + np.float32(0.4)), coef).astype(np.int64)  # numpy's way
        narrow = np.empty(coef.size, dtype=np.int32)
        assert kernels.quantize(coef, np.float32(1.0), np.float32(0.4), MAX_COEF, narrow) == (2 if big else 0)
        wide = np.empty(coef.size, dtype=np.int64)
        assert kernels.quantize(coef, np.float32(1.0), np.float32(0.4), MAX_COEF, wide) == 0
        assert np.array_equal(wide, want) and (big or np.array_equal(narrow, want))
        energy, ok = kernels.quantized_energy(coef, np.float32(1.0), np.float32(0.4), MAX_COEF, shape, cut)
        assert ok and np.array_equal(energy, kernels.envelope_energy(wide, shape, cut))
    assert kernels.quantize(coef, np.float32(1e-6), np.float32(0.4), MAX_COEF, wide) == 1
    assert not kernels.quantized_energy(coef, np.float32(1e-6), np.float32(0.4), MAX_COEF, shape, cut)[1]
    offsets = rng.uniform(0.2, 0.5, int(np.prod(-(-shape // cut)))).astype(np.float32)
    energy = np.zeros(offsets.size)
    assert kernels.quantize_blocks(coef, np.float32(1.0), offsets, shape, cut, MAX_COEF, wide, energy) == 0
    assert np.array_equal(energy, kernels.envelope_energy(wide, shape, cut))  # summed as the indices are written
    ids, _ = dct_envelope.envelope_ids(tuple(shape))
    assert np.array_equal(wide, np.copysign(np.floor(np.abs(coef) + offsets[ids]), coef).astype(np.int64))
    scaled = np.empty(wide.size, dtype=np.float32)
    kernels.scale32(wide, 0.37, scaled)
    assert np.array_equal(scaled, (wide * 0.37).astype(np.float32))


def test_the_dense_corrections_estimate_from_the_sparse_histogram(monkeypatch):
    """The dense correction stream's size is estimated from the nonzero values' histogram and the count of
    zeros: the stream's own summary, so the same estimates (and choice) as from the stream itself."""
    from baler_core.coding import jit
    from baler_core.coding.entropy import plan_ints
    from baler_core.coding.estimates import merged, summary_of

    rng = np.random.default_rng(9)
    forms = set()
    for active in (False, True):
        monkeypatch.setattr(jit, "_active", active and jit.module("rans_kernels") is not None)
        for share, scale, run in ((0.01, 1, 1), (0.02, 30, 4), (0.002, 8, 4), (0.1, 2, 1)):
            k = np.zeros(200_000, dtype=np.int32)  # scattered, or in runs of neighbours (a transform's large
            runs = rng.choice(k.size // run - 1, int(share * k.size) // run, replace=False) * run  # errors)
            at = (runs[:, None] + np.arange(run)).ravel()
            k[at] = np.where(rng.random(at.size) < 0.5, -1, 1) * rng.geometric(1 / scale, at.size)
            nz = np.flatnonzero(k)
            got, want = merged([summary_of(k[nz]), (0, 0, np.array([k.size - nz.size]))]), summary_of(k)
            assert got[:2] == want[:2] and np.array_equal(got[2], want[2])
            streams = dct_corrections.correction_streams(k, {}, "ans", 3)
            forms.add("kval" in streams)
            assert all(s.size() == plan_ints(s.values, "ans", 3)[0] for s in streams.values())
    assert forms == {True, False}
