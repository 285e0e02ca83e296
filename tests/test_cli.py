"""The command line end to end: train, compress, delete the original, decompress, info."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_JETS, make_field

from baler_core.cli.main import main
from baler_core.io.tables import read_table

skhep = pytest.importorskip("skhep_testdata")


def _check_bound(orig: pd.DataFrame, rec: pd.DataFrame, frac: float) -> None:
    for c in orig.columns:
        a = orig[c].to_numpy().astype(np.float64)
        b = rec[c].to_numpy().astype(np.float64)
        assert np.all(np.abs(a - b) <= frac * (a.max() - a.min())), c


def test_hzz_jagged_jets_round_trip_after_deleting_input(tmp_path, capsys):
    src = tmp_path / "hzz.root"
    shutil.copy(skhep.data_path("uproot-HZZ.root"), src)
    sel = ["--tree", "events", "--branches", "Jet_*"]
    orig = read_table(src, ["Jet_*"], tree="events")
    model = tmp_path / "m.safetensors"
    assert main(["train", str(src), "-o", str(model), "--epochs", "5", "--ratio", "4", "--seed", "1",
                 "--model", "dense", *sel]) == 0
    assert main(["compress", str(src), "-m", str(model), "-o", str(tmp_path / "j.baler"),
                 "--error-bound", "range=1e-3", "--flatten", *sel]) == 0
    src.unlink()  # decompression must not need the original
    out = tmp_path / "j.parquet"
    assert main(["decompress", str(tmp_path / "j.baler"), "-m", str(model), "-o", str(out)]) == 0
    rec = pd.read_parquet(out)
    assert list(rec.columns) == list(orig.columns) and rec.dtypes.to_dict() == orig.dtypes.to_dict()
    np.testing.assert_array_equal(rec["Jet_ID"], orig["Jet_ID"])  # bool column exact
    _check_bound(orig.drop(columns=["Jet_ID"]), rec.drop(columns=["Jet_ID"]), 1e-3)
    capsys.readouterr()
    assert main(["info", str(tmp_path / "j.baler"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rows"] == len(orig) and info["decoder_bytes"] > 0
    assert info["ratio_with_decoder"] < info["ratio_without_decoder"]
    assert main(["info", str(tmp_path / "j.baler"), "--columns"]) == 0
    listed = capsys.readouterr().out
    assert "(latent)" in listed and "decoder sha256 " in listed
    rows = [line.split() for line in listed.split("column ", 1)[1].splitlines()[1:] if line.strip()]
    assert [r[0] for r in rows[: len(orig.columns)]] == list(orig.columns)  # file order, full names
    assert [r[1] for r in rows[: len(orig.columns)]] == [str(t) for t in orig.dtypes]
    assert main(["info", str(tmp_path / "j.baler"), "--json", "--columns"]) == 0
    costs = json.loads(capsys.readouterr().out)["column_costs"]
    assert [c["column"] for c in costs[: len(orig.columns)]] == list(orig.columns)
    # ROOT output by suffix
    assert main(["decompress", str(tmp_path / "j.baler"), "-m", str(model), "-o", str(tmp_path / "j.root")]) == 0
    back = read_table(tmp_path / "j.root", tree="events")
    pd.testing.assert_frame_equal(back, rec)


def test_field_round_trip_cli_embedded_decoder(tmp_path):
    field = make_field(10, 33, 45)
    np.save(tmp_path / "f.npy", field)
    model = tmp_path / "f.safetensors"
    assert main(["train", str(tmp_path / "f.npy"), "-o", str(model), "--epochs", "2", "--latent-dim", "2"]) == 0
    assert main(["compress", str(tmp_path / "f.npy"), "-m", str(model), "-o", str(tmp_path / "f.baler"),
                 "--error-bound", "abs=1e-3", "--embed-decoder"]) == 0
    model.unlink()
    (tmp_path / "f.npy").unlink()
    assert main(["decompress", str(tmp_path / "f.baler"), "-o", str(tmp_path / "r.npz")]) == 0
    with np.load(tmp_path / "r.npz", allow_pickle=False) as z:
        rec = z["field"]
    assert rec.shape == field.shape and rec.dtype == np.float32
    assert np.abs(rec.astype(float) - field).max() <= 1e-3


def test_auto_trains_the_sequential_model_and_says_why(tmp_path, capsys):
    from conftest import make_jets

    make_jets(1500, seed=2).to_parquet(tmp_path / "j.parquet")
    model = tmp_path / "m.safetensors"
    assert main(["train", str(tmp_path / "j.parquet"), "-o", str(model), "--epochs", "2"]) == 0
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    text = capsys.readouterr().out
    assert "model             sequential" in text and "chosen by         --model auto: " in text
    assert main(["info", str(model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["chosen_by"]["model"] == "auto"
    # no bound: the message says what to do instead
    assert main(["compress", str(tmp_path / "j.parquet"), "-m", str(model), "-o", str(tmp_path / "j.baler")]) == 2
    assert "give an error bound" in capsys.readouterr().err
    assert main(["compress", str(tmp_path / "j.parquet"), "-m", str(model), "-o", str(tmp_path / "j.baler"),
                 "--error-bound", "range=1e-3"]) == 0
    assert main(["info", str(tmp_path / "j.parquet")]) == 2  # neither a .baler nor a model file
    assert "neither a .baler file nor a baler model file" in capsys.readouterr().err


def test_errors_are_clear_and_exit_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.parquet"), "-o", str(tmp_path / "m.safetensors")]) == 2
    assert "missing.parquet: file does not exist" in capsys.readouterr().err
    assert main(["compress", "x.parquet", "-m", "m", "-o", "o.baler", "--error-bound", "rel=2"]) == 2
    log = tmp_path / "baler.log"
    proc = subprocess.run(["baler", "--log", str(log), "info", str(tmp_path / "nothing.baler")], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and proc.stderr.count("nothing.baler: file does not exist") == 1, proc.stderr
    assert "ERROR" in log.read_text() and "nothing.baler" in log.read_text()  # the log file records it too


def test_console_script_help():
    out = subprocess.run(["baler", "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("train", "compress", "decompress", "info"):
        assert cmd in out
    out = subprocess.run(["baler", "compress", "--help"], capture_output=True, text=True, check=True).stdout
    assert "--error-bound" in out and "--embed-decoder" in out


@pytest.mark.skipif(not SHARED_JETS.exists(), reason="../shared/data is absent (fresh clone without shared data)")
def test_shared_jets_round_trip(tmp_path):
    df = pd.read_parquet(SHARED_JETS).drop(columns=["weight"]).iloc[:8000]
    src = tmp_path / "jets.parquet"
    df.to_parquet(src)
    model = tmp_path / "m.safetensors"
    assert main(["train", str(src), "-o", str(model), "--epochs", "3", "--latent-dim", "15"]) == 0
    assert main(["compress", str(src), "-m", str(model), "-o", str(tmp_path / "j.baler"),
                 "--error-bound", "rel=4.9e-4"]) == 0
    src.unlink()
    assert main(["decompress", str(tmp_path / "j.baler"), "-m", str(model), "-o", str(tmp_path / "r.parquet")]) == 0
    rec = pd.read_parquet(tmp_path / "r.parquet")
    assert list(rec.columns) == list(df.columns)
    for c in df.columns:
        a, b = df[c].to_numpy(np.float64), rec[c].to_numpy(np.float64)
        assert np.all(np.abs(a - b) <= 4.9e-4 * np.abs(a)), c
    for c in [c for c in df.columns if "Multiplicity" in c]:
        np.testing.assert_array_equal(rec[c], df[c])
