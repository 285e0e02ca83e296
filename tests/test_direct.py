"""Model-free coding (``-m none``, the ``grid`` mode): bounds on every value, exact integers, dtypes, no decoder
needed, thread-count independence, multi-block files, and the entropy coder's narrow/unsigned streams."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import make_field, make_jets
from test_codec import _assert_bound

from baler_core.codec import CompressionOptions, compress_field, compress_table, decompress, file_info
from baler_core.coding.entropy import decode_ints, encode_ints
from baler_core.coding.error_bounds import Bound, BoundSpec, parse_bound
from baler_core.coding.grid import encode_grid
from baler_core.errors import InputError
from baler_core.format.container import ContainerReader


def _table() -> pd.DataFrame:
    df = make_jets(5000, seed=11)
    df["pt64"] = df["pt"].astype(np.float64) * 1.000001
    df["big_int"] = np.arange(len(df), dtype=np.int64) * (2**40)
    df["flagb"] = df["frac"] > 0.5
    df["offset"] = (1e4 + df["eta"]).astype(np.float32)  # far from zero: a grid relative to its origin
    df.loc[3, "pt"] = np.nan
    df.loc[4, "eta"] = np.inf
    df.loc[5, "mass"] = -np.inf
    df.loc[6, "phi"] = -0.0
    df.loc[7, "pt64"] = np.nan
    return df


def _free(df, tmp_path, bounds, **kw):
    out = tmp_path / "free.baler"
    compress_table([df], None, out, CompressionOptions(bounds=bounds, **kw))
    return decompress(out), out


@pytest.mark.parametrize("spec", ["range=1e-3", "abs=0.01", "rel=4.9e-4", "range=1e-6"])
def test_model_free_table_keeps_every_bound(tmp_path, spec):
    df = _table()
    bound = parse_bound(spec)
    rec, out = _free(df, tmp_path, BoundSpec(bound), block_rows=1500)  # 4 blocks
    assert list(rec.columns) == list(df.columns)
    assert rec.dtypes.to_dict() == df.dtypes.to_dict()
    for c in df.columns:
        if c in ("nCharged", "nNeutral", "flag", "big_int", "flagb"):
            np.testing.assert_array_equal(rec[c].to_numpy(), df[c].to_numpy())  # integers exact
        else:
            _assert_bound(df[c].to_numpy(), rec[c].to_numpy(), bound)
    assert np.signbit(rec.loc[6, "phi"])
    info = file_info(out)
    assert info["decoder_bytes"] == 0 and info["model"]["used"] is False
    modes = {c["mode"] for blk in json.loads(_header_json(out))["blocks"] for c in blk["columns"]}
    if bound.kind in ("abs", "range"):
        assert modes & {"grid", "dgrid"}  # the fast path ran (and the general one for the int64 and bool columns)
    assert info["ratio_without_decoder"] > 1.5


def _header_json(path) -> str:
    with ContainerReader(path) as rd:
        return json.dumps(rd.header)


def test_model_free_output_does_not_depend_on_threads(tmp_path):
    df = _table()
    spec = BoundSpec(Bound("range", 1e-3))
    a, b = tmp_path / "a.baler", tmp_path / "b.baler"
    compress_table([df], None, a, CompressionOptions(bounds=spec, threads=1, block_rows=2000))
    compress_table([df], None, b, CompressionOptions(bounds=spec, threads=2, block_rows=2000))
    assert a.read_bytes() == b.read_bytes()
    pd.testing.assert_frame_equal(decompress(a, threads=1), decompress(b, threads=2))


def test_grid_beats_lossless_zstd(tmp_path):
    """At a 1e-3 range bound the grid stores far fewer bytes than lossless zstd -19 of the same floats."""
    import zstandard

    df = make_jets(20000, seed=3)[["pt", "eta", "phi", "mass"]]
    spec = BoundSpec(Bound("range", 1e-3))
    _, out = _free(df, tmp_path, spec)
    raw = df.to_numpy().tobytes()
    lossless = len(raw) / len(zstandard.ZstdCompressor(level=19).compress(raw))
    assert file_info(out)["ratio_without_decoder"] > 2 * lossless


def test_grid_declines_what_it_cannot_code():
    x = np.array([1.0, np.nan, 2.0], np.float32)
    assert encode_grid(x, Bound("range", 1e-3), "zstd", 3) is None  # NaN: general path
    assert encode_grid(np.arange(5, dtype=np.int32), Bound("range", 1e-3), "zstd", 3) is None  # not a float
    assert encode_grid(np.ones(5, np.float32), Bound("rel", 1e-3), "zstd", 3) is None
    tiny = np.array([0.0, 1e30], np.float32)  # 1e-9 of the range is far finer than 2**22 steps
    assert encode_grid(tiny, Bound("range", 1e-9), "zstd", 3) is None


def test_model_free_needs_a_bound(tmp_path):
    df = make_jets(100)
    with pytest.raises(InputError, match="error bound"):
        compress_table([df], None, tmp_path / "x.baler", CompressionOptions(bounds=BoundSpec()))
    with pytest.raises(InputError, match="error bound"):
        spec = BoundSpec(Bound("range", 1e-3), {"pt": Bound("none")})
        compress_table([df], None, tmp_path / "x.baler", CompressionOptions(bounds=spec))
    with pytest.raises(InputError, match="error bound"):
        compress_field(make_field(), None, tmp_path / "f.baler", CompressionOptions(bounds=BoundSpec()))


@pytest.mark.parametrize("spec", ["range=1e-3", "abs=1e-4", "rel=1e-3"])
def test_model_free_field_round_trip(tmp_path, spec):
    field = make_field(n=20, h=33, w=47)
    field[2, 3, 4] = np.nan
    bound = parse_bound(spec)
    out = tmp_path / "f.baler"
    compress_field(field, None, out, CompressionOptions(bounds=BoundSpec(bound), block_rows=500))
    rec = decompress(out)
    assert rec.shape == field.shape and rec.dtype == field.dtype
    with ContainerReader(out) as rd:  # 16 x 500 values hold 5 frames of 1,551: four blocks, coded two at a time
        assert [b["rows"] for b in rd.header["blocks"]] == [5, 5, 5, 5]
    _assert_bound(field.ravel(), rec.ravel(), bound)
    info = file_info(out)
    assert info["decoder_bytes"] == 0
    if bound.kind != "rel":  # Lorenzo differences of a smooth field code far below raw floats
        assert info["ratio_without_decoder"] > 3


def test_model_free_cli_round_trip(tmp_path):
    df = _table().drop(columns=["big_int"])
    src, out, back = tmp_path / "t.parquet", tmp_path / "t.baler", tmp_path / "back.parquet"
    df.to_parquet(src)
    run = [sys.executable, "-m", "baler_core.cli"]
    res = subprocess.run([*run, "compress", str(src), "-m", "none", "-o", str(out), "--error-bound", "range=1e-3",
                          "--entropy", "zstd", "--level", "1", "--threads", "2"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["decoder_bytes"] == 0
    res = subprocess.run([*run, "decompress", str(out), "-o", str(back)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rec = pd.read_parquet(back)
    for c in ("pt", "eta", "offset"):
        _assert_bound(df[c].to_numpy(), rec[c].to_numpy(), Bound("range", 1e-3))
    res = subprocess.run([*run, "compress", str(src), "-m", "none", "-o", str(out)], capture_output=True, text=True)
    assert res.returncode == 2 and "error bound" in res.stderr


@pytest.mark.parametrize("values", [
    np.array([0, 1, 255, 7], np.int64), np.array([0, 300, 65535], np.int32), np.array([5, 2**31 - 1], np.int64),
    np.array([0, 2**40, 3], np.int64), np.array([-3, 0, 200], np.int32), np.array([-(2**40), 5], np.int64),
    np.array([-128, 127], np.int32), np.array([-(2**31), 2**31 - 1], np.int32),
])
@pytest.mark.parametrize("method", ["zstd", "ans", "auto"])
def test_integer_streams_narrow_and_wide_agree(values, method):
    x = np.tile(values, 50)
    blob = encode_ints(x, method, 3)
    wide = decode_ints(blob, x.size)
    narrow = decode_ints(blob, x.size, narrow=True)
    assert wide.dtype == np.int64
    np.testing.assert_array_equal(wide, x)
    np.testing.assert_array_equal(narrow.astype(np.int64), x)


def test_model_free_cli_field_streams_npy(tmp_path):
    """A .npy field is read frame block by frame block and written back block by block, shape and dtype kept."""
    from baler_core.io.fields import NpyFrames, open_field

    field = make_field(n=70, h=20, w=30).astype(np.float64)
    src, out, back = tmp_path / "f.npy", tmp_path / "f.baler", tmp_path / "back.npy"
    np.save(src, field)
    frames = open_field(src)
    assert isinstance(frames, NpyFrames) and frames.shape == field.shape
    np.testing.assert_array_equal(frames[5:9], field[5:9])
    run = [sys.executable, "-m", "baler_core.cli"]
    res = subprocess.run([*run, "compress", str(src), "-m", "none", "-o", str(out), "--error-bound", "abs=1e-3"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([*run, "decompress", str(out), "-o", str(back)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rec = np.load(back)
    assert rec.shape == field.shape and rec.dtype == np.float64
    assert np.abs(rec - field).max() <= 1e-3


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 3, 5), (7, 1, 9), (17, 33, 65), (3, 4), (130,)])
def test_interpolation_transform_is_exact(shape):
    from baler_core.coding.predictors.interp import interp_forward, interp_inverse, interp_level_sizes

    q = np.random.default_rng(len(shape)).integers(0, 5000, shape)
    parts = interp_forward(q)
    assert [p.size for p in parts] == interp_level_sizes(shape)
    assert sum(p.size for p in parts) == q.size
    np.testing.assert_array_equal(interp_inverse(parts, shape), q)


@pytest.mark.parametrize("predictor", ["lorenzo", "interp", "spline", "dct", "auto"])
def test_field_predictors_keep_the_bound_and_auto_is_smallest(tmp_path, predictor):
    field = make_field(n=24, h=40, w=70)
    field[3, 4, 5] = -0.0
    sizes = {}
    for p in ("lorenzo", "spline", predictor):
        out = tmp_path / f"{p}.baler"
        compress_field(field, None, out, CompressionOptions(bounds=BoundSpec(Bound("range", 1e-3)), entropy="ans",
                                                            field_predictor=p))
        rec = decompress(out)
        _assert_bound(field.ravel(), rec.ravel(), Bound("range", 1e-3))
        sizes[p] = out.stat().st_size
    header = json.loads(_header_json(tmp_path / f"{predictor}.baler"))
    used = {k.replace("split_", "") for blk in header["blocks"] for k in ("lorenzo", "interp", "split_spline", "dct")
            if k in blk["columns"][0]}
    assert np.signbit(decompress(tmp_path / f"{predictor}.baler")[3, 4, 5])
    if predictor != "auto":
        assert used == {predictor}
    else:
        assert sizes["auto"] <= min(sizes["lorenzo"], sizes["spline"])
        assert sizes["spline"] < sizes["lorenzo"]  # a smooth field: interpolation from reconstructed values wins


def test_multi_block_file_decompresses_to_root_block_by_block(tmp_path):
    from baler_core.cli.main import main
    from baler_core.io.tables import read_table, write_root_table

    df = make_jets(2500, seed=9)
    src, out, back = tmp_path / "in.root", tmp_path / "x.baler", tmp_path / "back.root"
    write_root_table(df, src)  # baskets of 100k entries
    compress_table([read_table(src, tree="events")], None, out,
                   CompressionOptions(bounds=BoundSpec(Bound("range", 1e-3)), block_rows=1000))  # 3 blocks
    assert main(["decompress", str(out), "-o", str(back)]) == 0
    rec = read_table(back, tree="events")
    assert len(rec) == len(df) and list(rec.columns) == list(df.columns)
    np.testing.assert_array_equal(rec["nNeutral"].to_numpy(), df["nNeutral"].to_numpy())
    _assert_bound(df["pt"].to_numpy(), rec["pt"].to_numpy(), Bound("range", 1e-3))


@pytest.mark.parametrize("spec", ["abs=0.4", "range=1e-3"])
def test_wide_integer_valued_columns_stay_exact(tmp_path, spec):
    """Integer-valued floats far from zero (run numbers) and wider than the grid's exact span come back exact."""
    df = pd.DataFrame({"run": (5_000_000 + np.arange(1000) % 37).astype(np.float64),
                       "wide": (np.arange(1000) * 40_000.0 - 2e7).astype(np.float64),
                       "f32": (2**23 + np.arange(1000) % 5 * 2).astype(np.float32)})
    rec, _ = _free(df, tmp_path, BoundSpec(parse_bound(spec)))
    for c in df.columns:
        np.testing.assert_array_equal(rec[c].to_numpy(), df[c].to_numpy(), err_msg=c)


