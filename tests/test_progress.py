"""Progress of long steps: in a log (no terminal) one line per 10 % with a total, MB/s and an ETA; a line per
interval when the total is unknown; training epoch lines give the total and an ETA."""

import logging

import numpy as np
import pandas as pd

from baler_core.progress import Progress, duration


def test_log_lines_every_ten_percent_with_rate_and_eta(caplog):
    caplog.set_level(logging.INFO, logger="baler")
    with Progress("compress x.parquet", 1000, "rows", bytes_per_unit=100.0, bar=False) as p:
        for _ in range(40):
            p.update(25)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 10, lines
    assert lines[0].startswith("compress x.parquet: 10 % (100 / 1,000 rows), ") and "MB/s, ETA" in lines[0]
    assert lines[-1].startswith("compress x.parquet: 100 % (1,000 / 1,000 rows)")


def test_unknown_total_logs_per_interval(caplog):
    caplog.set_level(logging.INFO, logger="baler")
    with Progress("decompress", None, "frames", interval=0.0, bar=False) as p:
        p.update(3)
        p.update(4)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[-1].startswith("decompress: 7 frames, ") and "%" not in lines[-1]


def test_duration_reads_well():
    assert duration(5) == "5 s" and duration(125) == "2 min 05 s" and duration(7260) == "2 h 01 min"


def test_cli_compress_and_decompress_report_progress(tmp_path, caplog):
    from baler_core.cli.main import main

    caplog.set_level(logging.INFO, logger="baler")
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000).astype(np.float32)}).to_parquet(
        tmp_path / "t.parquet")
    assert main(["compress", str(tmp_path / "t.parquet"), "-m", "none", "-o", str(tmp_path / "t.baler"),
                 "--error-bound", "range=1e-3"]) == 0
    assert main(["decompress", str(tmp_path / "t.baler"), "-o", str(tmp_path / "r.parquet")]) == 0
    text = caplog.text
    assert "compress t.parquet: 100 % (3,000 / 3,000 rows)" in text
    assert "decompress t.baler: 100 % (3,000 / 3,000 rows)" in text


def test_training_epoch_lines_give_total_and_eta(caplog):
    from baler_core.models import build_model
    from baler_core.training.loop import TrainConfig, train_model

    caplog.set_level(logging.INFO)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    train_model(build_model("dense", {"n_features": 4, "latent_dim": 2, "hidden": [8]}), x[:150], x[150:],
                TrainConfig(epochs=3, device="cpu"))
    epochs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert [e.split()[1] for e in epochs] == ["1/3", "2/3", "3/3"] and all("ETA" in e for e in epochs)
