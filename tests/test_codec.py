"""Round trips through compress/decompress: shapes, names, dtypes, exact integers and every bound on every value."""

import numpy as np
import pandas as pd
import pytest
from conftest import make_field, make_jets

from baler_core.codec import CompressionOptions, compress_field, compress_table, decompress, file_info
from baler_core.coding.error_bounds import Bound, BoundSpec, parse_bound
from baler_core.errors import InputError, ModelMismatchError
from baler_core.models.store import load_model


def _roundtrip(df, bundle, tmp_path, bounds, **kw):
    out = tmp_path / "x.baler"
    compress_table([df], bundle, out, CompressionOptions(bounds=bounds, **kw))
    return decompress(out, bundle), out


def _assert_bound(orig: np.ndarray, rec: np.ndarray, bound: Bound) -> None:
    a, b = orig.astype(np.float64), rec.astype(np.float64)
    fin = np.isfinite(a)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(a[np.isinf(a)], b[np.isinf(a)])
    err = np.abs(a[fin] - b[fin])
    if bound.kind == "abs":
        assert np.all(err <= bound.value)
    elif bound.kind == "range":
        assert np.all(err <= bound.value * (a[fin].max() - a[fin].min()))
    elif bound.kind == "rel":
        assert np.all(err <= bound.value * np.abs(a[fin]))


@pytest.mark.parametrize("spec", ["abs=0.01", "range=1e-3", "rel=4.9e-4", "rel=1e-2", "range=1e-5"])
def test_table_bounds_hold_on_every_value(jets, jets_model, tmp_path, spec):
    _, bundle = jets_model
    df = make_jets(2000, seed=5)  # rows the model never saw
    df.loc[3, "pt"] = np.nan
    df.loc[4, "eta"] = np.inf
    df.loc[5, "eta"] = -np.inf
    df.loc[6, "phi"] = -0.0
    bound = parse_bound(spec)
    rec, _ = _roundtrip(df, bundle, tmp_path, BoundSpec(bound))
    assert list(rec.columns) == list(df.columns)
    assert rec.dtypes.to_dict() == df.dtypes.to_dict()
    assert len(rec) == len(df)
    for c in df.columns:
        if c in ("nCharged", "nNeutral", "flag"):
            np.testing.assert_array_equal(rec[c].to_numpy(), df[c].to_numpy())  # integers exact
        else:
            _assert_bound(df[c].to_numpy(), rec[c].to_numpy(), bound)
    assert np.signbit(rec.loc[6, "phi"])


def test_no_bound_is_plain_autoencoder_but_integers_exact(jets, jets_model, tmp_path):
    _, bundle = jets_model
    rec, out = _roundtrip(jets, bundle, tmp_path, BoundSpec())
    np.testing.assert_array_equal(rec["nNeutral"].to_numpy(), jets["nNeutral"].to_numpy())
    assert rec["nNeutral"].dtype == np.int32
    err = np.abs(rec["eta"] - jets["eta"]).max()
    assert 0 < err < 3 * (jets["eta"].max() - jets["eta"].min())  # lossy, not absurd
    info = file_info(out)
    assert info["ratio_without_decoder"] > 1
    assert info["ratio_with_decoder"] < info["ratio_without_decoder"]


def test_per_column_overrides(jets_model, tmp_path):
    _, bundle = jets_model
    df = make_jets(1500, seed=9)
    spec = BoundSpec(Bound("range", 1e-2), {"pt": Bound("rel", 1e-4), "eta": Bound("abs", 1e-5)})
    rec, _ = _roundtrip(df, bundle, tmp_path, spec)
    _assert_bound(df["pt"].to_numpy(), rec["pt"].to_numpy(), spec.columns["pt"])
    _assert_bound(df["eta"].to_numpy(), rec["eta"].to_numpy(), spec.columns["eta"])
    _assert_bound(df["phi"].to_numpy(), rec["phi"].to_numpy(), spec.default)


def test_tighter_bound_costs_more_bytes(jets_model, tmp_path):
    _, bundle = jets_model
    df = make_jets(2000, seed=2)
    sizes = []
    for spec in ("range=1e-2", "range=1e-4"):
        out = tmp_path / f"{spec}.baler"
        compress_table([df], bundle, out, CompressionOptions(BoundSpec(parse_bound(spec))))
        sizes.append(out.stat().st_size)
    assert sizes[0] < sizes[1]