def test_span_beyond_float64_is_stored(tmp_path):
    df = pd.DataFrame({"x": [-1.7e308, 1.7e308, 0.0, 1.0]})
    rec, _ = _free(df, tmp_path, BoundSpec(Bound("abs", 1e-3)))
    assert np.all(np.abs(rec["x"].to_numpy() - df["x"].to_numpy()) <= 1e-3)


def test_hostile_block_shape_is_refused_before_allocation():
    from baler_core.coding.predictors.base import block_shape
    from baler_core.errors import FormatError

    n = 1 << 20
    for shape in ([n, (1 << 44) + 1], [1 << 32, 1 << 32, 1 << 20], [0, 5], [n * 2]):
        with pytest.raises(FormatError):
            block_shape({"interp": shape}, "interp", n)
    assert block_shape({"interp": [4, 16, 16384]}, "interp", n) == (4, 16, 16384)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 1, 9), (5, 1, 1), (3, 17, 4), (2, 33, 65)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spline_round_trip_odd_shapes(tmp_path, shape, dtype):
    rng = np.random.default_rng(sum(shape))
    field = (np.cumsum(rng.normal(size=shape), axis=-1) * 3 + 100).astype(dtype)
    out = tmp_path / "s.baler"
    bound = Bound("abs", 0.01)
    compress_field(field, None, out, CompressionOptions(bounds=BoundSpec(bound), field_predictor="spline",
                                                        block_rows=64))
    rec = decompress(out)
    assert rec.shape == field.shape and rec.dtype == field.dtype
    _assert_bound(field.ravel(), rec.ravel(), bound)


