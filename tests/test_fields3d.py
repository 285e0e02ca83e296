"""Fields of three spatial dimensions over time (N x D x H x W): model-free coding with every predictor, NPY in
and out, plots of the middle slice, and clear refusals."""

import subprocess
import sys

import numpy as np
import pytest

from baler_core.codec import CompressionOptions, compress_field, decompress, file_info
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.errors import InputError
from baler_core.io.fields import open_field, read_field


def _flow(n=5, d=10, h=12, w=14, dtype=np.float32) -> np.ndarray:
    t, z, y, x = np.meshgrid(np.arange(n), np.arange(d), np.arange(h), np.arange(w), indexing="ij")
    rng = np.random.default_rng(0)
    f = np.sin(0.3 * x + 0.2 * t) * np.cos(0.25 * y) * np.cos(0.2 * z) + 0.01 * rng.normal(size=x.shape)
    return f.astype(dtype)


@pytest.mark.parametrize("predictor", ["lorenzo", "interp", "spline", "dct", "auto"])
@pytest.mark.parametrize("spec", ["range=1e-3", "abs=1e-2", "rel=1e-3"])
def test_3d_fields_round_trip_within_the_bound(tmp_path, predictor, spec):
    f = _flow()
    out = tmp_path / "f.baler"
    compress_field(f, None, out, CompressionOptions(BoundSpec(parse_bound(spec)), field_predictor=predictor))
    g = decompress(out)
    assert g.shape == f.shape and g.dtype == f.dtype
    kind, value = spec.split("=")
    err = np.abs(g.astype(np.float64) - f)
    tol = {"range": float(value) * np.ptp(f), "abs": float(value), "rel": float(value) * np.abs(f)}[kind]
    assert np.all(err <= tol * (1 + 1e-6))
    assert file_info(out)["shape"] == list(f.shape)
    assert out.stat().st_size < f.nbytes / (2 if kind != "rel" else 1.5)  # smooth: it compresses


def test_3d_fields_keep_nan_float64_and_many_blocks(tmp_path):
    f = _flow(n=40, d=6, h=8, w=10, dtype=np.float64)
    f[3, 2, 1, 0], f[30, 0, 0, 0] = np.nan, np.inf
    out = tmp_path / "f.baler"
    compress_field(f, None, out, CompressionOptions(BoundSpec(parse_bound("range=1e-4")), block_rows=500))
    g = decompress(out)
    assert g.dtype == np.float64 and np.isnan(g[3, 2, 1, 0]) and g[30, 0, 0, 0] == np.inf
    ok = np.isfinite(f)
    assert np.all(np.abs(g[ok] - f[ok]) <= 1e-4 * np.ptp(f[ok]) * (1 + 1e-6))
    from baler_core.format.container import ContainerReader

    with ContainerReader(out) as rd:  # frame blocks, so memory stays flat: 10 x 500 values hold 10 frames of 480
        assert [b["rows"] for b in rd.header["blocks"]] == [10, 10, 10, 10]


def test_volume_blocks_share_the_frames_evenly():
    from baler_core.codec.field import VOLUME_BLOCK_ROWS, block_frames

    assert block_frames(24, 98_304, VOLUME_BLOCK_ROWS << 18) == 24  # the cube flow: one block along all of time
    assert block_frames(24, 64**3, VOLUME_BLOCK_ROWS << 18) == 8  # three blocks of 8, not 10 + 10 + 4
    assert block_frames(25, 64**3, VOLUME_BLOCK_ROWS << 18) == 9  # 9 + 9 + 7
    assert block_frames(3, 10**7, VOLUME_BLOCK_ROWS << 18) == 1  # a frame larger than the budget: one a block
    assert block_frames(0, 480, VOLUME_BLOCK_ROWS * 500) == 1


def test_npy_3d_in_and_out_through_the_cli(tmp_path):
    f = _flow()
    np.save(tmp_path / "f.npy", f)
    assert open_field(tmp_path / "f.npy").shape == f.shape
    run = [sys.executable, "-m", "baler_core.cli"]
    subprocess.run([*run, "compress", str(tmp_path / "f.npy"), "-m", "none", "--error-bound", "range=1e-3",
                    "-o", str(tmp_path / "f.baler")], check=True, capture_output=True)
    subprocess.run([*run, "decompress", str(tmp_path / "f.baler"), "-o", str(tmp_path / "g.npy")], check=True,
                   capture_output=True)
    g = np.load(tmp_path / "g.npy")
    assert g.shape == f.shape and np.abs(g - f).max() <= 1e-3 * np.ptp(f)
    subprocess.run([*run, "plot-run", str(tmp_path / "f.npy"), str(tmp_path / "g.npy"), "--pdf",
                    str(tmp_path / "p.pdf"), "--png-dir", str(tmp_path / "png")], check=True, capture_output=True)
    assert (tmp_path / "png" / "field_frames.png").stat().st_size > 0


def test_bad_ranks_and_models_are_refused_by_name(tmp_path):
    np.save(tmp_path / "five.npy", np.zeros((2, 2, 2, 2, 2), np.float32))
    with pytest.raises(InputError, match="N x D x H x W.*shape \\(2, 2, 2, 2, 2\\)"):
        read_field(tmp_path / "five.npy")
    with pytest.raises(InputError, match="N x H x W or N x D x H x W"):
        compress_field(np.zeros((2, 2, 2, 2, 2), np.float32), None, tmp_path / "x.baler",
                       CompressionOptions(BoundSpec(parse_bound("range=1e-3"))))


