"""The pod model (a campaign's POD basis, fitted in closed form) and the ``resgrid`` mode it codes with: a field
block as the model's prediction plus its residual coded by the model-free field coder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baler_core.codec import CompressionOptions, compress_field, decompress, file_info
from baler_core.coding.columns import decode_column
from baler_core.coding.error_bounds import Bound, BoundSpec, parse_bound
from baler_core.coding.predictors import AUTO_PREDICTORS
from baler_core.coding.residual_grid import RESIDUAL_GRID, encode_residual_grid
from baler_core.errors import FormatError, InputError
from baler_core.format.container import ContainerReader
from baler_core.models import build_model
from baler_core.models.store import load_decoder_blob, load_model
from baler_core.sim.campaign import field_campaign
from baler_core.training.loop import TrainConfig
from baler_core.training.train import ModelConfig, train_dataset


def _rank3(n: int = 30, shape=(12, 20)) -> np.ndarray:
    """A field of exactly three space-time separable terms plus a constant."""
    t = np.arange(n)[:, None, None]
    y, x = np.meshgrid(np.linspace(0, 1, shape[0]), np.linspace(0, 1, shape[1]), indexing="ij")
    return (2 + np.sin(0.3 * t) * np.sin(2 * np.pi * x) * np.cos(np.pi * y) + np.cos(0.2 * t) * (x * y)
            + 0.1 * t / n * np.cos(3 * x)).astype(np.float32)


def test_pod_fit_finds_orthonormal_modes_that_rebuild_a_low_rank_field():
    f = _rank3().astype(np.float64)
    model = build_model("pod", {"frame": [12, 20], "modes": 3})
    got = model.fit(f[:20], f[20:])
    modes = model.decoder.modes.detach().double().reshape(3, -1)
    assert torch.allclose(modes @ modes.T, torch.eye(3, dtype=torch.float64), atol=1e-5)
    assert got["train_loss"] < 1e-9 and got["val_loss"] < 1e-9  # three modes hold the frames outside training too
    two = build_model("pod", {"frame": [12, 20], "modes": 2})
    assert two.fit(f[:20], f[20:])["val_loss"] > 1e-4  # and two do not
    z = model.encode(torch.from_numpy(f[20:]).float())
    assert z.shape == (10, 3)
    with pytest.raises(InputError, match=r"frames of shape \(12, 21\).*\(12, 20\)"):
        model.encode(torch.zeros(2, 12, 21))
    with pytest.raises(InputError, match="at least one mode"):
        build_model("pod", {"frame": [12, 20], "modes": 0})


def test_pod_trains_in_closed_form_and_stores_only_its_basis_as_decoder(tmp_path):
    f = _rank3()
    bundle, result = train_dataset(f, tmp_path / "pod.safetensors", ModelConfig(model="pod", latent_dim=3),
                                   TrainConfig(epochs=50, device="cpu"), history_path=tmp_path / "history.tsv")
    assert result.epochs_run == 1 and result.best_val_loss < 1e-6  # float16 decoder weights
    assert bundle.record["model_args"] == {"frame": [12, 20], "modes": 3}
    again = load_model(tmp_path / "pod.safetensors")
    assert torch.equal(again.model.decoder.modes, bundle.model.decoder.modes)
    assert (tmp_path / "history.tsv").read_text().startswith("epoch")
    blob = bundle.decoder_blob()  # the mean and three modes in float16 and the record, zstd'd
    assert len(blob) < 4 * 12 * 20 * 2 + 1500
    assert torch.equal(load_decoder_blob(blob).model.decoder.modes, bundle.model.decoder.modes)


def test_resgrid_codes_a_residual_within_the_bound_and_refuses_malformed_records():
    rng = np.random.default_rng(3)
    f = _rank3(8).astype(np.float64)
    for dtype in (np.float32, np.float64):
        x = (f + 0.01 * rng.normal(size=f.shape)).astype(dtype)
        pred = f.ravel() + 0.003  # a biased prediction
        for spec in ("abs=1e-3", "range=1e-4"):
            bound = parse_bound(spec)
            rec, streams = encode_residual_grid(x, pred, bound, "auto", 9, x.shape, AUTO_PREDICTORS)
            assert rec["mode"] == RESIDUAL_GRID and rec["residual"]["mode"] == "grid"
            out = decode_column(rec, streams.__getitem__, x.size, pred, np.dtype(dtype))
            tol = bound.value if bound.kind == "abs" else bound.value * (float(x.max()) - float(x.min()))
            assert out.dtype == dtype and np.abs(out.astype(np.float64) - x.ravel()).max() <= tol
    assert encode_residual_grid(x, pred, Bound("rel", 1e-3), "auto", 9, x.shape, AUTO_PREDICTORS) is None
    bad = x.copy()
    bad.flat[5] = np.nan
    assert encode_residual_grid(bad, pred, Bound("abs", 1e-3), "auto", 9, x.shape, AUTO_PREDICTORS) is None
    with pytest.raises(FormatError, match="resgrid column record malformed"):
        decode_column({"mode": RESIDUAL_GRID, "residual": {"mode": "lin"}}, streams.__getitem__, x.size, pred,
                      np.dtype(np.float64))


@pytest.fixture(scope="module")
def wake_campaign():
    """Windows of cylinder wakes at three Reynolds numbers; the pod model is fitted on two of the runs only."""
    files = [f.frames for f in field_campaign("cylinder", [60, 75, 90], 2, 10, height=32, width=96,
                                              steps_per_frame=10, warmup_steps=600)]
    return files[:4], files[4:]


def test_pod_campaign_files_keep_the_bound_and_code_residuals_on_the_grid(wake_campaign, tmp_path):
    train, held_out = wake_campaign
    bundle, _ = train_dataset(np.concatenate(train), tmp_path / "pod.safetensors",
                              ModelConfig(model="pod", latent_dim=4), TrainConfig(device="cpu"))
    opts = CompressionOptions(BoundSpec(parse_bound("range=1e-3")))  # the decoder is the campaign's, not the file's
    for i, x in enumerate(held_out):  # a Reynolds number the basis never saw
        out = tmp_path / f"w{i}.baler"
        compress_field(x, bundle, out, opts)
        with ContainerReader(out) as rd:
            modes = {b["predictor"] + ":" + b["columns"][0]["mode"] for b in rd.header["blocks"]}
        assert modes == {f"model:{RESIDUAL_GRID}"} and file_info(out)["decoder_bytes"] > 0, modes
        rec = decompress(out, bundle)
        assert rec.dtype == x.dtype and rec.shape == x.shape
        assert np.abs(rec.astype(np.float64) - x).max() <= 1e-3 * (float(x.max()) - float(x.min()))
    with pytest.raises(InputError, match=r"held.*frames of shape \(32, 95\)"):
        compress_field(held_out[0][:, :, :95].copy(), bundle, tmp_path / "x.baler", opts, "held")


def test_a_file_with_its_decoder_is_never_larger_than_without_a_model(wake_campaign, tmp_path):
    train, held_out = wake_campaign
    bundle, _ = train_dataset(np.concatenate(train), tmp_path / "pod.safetensors",
                              ModelConfig(model="pod", latent_dim=8, decoder_dtype="float32"),
                              TrainConfig(device="cpu"))
    x = held_out[0][:3]  # three frames do not pay for a decoder of nine frames
    free = tmp_path / "free.baler"
    compress_field(x, None, free, CompressionOptions(BoundSpec(parse_bound("range=1e-3"))))
    alone = tmp_path / "alone.baler"
    header = compress_field(x, bundle, alone, CompressionOptions(BoundSpec(parse_bound("range=1e-3")),
                                                                  embed_decoder=True))
    assert alone.stat().st_size == free.stat().st_size and header["model"]["name"] == "none"
    kept = tmp_path / "kept.baler"
    compress_field(x, bundle, kept, CompressionOptions(BoundSpec(parse_bound("range=1e-3")), embed_decoder=True,
                                                       model_fallback=False))
    assert kept.stat().st_size > free.stat().st_size and file_info(kept)["decoder_bytes"] > 0
    assert not list(tmp_path.glob(".*.part"))
    np.testing.assert_array_equal(decompress(alone), decompress(free))


def test_packed_decoder_weights_keep_their_bound_and_rebuild_bit_identically(tmp_path):
    from baler_core.coding.packed import pack_array, unpack_array

    rng = np.random.default_rng(1)
    modes = np.cumsum(rng.normal(size=(3, 20, 30)), axis=2).astype(np.float32)  # smooth along the last axis
    blob = pack_array(modes, 1e-4)
    back = unpack_array(blob, modes.shape)
    assert back.dtype == np.float32 and back.shape == modes.shape
    for m, b in zip(modes, back):  # each slice within its own range's bound
        assert np.abs(b.astype(np.float64) - m).max() <= 1e-4 * (float(m.max()) - float(m.min()))
    assert len(blob) < modes.nbytes / 2 and pack_array(modes, 1e-4) == blob  # deterministic
    np.testing.assert_array_equal(unpack_array(blob, modes.shape), back)
    with pytest.raises(FormatError, match="shape"):
        unpack_array(blob, (3, 20, 31))
    with pytest.raises(FormatError):
        unpack_array(blob[:40], modes.shape)
    vec = rng.normal(size=7).astype(np.float32)
    assert np.abs(unpack_array(pack_array(vec, 1e-3), (7,)) - vec).max() <= 1e-3 * np.ptp(vec)


def test_grid_decoder_is_what_compression_predicted_with(wake_campaign, tmp_path):
    """The model file and the decoder blob hold the packed modes; the model compresses with the rebuilt ones, so
    a file decodes within its bound through the blob alone."""
    train, held_out = wake_campaign
    bundle, _ = train_dataset(np.concatenate(train), tmp_path / "pod.safetensors", ModelConfig(model="pod"),
                              TrainConfig(device="cpu"))
    assert bundle.record["decoder_dtype"] == "grid" and bundle.record["version"] == 3  # pod's default
    assert bundle.record["model_args"]["modes"] == 8
    again = load_model(tmp_path / "pod.safetensors")
    assert torch.equal(again.model.decoder.modes, bundle.model.decoder.modes)
    blob = bundle.decoder_blob()
    assert blob == again.decoder_blob()  # the packed bytes, not a second packing
    f16, _ = train_dataset(np.concatenate(train), tmp_path / "f16.safetensors",
                           ModelConfig(model="pod", decoder_dtype="float16"), TrainConfig(device="cpu"))
    assert len(blob) < 0.6 * len(f16.decoder_blob())
    decoder = load_decoder_blob(blob)
    assert torch.equal(decoder.model.decoder.mean, bundle.model.decoder.mean)
    x = held_out[1]
    out = tmp_path / "x.baler"
    compress_field(x, bundle, out, CompressionOptions(BoundSpec(parse_bound("range=1e-3"))))
    rec = decompress(out, decoder)
    assert np.abs(rec.astype(np.float64) - x).max() <= 1e-3 * (float(x.max()) - float(x.min()))
