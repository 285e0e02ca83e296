import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import make_jets

from baler_core.errors import FormatError
from baler_core.models import build_model
from baler_core.models.store import load_model
from baler_core.training.loop import TrainConfig, load_checkpoint, resolve_device, train_model
from baler_core.training.train import ModelConfig, train_dataset


def _data(n=600):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n, 2))
    x = np.concatenate([z, z @ rng.normal(size=(2, 4))], axis=1).astype(np.float32)
    return x[: n * 4 // 5], x[n * 4 // 5 :]


def _weights(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def test_sigkill_midway_then_resume_gives_same_weights(tmp_path):
    """Kill training with SIGKILL after a few epochs; --resume must finish with the uninterrupted weights."""
    import os
    import signal
    import subprocess
    import sys
    import time

    data = tmp_path / "train.parquet"
    make_jets(6000).to_parquet(data)
    common = [sys.executable, "-m", "baler_core.cli", "train", str(data), "--model", "dense", "--latent-dim", "3",
              "--epochs", "12",
              "--batch-size", "64", "--seed", "5", "--device", "cpu", "--patience", "100"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(common + ["-o", str(tmp_path / "full.safetensors")], check=True, env=env, capture_output=True)
    hist = tmp_path / "h.tsv"
    proc = subprocess.Popen(common + ["-o", str(tmp_path / "k.safetensors"), "--history", str(hist)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if hist.exists() and len(hist.read_text().splitlines()) >= 4:  # header + 3 epochs
            break
        time.sleep(0.02)
    assert proc.poll() is None, "training finished before it could be killed; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "k.safetensors").exists()
    assert (tmp_path / "k.safetensors.ckpt.pt").exists()
    subprocess.run(common + ["-o", str(tmp_path / "k.safetensors"), "--resume"], check=True, env=env,
                   capture_output=True)
    assert not (tmp_path / "k.safetensors.ckpt.pt").exists()  # a finished run leaves no checkpoint behind
    assert not (tmp_path / "full.safetensors.ckpt.pt").exists()
    full = load_model(tmp_path / "full.safetensors").model.state_dict()
    resumed = load_model(tmp_path / "k.safetensors").model.state_dict()
    for k, v in full.items():
        torch.testing.assert_close(v, resumed[k], rtol=0, atol=0)


def test_resume_with_other_settings_starts_afresh(tmp_path, caplog):
    xt, xv = _data()
    cfg = TrainConfig(epochs=2, device="cpu")
    m = build_model("dense", {"n_features": 6, "latent_dim": 2, "hidden": [16]})
    train_model(m, xt, xv, cfg, checkpoint_path=tmp_path / "c.pt", model_args={"latent_dim": 2})
    m2 = build_model("dense", {"n_features": 6, "latent_dim": 3, "hidden": [16]})
    res = train_model(m2, xt, xv, cfg, checkpoint_path=tmp_path / "c.pt", resume=True, model_args={"latent_dim": 3})
    assert "starting afresh" in caplog.text and len(res.history) == 2
    res = train_model(m2, xt, xv, TrainConfig(epochs=3, device="cpu"), checkpoint_path=tmp_path / "c.pt",
                      resume=True, model_args={"latent_dim": 3})
    assert len(res.history) == 3 and res.history[0]["epoch"] == 0


def test_early_stopping_and_history(tmp_path):
    xt, xv = _data()
    m = build_model("dense", {"n_features": 6, "latent_dim": 2, "hidden": [16]})
    res = train_model(m, xt, xv, TrainConfig(epochs=200, lr=0.0, patience=3, device="cpu"),
                      history_path=tmp_path / "h.tsv")
    assert res.stopped_early and res.epochs_run <= 5
    h = pd.read_csv(tmp_path / "h.tsv", sep="\t")
    assert list(h.columns[:3]) == ["epoch", "train_loss", "val_loss"] and len(h) == res.epochs_run


def test_validation_rows_are_held_out(tmp_path):
    df = make_jets(500)
    _, res = train_dataset(df, tmp_path / "m.safetensors",
                           ModelConfig(model="dense", latent_dim=3, hidden=[8], val_fraction=0.2),
                           TrainConfig(epochs=2, device="cpu"))
    rec = load_model(tmp_path / "m.safetensors").record["training"]
    assert rec["train_rows"] == 400 and rec["val_rows"] == 100


def test_model_file_is_float32_safetensors_and_decoder_float16(tmp_path):
    df = make_jets(300)
    bundle, _ = train_dataset(df, tmp_path / "m.safetensors", ModelConfig(model="dense", latent_dim=3, hidden=[8]),
                              TrainConfig(epochs=1, device="cpu"))
    assert all(p.dtype == torch.float32 for p in bundle.model.parameters())
    from safetensors.torch import load_file

    stored = load_file(tmp_path / "m.safetensors")
    assert stored["decoder.0.weight"].dtype == torch.float16
    assert stored["encoder.0.weight"].dtype == torch.float32


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def test_pickled_model_and_checkpoint_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(FormatError):
        load_model(evil)
    ck = tmp_path / "evil.pt"
    torch.save({"x": _Evil()}, ck)
    with pytest.raises(FormatError, match="weights-only"):
        load_checkpoint(ck)
    assert not (tmp_path / "PWNED").exists()


def test_device_fallback_warns():
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.warns(RuntimeWarning, match="falling back to CPU"):
            assert resolve_device("cuda").type == "cpu"


def test_resuming_a_finished_run_still_writes_history(tmp_path):
    xt, xv = _data()
    cfg = TrainConfig(epochs=3, device="cpu")
    args = {"n_features": 6, "latent_dim": 2, "hidden": [16]}
    m = build_model("dense", args)
    train_model(m, xt, xv, cfg, checkpoint_path=tmp_path / "c.pt", model_args=args)
    m2 = build_model("dense", args)
    res = train_model(m2, xt, xv, cfg, checkpoint_path=tmp_path / "c.pt", resume=True,
                      history_path=tmp_path / "h.tsv", model_args=args)
    assert len(pd.read_csv(tmp_path / "h.tsv", sep="\t")) == 3 and len(res.history) == 3