def test_a_2d_field_model_refuses_3d_frames_by_name(tmp_path, field_model):
    _, bundle = field_model
    with pytest.raises(InputError, match="conv2d codes fields of 2 spatial axes.*train conv3d.*-m none"):
        compress_field(_flow(), bundle, tmp_path / "x.baler", CompressionOptions(BoundSpec(parse_bound("abs=1e-3"))))


@pytest.fixture(scope="module")
def conv3d_model(tmp_path_factory):
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    path = tmp_path_factory.mktemp("conv3d") / "vol.safetensors"
    bundle, result = train_dataset(_flow(n=6), path, ModelConfig(latent_dim=2, channels=[4, 8]),
                                   TrainConfig(epochs=4, batch_size=2, seed=3, device="cpu", patch=8))
    return path, bundle, result


def test_auto_trains_conv3d_on_volumes_and_records_why(conv3d_model):
    from baler_core.models import ConvAutoencoder3d, load_model

    path, bundle, result = conv3d_model
    assert isinstance(bundle.model, ConvAutoencoder3d) and bundle.record["model"] == "conv3d"
    assert bundle.record["frame_shape"] == [10, 12, 14] and "3-D" in bundle.record["chosen_by"]["reason"]
    assert result.epochs_run == 4 and np.isfinite(result.best_val_loss)
    again = load_model(path)  # rebuilt from the stored arguments, same weights
    z = np.random.default_rng(0).normal(size=(1, 2, 3, 3, 4)).astype(np.float32)
    import torch

    with torch.no_grad():
        a = bundle.model.decode(torch.from_numpy(z), (9, 12, 13))
        b = again.model.decode(torch.from_numpy(z), (9, 12, 13))
    assert a.shape == (1, 9, 12, 13) and torch.equal(a, b)


@pytest.mark.parametrize("spec", ["range=1e-3", "abs=1e-2", "rel=1e-3", "none"])
def test_conv3d_round_trip_within_the_bound_on_frames_of_another_size(tmp_path, conv3d_model, spec):
    _, bundle, _ = conv3d_model
    f = _flow(n=7, d=9, h=11, w=17, dtype=np.float64)  # not the training size, odd sizes padded and cropped
    out = tmp_path / "v.baler"
    h = compress_field(f, bundle, out, CompressionOptions(BoundSpec(parse_bound(spec)), embed_decoder=True,
                                                          block_rows=1000,  # under a frame: one a block
                                                          model_fallback=False))  # the model path, tested
    assert len(h["blocks"]) == 7 and h["model"]["name"] == "conv3d"
    if spec == "none":  # only the model can rebuild it: every block uses it
        assert all(b["predictor"] == "model" for b in h["blocks"])
    g = decompress(out)
    assert g.shape == f.shape and g.dtype == f.dtype
    if spec == "none":  # the model's own reconstruction, up to the latent's quantization
        import torch

        norm = bundle.normalizer
        with torch.no_grad():
            fwd = bundle.model(torch.from_numpy(norm.transform(f.reshape(-1, 1)).reshape(f.shape).astype(np.float32)))
        own = norm.inverse(fwd["x_hat"].numpy().reshape(-1, 1)).reshape(f.shape)
        assert np.abs(g - own).max() < 1e-2 * np.abs(own - f).max()
        return
    bound = parse_bound(spec)
    err = np.abs(g - f)
    if bound.kind == "abs":
        assert err.max() <= bound.value
    elif bound.kind == "range":
        assert err.max() <= bound.value * (f.max() - f.min())
    else:
        assert np.all(err <= bound.value * np.abs(f))


def test_conv3d_refuses_2d_frames_and_conv2d_training_refuses_volumes(tmp_path, conv3d_model):
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    _, bundle, _ = conv3d_model
    with pytest.raises(InputError, match="conv3d codes fields of 3 spatial axes.*train conv2d"):
        compress_field(_flow()[:, 0], bundle, tmp_path / "x.baler",
                       CompressionOptions(BoundSpec(parse_bound("abs=1e-3"))))
    with pytest.raises(InputError, match="conv2d needs fields of 2 spatial axes.*use conv3d"):
        train_dataset(_flow(), tmp_path / "m.safetensors", ModelConfig(model="conv2d", channels=[4]),
                      TrainConfig(epochs=1, device="cpu"))


def test_cli_trains_and_compresses_a_volume(tmp_path):
    np.save(tmp_path / "vol.npy", _flow(n=4, d=8, h=8, w=8))
    run = lambda *a: subprocess.run([sys.executable, "-m", "baler_core.cli", *a], capture_output=True,  # noqa: E731
                                    text=True, cwd=tmp_path)
    r = run("train", "vol.npy", "-o", "vol.safetensors", "--epochs", "2", "--latent-dim", "1", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "conv3d" in r.stderr
    r = run("compress", "vol.npy", "--model", "vol.safetensors", "-o", "vol.baler", "--error-bound", "range=1e-3")
    assert r.returncode == 0, r.stderr
    r = run("decompress", "vol.baler", "--model", "vol.safetensors", "-o", "back.npy")
    assert r.returncode == 0, r.stderr
    f, g = np.load(tmp_path / "vol.npy"), np.load(tmp_path / "back.npy")
    assert g.shape == f.shape and np.abs(g - f).max() <= 1e-3 * (f.max() - f.min())