def test_spline_record_checked(tmp_path):
    from baler_core.coding.grid import decode_grid
    from baler_core.errors import FormatError

    x = make_field(n=4, h=9, w=11)
    rec, streams = encode_grid(x.ravel(), Bound("range", 1e-3), "ans", 3, x.shape, ("spline",))
    assert "split_spline" in rec
    np.testing.assert_allclose(decode_grid(rec, streams.__getitem__, x.size, x.dtype), x.ravel(),
                               atol=1e-3 * float(x.max() - x.min()))
    for bad in ({"anchor": "x"}, {"anchor": True}, {"step": -1.0}, {"split_spline": [4, 9, 12]},
                {"spline_order": [0, 0, 1]}, {"spline_order": [2, "a", 0]}, {"spline_order": [0, 1]},
                {"split_axes": 4}, {"split_axes": "1"}, {"split_axes": None}):
        with pytest.raises(FormatError):
            decode_grid({**rec, **bad}, streams.__getitem__, x.size, x.dtype)


@pytest.mark.parametrize("order", [(0, 1, 2), (1, 2, 0), (2, 0, 1)])
@pytest.mark.parametrize("naxes", [0, 2])
def test_spline_axis_orders_invert(order, naxes):
    from baler_core.coding.predictors.spline import split_spline

    x = make_field(n=9, h=14, w=21).astype(np.float64)
    parts, rec = split_spline(x.shape, 0.002, order, naxes, float(x[0, 0, 0]), x=x)
    back = split_spline(x.shape, 0.002, order, naxes, float(x[0, 0, 0]), parts=parts)[1]
    np.testing.assert_array_equal(back, rec)
    assert np.abs(rec - x).max() <= 0.001 + 1e-12


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 1, 9), (5, 1, 1), (3, 17, 4), (9, 14, 21), (40,), (6, 7)])
@pytest.mark.parametrize("naxes", [0, 1, 2])
def test_split_spline_decodes_what_it_encodes(shape, naxes):
    from baler_core.coding.predictors.spline import split_spline, split_spline_sizes

    rng = np.random.default_rng(len(shape) + naxes)
    x = np.cumsum(rng.normal(size=shape), axis=-1) * 0.1
    order = tuple(range(len(shape)))[::-1]
    parts, rec = split_spline(shape, 0.002, order, naxes, float(x.flat[0]), x=x)
    assert {k: v.size for k, v in parts.items()} == split_spline_sizes(shape, order, naxes)
    assert sum(v.size for v in parts.values()) == x.size - 1
    _, back = split_spline(shape, 0.002, order, naxes, float(x.flat[0]), parts=parts)
    np.testing.assert_array_equal(back, rec)
    assert np.abs(rec - x).max() <= 0.001 + 1e-12