def test_chunks_give_several_blocks(jets_model, tmp_path):
    _, bundle = jets_model
    df = make_jets(2500, seed=4)
    out = tmp_path / "b.baler"
    header = compress_table([df.iloc[:1000], df.iloc[1000:]], bundle, out,
                            CompressionOptions(BoundSpec(Bound("range", 1e-3)), block_rows=700))
    assert [b["rows"] for b in header["blocks"]] == [700, 300, 700, 700, 100]
    rec = decompress(out, bundle)
    _assert_bound(df["mass"].to_numpy(), rec["mass"].to_numpy(), Bound("range", 1e-3))


def test_embedded_decoder_needs_no_model(jets_model, tmp_path):
    path, bundle = jets_model
    out = tmp_path / "e.baler"
    # several blocks: no model-free comparison, so the decoder is used and embedded
    compress_table([make_jets(500, 7)], bundle, out, CompressionOptions(BoundSpec(Bound("abs", 1e-2)), True,
                                                                          block_rows=100))
    rec = decompress(out)  # no model given
    assert len(rec) == 500
    assert file_info(out)["decoder_embedded"]


def test_wrong_model_is_refused(jets, jets_model, tmp_path):
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    path, bundle = jets_model
    out = tmp_path / "w.baler"
    compress_table([jets.iloc[:300]], bundle, out, CompressionOptions(BoundSpec()))
    other, _ = train_dataset(jets, tmp_path / "other.safetensors",
                             ModelConfig(model="dense", latent_dim=4, hidden=[32, 16]),
                             TrainConfig(epochs=1, seed=99, device="cpu"))
    with pytest.raises(ModelMismatchError, match="does not match"):
        decompress(out, other, "other.safetensors")
    with pytest.raises(InputError, match="no decoder embedded"):
        decompress(out)


def test_missing_and_extra_columns_named(jets, jets_model, tmp_path):
    _, bundle = jets_model
    with pytest.raises(InputError, match="missing: mass"):
        compress_table([jets.drop(columns=["mass"])], bundle, tmp_path / "m.baler", CompressionOptions(BoundSpec()))
    with pytest.raises(InputError, match="not trained on: extra"):
        compress_table([jets.assign(extra=1.0)], bundle, tmp_path / "m.baler", CompressionOptions(BoundSpec()))
    assert not (tmp_path / "m.baler").exists()
    assert not list(tmp_path.glob(".*part"))  # no partial files left


def test_column_order_restored(jets, jets_model, tmp_path):
    _, bundle = jets_model
    df = jets[list(jets.columns[::-1])].iloc[:400].reset_index(drop=True)
    rec, _ = _roundtrip(df, bundle, tmp_path, BoundSpec(Bound("range", 1e-3)))
    assert list(rec.columns) == list(df.columns)


@pytest.mark.parametrize("spec", ["range=1e-3", "abs=1e-4"])
def test_field_round_trip_odd_shape(field_model, tmp_path, spec):
    _, bundle = field_model
    field = make_field(7, 37, 53, seed=3)
    out = tmp_path / "f.baler"
    compress_field(field, bundle, out, CompressionOptions(BoundSpec(parse_bound(spec))))
    rec = decompress(out, bundle)
    assert rec.shape == field.shape and rec.dtype == field.dtype
    _assert_bound(field.ravel(), rec.ravel(), parse_bound(spec))
    f64 = field.astype(np.float64)
    compress_field(f64, bundle, out, CompressionOptions(BoundSpec(parse_bound(spec))))
    rec64 = decompress(out, bundle)
    assert rec64.dtype == np.float64
    _assert_bound(f64.ravel(), rec64.ravel(), parse_bound(spec))


def test_field_other_frame_size_works(field_model, tmp_path):
    _, bundle = field_model
    field = make_field(3, 20, 31, seed=1)
    out = tmp_path / "g.baler"
    compress_field(field, bundle, out, CompressionOptions(BoundSpec(Bound("range", 1e-3))))
    assert decompress(out, bundle).shape == (3, 20, 31)


def test_field_lorenzo_path_needs_no_decoder(field_model, tmp_path):
    """When the Lorenzo coder beats the autoencoder on every block, the file decodes without any model."""
    _, bundle = field_model
    y, x = np.mgrid[0:40, 0:60] / 40.0
    field = np.stack([np.sin(3 * x + 0.1 * t) * np.cos(2 * y) for t in range(6)]).astype(np.float32)
    out = tmp_path / "l.baler"
    compress_field(field, bundle, out, CompressionOptions(BoundSpec(Bound("range", 1e-3))))
    info = file_info(out)
    rec = decompress(out, bundle)
    _assert_bound(field.ravel(), rec.ravel(), Bound("range", 1e-3))
    if not info["model"]["used"]:
        assert info["decoder_bytes"] == 0
        np.testing.assert_array_equal(decompress(out), rec)
    assert info["ratio_without_decoder"] > 5


