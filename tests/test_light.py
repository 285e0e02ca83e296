"""A sequential model's decoder loaded without torch (models/light.py): the same decoder blob (so the same sha256
check), the same heads, and `baler decompress` giving the same values without importing torch; with the compiled
kernels off it falls back to torch and still agrees."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load, save
from test_sequential import _table

from baler_core.codec import CompressionOptions, compress_table, decompress
from baler_core.codec.inference import float64_decoder
from baler_core.coding import jit
from baler_core.coding.error_bounds import load_bound_spec
from baler_core.errors import FormatError, ModelMismatchError
from baler_core.models.light import light_capable
from baler_core.models.store import load_model
from baler_core.training.loop import TrainConfig
from baler_core.training.train import ModelConfig, train_dataset

if jit.module("mlp_kernels") is None:
    pytest.skip("numba is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def rows():
    return _table(3000, seed=7)


def _baler_imports_torch(args: list[str], setting: str) -> bool:
    """Run ``baler ARGS`` in a fresh process with ``BALER_JIT=setting``; whether it imported torch."""
    script = f"import sys\nfrom baler_core.cli.main import main\nmain({args!r})\nprint('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, jit.ENV: setting})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split()[-1] == "True"


@pytest.mark.parametrize("dtype", ["float32", "float16", "grid"])
def test_light_decoder_is_the_stored_one(rows, tmp_path, dtype):
    path = tmp_path / f"{dtype}.safetensors"
    train_dataset(rows, path, ModelConfig(model="sequential", latent_dim=6, decoder_dtype=dtype),
                  TrainConfig(epochs=2, batch_size=256, device="cpu"))
    full, light = load_model(path), load_model(path, light=True)
    assert getattr(light.model, "light", False) and not getattr(full.model, "light", False)
    assert light.decoder_blob() == full.decoder_blob()  # the sha256 files record
    dec = float64_decoder(full)
    for j in range(rows.shape[1]):
        for a, b in zip(light.model.head_arrays(j), dec.head_arrays(j), strict=True):
            np.testing.assert_array_equal(a, b)
    assert light.model.activation_name() == dec.activation_name()


def test_light_is_only_for_sequential_decoders_numpy_holds():
    assert light_capable({"model": "sequential", "model_args": {"n_features": 3}})
    assert not light_capable({"model": "sequential", "decoder_dtype": "bfloat16", "model_args": {"n_features": 3}})
    assert not light_capable({"model": "dense", "model_args": {"n_features": 3}})


def test_command_line_decompresses_without_torch(prior_models, prior_rows, tmp_path):
    """The command's output equals the library's (torch) decompression; torch is never imported; with the kernels
    off (BALER_JIT=off) the light decoder predicts through torch and agrees too. Another model is refused."""
    model = prior_models[0]
    rows = prior_rows.iloc[5000:].reset_index(drop=True)
    compress_table([rows], load_model(model), tmp_path / "x.baler", CompressionOptions(load_bound_spec("range=1e-3")))
    want = decompress(tmp_path / "x.baler", load_model(model))
    for setting, torch_loaded in (("auto", False), ("off", True)):
        out = tmp_path / f"{setting}.parquet"
        assert _baler_imports_torch(["decompress", str(tmp_path / "x.baler"), "-m", str(model), "-o", str(out)],
                                    setting) == torch_loaded
        got = pd.read_parquet(out)
        for col in rows.columns:
            np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy())
    with pytest.raises(ModelMismatchError):
        decompress(tmp_path / "x.baler", load_model(prior_models[1], light=True))


def test_command_line_compresses_without_torch(prior_models, prior_rows, tmp_path, monkeypatch):
    """`baler compress` with a sequential model writes the bytes the library writes with the torch model and the
    compiled heads, without importing torch; with the kernels off it predicts through torch, and its file still
    decodes within the bound."""
    model = prior_models[0]
    rows = prior_rows.iloc[5000:].reset_index(drop=True)
    rows.to_parquet(tmp_path / "x.parquet")
    monkeypatch.setattr(jit, "_active", True)
    compress_table([rows], load_model(model), tmp_path / "lib.baler", CompressionOptions(load_bound_spec("range=1e-3")))
    for setting, torch_loaded in (("auto", False), ("off", True)):
        out = tmp_path / f"{setting}.baler"
        args = ["compress", str(tmp_path / "x.parquet"), "-m", str(model), "-o", str(out),
                "--error-bound", "range=1e-3"]
        assert _baler_imports_torch(args, setting) == torch_loaded
        if setting == "auto":
            assert out.read_bytes() == (tmp_path / "lib.baler").read_bytes()
        back = decompress(out, load_model(model))
        for col in rows.columns:
            x = rows[col].to_numpy(np.float64)
            err = np.abs(back[col].to_numpy(np.float64) - x).max()
            assert err <= 1e-3 * (x.max() - x.min()) * (1 + 1e-9), col


def test_light_refuses_wrong_shapes(rows, tmp_path):
    """A tensor of the wrong shape is named; a record without the model's arguments is refused by both loaders."""
    path = tmp_path / "m.safetensors"
    train_dataset(rows, path, ModelConfig(model="sequential", latent_dim=4), TrainConfig(epochs=1, device="cpu"))
    blob = path.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    meta = json.loads(blob[8 : 8 + n])["__metadata__"]
    tensors = load(blob)
    tensors["decoder.b_out"] = tensors["decoder.b_out"][:-1].copy()
    (tmp_path / "bad.safetensors").write_bytes(save(tensors, metadata=meta))
    with pytest.raises(FormatError, match="decoder.b_out"):
        load_model(tmp_path / "bad.safetensors", light=True)
    record = json.loads(meta["baler_model"])
    del record["model_args"]
    (tmp_path / "noargs.safetensors").write_bytes(save(load(blob), metadata={"baler_model": json.dumps(record)}))
    for light in (True, False):
        with pytest.raises(FormatError, match="model_args"):
            load_model(tmp_path / "noargs.safetensors", light=light)


@pytest.mark.parametrize("spec", ["range=1e-3", "rel=1e-3"])
def test_light_decoder_reads_prior_coded_files(prior_models, prior_rows, tmp_path, monkeypatch, spec):
    """A model with priors (tables and header templates in its record): the light decoder reads what it coded."""
    monkeypatch.setattr(jit, "_active", True)
    rows = prior_rows.iloc[5000:5600].reset_index(drop=True)
    compress_table([rows], load_model(prior_models[1]), tmp_path / "p.baler",
                   CompressionOptions(load_bound_spec(spec)))
    want = decompress(tmp_path / "p.baler", load_model(prior_models[1]))
    got = decompress(tmp_path / "p.baler", load_model(prior_models[1], light=True))
    for col in rows.columns:
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy())