def test_split_spline_beats_the_plain_spline_on_a_smooth_field():
    """Neighbouring lines of a smooth field err alike: correcting by the neighbours' errors codes smaller."""
    from baler_core.coding.predictors.spline import split_spline

    x = make_field(n=16, h=64, w=96).astype(np.float64)
    def coded(naxes: int) -> int:
        parts = split_spline(x.shape, 0.002, (0, 1, 2), naxes, x[0, 0, 0], x=x)[0]
        return sum(len(encode_ints(p, "ans")) for p in parts.values())

    plain, split = coded(0), coded(1)
    assert split < 0.95 * plain


def test_plain_spline_files_still_decode():
    """Blocks written with the plain spline (format 1.1 and 1.2: no correction axes, one stream s<level> per
    level) keep decoding."""
    from baler_core.coding.grid import decode_grid
    from baler_core.coding.predictors.spline import split_spline

    x = make_field(n=4, h=9, w=11)
    step = 0.002 * float(np.ptp(x)) * 0.999
    coded, _ = split_spline(x.shape, step, (1, 2, 0), 0, float(x[0, 0, 0]), x=x)
    parts = [coded[f"t{i}.0"] for i in range(len(coded))]
    rec = {"mode": "grid", "origin": float(x.min()), "step": step, "range": float(np.ptp(x)),
           "spline": list(x.shape), "spline_order": [1, 2, 0], "anchor": float(x[0, 0, 0]), "n_exceptions": 0}
    streams = {f"s{i}": encode_ints(p, "ans") for i, p in enumerate(parts)}
    got = decode_grid(rec, streams.__getitem__, x.size, x.dtype)
    assert np.abs(got.astype(np.float64) - x.ravel()).max() <= 0.001 * float(np.ptp(x)) * (1 + 1e-5)