def test_field_without_bound_uses_model_and_records_its_decoder(field_model, tmp_path):
    from baler_core.format.container import ContainerReader
    from baler_core.models.store import sha256_hex

    path, bundle = field_model
    field = make_field(5, 37, 53, seed=8)
    out = tmp_path / "n.baler"
    compress_field(field, bundle, out, CompressionOptions(BoundSpec()))
    with ContainerReader(out) as rd:
        assert rd.header["model"]["used"] is True
        assert rd.header["model"]["decoder_sha256"] == sha256_hex(bundle.decoder_blob())
    rec = decompress(out, load_model(path), str(path))  # a fresh load, as another process would
    assert rec.shape == field.shape and np.all(np.isfinite(rec))


@pytest.mark.parametrize("spec", ["rel=1e-3", "abs=1e-3", "none"])
def test_field_beyond_float32_range_through_the_model(field_model, tmp_path, spec):
    """A float64 value the float32 model overflows on (1e300) once gave a NaN latent scale and a crash while
    writing the header; now its rows get a zero latent and the bound still holds on every value."""
    _, bundle = field_model
    field = make_field(4, 21, 30, seed=5).astype(np.float64)
    field[0, 0, 0] = 1e300
    out = tmp_path / "big.baler"
    compress_field(field, bundle, out, CompressionOptions(BoundSpec(parse_bound(spec))))
    rec = decompress(out, bundle)
    assert rec.shape == field.shape and rec.dtype == np.float64
    if spec != "none":
        _assert_bound(field.ravel(), rec.ravel(), parse_bound(spec))


def test_fields_baler_cannot_give_back_are_refused(field_model, tmp_path):
    """Empty frames, and arrays that are not numpy arrays, are refused up front on both paths."""
    from baler_core.io.fields import read_field

    _, bundle = field_model
    opts = CompressionOptions(BoundSpec(Bound("abs", 1e-3)))
    for model in (None, bundle):
        for shape in ((3, 0, 5), (3, 5, 0)):
            with pytest.raises(InputError, match="at least 1 in every dimension"):
                compress_field(np.zeros(shape, np.float32), model, tmp_path / "e.baler", opts)
    with pytest.raises(InputError, match="numpy array"):
        compress_field([[[1.0]]], None, tmp_path / "e.baler", opts)
    assert not (tmp_path / "e.baler").exists()
    np.save(tmp_path / "frame.npy", np.zeros((4, 5), np.float32))  # would come back as 1 x 4 x 5
    with pytest.raises(InputError, match="1 x H x W"):
        read_field(tmp_path / "frame.npy")
    np.savez(tmp_path / "two.npz", a=np.zeros((1, 2, 2)), b=np.zeros((1, 2, 2)))
    with pytest.raises(InputError, match="field-key; arrays in file: a, b") as err:
        read_field(tmp_path / "two.npz")
    assert "pickle" not in str(err.value)


def test_column_costs_account_for_every_byte(tmp_path):
    """`baler info --columns`: the per-column bytes add up to the file's sections, bits per value follow, and a
    column coded exactly (integers) reports no step."""
    from baler_core.codec import column_costs
    from baler_core.format.container import ContainerReader

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.normal(10, 1, 3000).astype(np.float32), "n": rng.poisson(3, 3000).astype(np.float32)})
    out = tmp_path / "c.baler"
    compress_table([df], None, out, CompressionOptions(BoundSpec(parse_bound("rel=1e-3")), block_rows=1000))
    costs = {c["column"]: c for c in column_costs(out)}
    with ContainerReader(out) as rd:
        assert sum(c["bytes"] for c in costs.values()) == sum(v[1] for v in rd.header["sections"].values())
    assert set(costs) == {"x", "n"}
    assert costs["x"]["bits_per_value"] == pytest.approx(8 * costs["x"]["bytes"] / 3000)
    assert costs["x"]["step"] > 0 and costs["n"]["step"] == 0 and "int" in costs["n"]["modes"]
    import json

    from fuzz_baler_files import reseal, split_file

    from baler_core.errors import FormatError

    body, header = split_file(out.read_bytes())
    h = json.loads(header)
    h["blocks"][0]["columns"][0] = 7  # a record that is not a mapping
    new = json.dumps(h).encode()
    (tmp_path / "f.baler").write_bytes(reseal(body + new, len(new)))
    with pytest.raises(FormatError, match="malformed"):
        column_costs(tmp_path / "f.baler")