def test_a_sample_builds_the_grid_its_block_would_have(monkeypatch):
    """A large field block's sample computes its grid indices and exceptions from its own values, only where a
    predictor asks: they are the block's grid cut to the sample (the grid is value by value), and a block the
    transform codes never builds its whole grid."""
    from baler_core.coding import grid
    from baler_core.coding.predictors import AUTO_PREDICTORS, base

    field = make_field(n=96, h=96, w=64, seed=2)  # above SAMPLE_FROM values
    x = field.reshape(-1)
    x[::97], x[5::89] = -0.0, 0.0  # signed zeros the grid rebuilds with the other sign: exceptions
    p = grid._grid(x, Bound("range", 1e-4))
    block = base.GridBlock(x, field.shape, p["origin"], p["step"], p["tol"], True, "ans", 3)
    sample = grid.sample_block(block)
    assert sample is not None and "_grid" not in block.__dict__
    q, idx = base.grid_indices(x, p["origin"], p["step"], p["tol"], True)
    assert idx.size > 0
    region = tuple(slice((n - m) // 2, (n - m) // 2 + m) for n, m in zip(field.shape, sample.shape))
    mask = np.zeros(x.size, dtype=bool)
    mask[idx] = True
    assert np.array_equal(sample.q, q.reshape(field.shape)[region].ravel())
    assert sample.n_exceptions == np.count_nonzero(mask.reshape(field.shape)[region]) > 0
    assert "_grid" not in block.__dict__
    built = []
    real = base.grid_indices
    monkeypatch.setattr(base, "grid_indices", lambda v, *a: built.append(v.size) or real(v, *a))
    rec, _ = encode_grid(x, Bound("range", 1e-4), "ans", 3, field.shape, ("dct",))
    assert "dct" in rec and built == []  # the transform codes the values themselves
    rec, _ = encode_grid(x, Bound("range", 1e-4), "ans", 3, field.shape, AUTO_PREDICTORS)
    assert built and (x.size in built) == ("dct" not in rec and "spline" not in rec)
