"""Field file sets (issue 25): one model trained on frames drawn across a campaign's files, one compress,
decompress and evaluate job per file. The frame sampler, the checks of a field set's settings, and a real
Snakemake run on a simulated wake campaign (two Reynolds numbers, successive output windows), then the plan after
adding a file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baler_core.errors import InputError
from baler_core.io import filesets as fs
from baler_core.sim.campaign import field_campaign, write_campaign

BOUND, BOUND_SPEC, BOUND_DIR = 1e-2, "range=1e-2", "eb-range_1e-2"


def _frames_files(folder: Path, n_files: int, frames: int, shape=(6, 8), seed: int = 0) -> tuple[list[str], list]:
    """Files whose every frame is tagged with its (file, frame) in its first value."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths, arrays = [], []
    for i in range(n_files):
        x = rng.normal(size=(frames, *shape)).astype(np.float32)
        x[:, 0, 0] = 1000 * i + np.arange(frames)
        p = folder / f"f{i:02d}.npy"
        np.save(p, x)
        paths.append(str(p))
        arrays.append(x)
    return paths, arrays


# ------------------------------------------------------------------------------------------- unit tests
def test_draw_frames_is_seeded_order_free_and_copies_whole_frames(tmp_path):
    paths, arrays = _frames_files(tmp_path, 4, 30)
    a = fs.draw_frames(paths, frames=40, seed=1)
    b = fs.draw_frames(list(reversed(paths)), frames=40, seed=1)
    np.testing.assert_array_equal(a, b)
    tags = a[:, 0, 0].astype(int)
    assert a.shape == (40, 6, 8) and a.dtype == np.float32 and len(set(tags)) == 40
    assert not np.all(np.diff(tags) > 0)  # shuffled
    assert np.bincount(tags // 1000, minlength=4).min() >= 4  # drawn across every file
    for frame, tag in zip(a, tags):  # frames are copied, not altered
        np.testing.assert_array_equal(frame, arrays[tag // 1000][tag % 1000])
    assert not np.array_equal(fs.draw_frames(paths, frames=40, seed=2)[:, 0, 0], tags)
    assert len(fs.draw_frames(paths, frames=500, seed=1)) == 120  # fewer frames than asked: all
    assert 10 < len(fs.draw_frames(paths, fraction=0.25, seed=1)) < 50
    train, val = fs.split_sample(a, 0.2)
    assert len(val) == 8 and len(train) == 32 and not set(val[:, 0, 0]) & set(train[:, 0, 0])
    np.save(tmp_path / "odd.npy", np.zeros((5, 6, 9), np.float32))
    with pytest.raises(InputError, match="odd.npy.*one frame shape"):
        fs.draw_frames(paths + [str(tmp_path / "odd.npy")], frames=10)


def test_default_frame_sample_holds_a_fixed_number_of_values(tmp_path, monkeypatch):
    paths, _ = _frames_files(tmp_path, 3, 20)
    monkeypatch.setattr(fs, "SAMPLE_VALUES", 48 * 10)  # frames of 48 values: 10 frames
    assert len(fs.draw_frames(paths, seed=0)) == 10
    monkeypatch.setattr(fs, "SAMPLE_VALUES", 1)
    assert len(fs.draw_frames(paths, seed=0)) == fs.MIN_FRAMES


def test_field_set_settings_and_suffixes_are_checked(tmp_path, monkeypatch):
    fs.check_source("flow", "field", {"files": "runs/*.npy", "train_sample": {"frames": 64}})
    with pytest.raises(InputError, match="flow: a field set draws frames, not rows"):
        fs.check_source("flow", "field", {"files": "runs/*.npy", "train_sample": {"rows": 64}})
    with pytest.raises(InputError, match="jets: a table set draws rows, not frames"):
        fs.check_source("jets", "table", {"files": "d/*.parquet", "train_sample": {"frames": 64}})
    with pytest.raises(InputError, match="jets: source.variable names the variable of a field set"):
        fs.check_source("jets", "table", {"files": "d/*.parquet", "variable": "u"})
    with pytest.raises(InputError, match="kind: table or field, not events"):
        fs.check_source("nano", "events", {"files": "d/*.root"})
    assert fs.sample_settings({"files": "x"}, "field") == {"frames": None, "seed": 0, "max_files": 32}
    monkeypatch.chdir(tmp_path)
    _frames_files(tmp_path / "runs", 2, 3)
    (tmp_path / "runs" / "notes.parquet").write_bytes(b"")
    assert len(fs.resolve_files({"files": "runs/*.npy"}, "field")) == 2
    with pytest.raises(InputError, match="not fields .*notes.parquet"):
        fs.resolve_files({"files": "runs/*"}, "field")


# ------------------------------------------------------------------------------------------- the workflow
snakemake_needed = pytest.mark.skipif(shutil.which("snakemake") is None, reason="snakemake is not installed")

from test_workflow import planned_jobs as _planned_jobs  # noqa: E402
from test_workflow import snakemake as _snakemake  # noqa: E402
from test_workflow import write_config as _write_config  # noqa: E402


def _campaign(folder: Path, reynolds: list[float], windows: int) -> list[Path]:
    return write_campaign(field_campaign("cylinder", reynolds, windows, 6, height=24, width=64, steps_per_frame=5,
                                         warmup_steps=100), folder)


def _config() -> dict:
    return {
        "datasets": {"wake": {"kind": "field", "evaluate_files": True,
                              "source": {"files": "runs/*.npy", "train_sample": {"frames": 12, "seed": 1,
                                                                                 "max_files": 3}}}},
        "split": {"val_fraction": 0.25, "test_fraction": 0.25, "seed": 0},
        "sweep": {"ratios": [4], "seeds": [0], "error_bounds": [BOUND_SPEC]},
        "model": {"model": "pod", "latent_dim": 3},  # the campaign model: a POD basis, fitted in closed form
        "training": {"epochs": 2, "batch_size": 4, "device": "cpu", "patience": 5},
        "baselines": {"gzip_levels": [1], "zstd_levels": [1], "lossy_bounds": [BOUND_SPEC]},
        "overrides": {},
    }


def _baselines(paths) -> list[str]:
    from baler_core.pipeline.plan import fileset_baselines

    return fileset_baselines(_config(), "wake", [str(p) for p in paths])


@pytest.fixture(scope="module")
def campaign_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("campaign")
    paths = _campaign(tmp / "runs", [60, 90], 3)
    _write_config(tmp, _config())
    out = _snakemake(tmp)
    assert out.returncode == 0, out.stderr[-5000:]
    return tmp, paths


@snakemake_needed
def test_campaign_run_codes_every_file_within_the_bound(campaign_run):
    from baler_core.codec import decompress
    from baler_core.models.store import load_model

    tmp, paths = campaign_run
    point = tmp / "results/wake/pod-r4-s0" / BOUND_DIR
    bundle = load_model(point.parent / "model.safetensors")
    for p in paths:
        orig = np.load(p)
        rec = decompress(point / "files" / f"{fs.file_stem(str(p.relative_to(tmp)))}.baler", bundle)
        assert rec.shape == orig.shape and rec.dtype == orig.dtype
        span = float(orig.max()) - float(orig.min())
        assert np.all(np.abs(rec.astype(np.float64) - orig) <= BOUND * span * (1 + 1e-6)), p.name
    assert not list(point.glob("files/*.npy"))  # decompressed files are temporary
    manifest = json.loads((tmp / "results/wake/data/training_files.json").read_text())
    assert len(manifest["files"]) == 3 and manifest["rows"] == 12
    train, val = np.load(tmp / "results/wake/data/train.npy"), np.load(tmp / "results/wake/data/val.npy")
    assert train.shape == (9, 24, 64) and val.shape == (3, 24, 64)

    row = pd.read_csv(tmp / "results/wake/summary.tsv", sep="\t").iloc[0]
    assert row["n_files"] == len(paths) and row["rows"] == 6 * len(paths) and row["decoder_bytes"] > 0
    assert row["max_frac_outside_bound"] == 0 and row["max_range_rel_error"] <= BOUND
    assert row["ratio_with_decoder"] == pytest.approx(
        row["raw_bytes"] / (row["compressed_bytes"] + row["decoder_bytes"]), rel=1e-5)
    assert row["raw_bytes"] == sum(np.load(p).nbytes for p in paths)
    pooled = pd.read_csv(tmp / "results/wake/files_metrics.tsv", sep="\t")
    assert list(pooled["variable"]) == ["field"] and pooled["n"].iloc[0] == sum(np.load(p).size for p in paths)

    # the references on the same files, each file alone, pooled next to the model
    summary = pd.read_csv(tmp / "results/wake/summary.tsv", sep="\t").set_index("label")
    names = _baselines(paths)
    assert f"grid-eb-{BOUND_DIR.removeprefix('eb-')}" in names
    for name in names:
        b = summary.loc[f"baseline/{name}"]
        assert b["n_files"] == len(paths) and b["raw_bytes"] == row["raw_bytes"] and b["bound"] == BOUND_SPEC
        assert b["ratio"] == pytest.approx(b["raw_bytes"] / b["compressed_bytes"], rel=1e-5)  # %.6g
        assert b["max_range_rel_error"] <= BOUND * (1 + 1e-6)


@snakemake_needed
def test_campaign_rerun_is_empty_and_a_new_window_runs_only_its_jobs(campaign_run):
    tmp, paths = campaign_run
    assert _planned_jobs(tmp) == {}
    late = tmp / "late"
    np.save(tmp / "runs" / "cylinder-re75-w000.npy", np.load(_campaign(late, [75], 1)[0]))
    jobs = _planned_jobs(tmp)
    assert jobs == {"compress_file": 1, "decompress_file": 1, "evaluate_file": 1,
                    "baseline_file": len(_baselines(paths)), "summarize_files": 1, "plot_rate_distortion": 1,
                    "default": 1}, jobs


# ------------------------------------------------------------------------------------------- HDF5 campaigns
def _h5_campaign(folder: Path, reynolds: list[float], windows: int) -> list[Path]:
    """A campaign as a CFD code writes it: one HDF5 file a window, u and p as fields, a mask, attributes."""
    h5py = pytest.importorskip("h5py", reason="h5py is not installed (the cfd extra)")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in field_campaign("cylinder", reynolds, windows, 6, height=24, width=64, steps_per_frame=5,
                            warmup_steps=100):
        p = folder / f"{f.name}.h5"
        with h5py.File(p, "w") as h:
            h.attrs["reynolds"] = f.params["reynolds"]
            h.create_dataset("u", data=f.frames).attrs["units"] = "lattice"
            h.create_dataset("p", data=(1 + 0.1 * f.frames[:, ::-1]).astype(np.float64))
            h.create_dataset("mask", data=(np.arange(24 * 64).reshape(24, 64) % 7 == 0).astype(np.int8))
        paths.append(p)
    return paths


def test_gridded_campaign_files_code_the_model_variable_with_the_model(tmp_path):
    from baler_core.codec import CompressionOptions
    from baler_core.codec.gridded import compress_gridded, decompress_gridded
    from baler_core.coding.error_bounds import BoundSpec, parse_bound
    from baler_core.io.gridded import read_gridded
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    paths = [str(p) for p in _h5_campaign(tmp_path / "runs", [50, 70], 2)]
    frames = fs.draw_frames(paths[:2], frames=10, seed=0, key="u")
    assert frames.shape == (10, 24, 64) and frames.dtype == np.float32
    with pytest.raises(InputError, match="source.variable"):
        fs.draw_frames(paths, frames=4)
    with pytest.raises(InputError, match="'w' matches nothing"):
        fs.draw_frames(paths, frames=4, key="w")
    assert fs.rebuilt_suffix("field", paths) == "h5" and fs.rebuilt_suffix("field", ["a.npy"]) == "npy"
    with pytest.raises(InputError, match="one kind per set"):
        fs.rebuilt_suffix("field", [*paths, "a.npy"])
    bundle, _ = train_dataset(frames, tmp_path / "pod.safetensors", ModelConfig(model="pod", latent_dim=3),
                              TrainConfig(device="cpu"))
    opts = CompressionOptions(BoundSpec(parse_bound(BOUND_SPEC)))
    out = tmp_path / "x.baler"
    header = compress_gridded(read_gridded(paths[-1]), out, opts, paths[-1], bundle, ["u"])
    coded = {r["name"]: r.get("model") for r in header["variables"]}
    assert coded == {"u": True, "p": None, "mask": None}, coded  # u through the model, p without, mask exact
    assert header["model"]["name"] == "pod" and not header["model"]["embedded"]
    with pytest.raises(InputError, match="pass the model"):
        decompress_gridded(out)
    back = {v.name: a for v, a in decompress_gridded(out, bundle=bundle)[0]}
    orig = read_gridded(paths[-1])
    for var in orig.fields:
        x = np.asarray(var.data[...])
        assert back[var.name].dtype == x.dtype
        assert np.abs(back[var.name].astype(np.float64) - x).max() <= BOUND * (float(x.max()) - float(x.min()))
    np.testing.assert_array_equal(back["mask"], np.asarray(orig.exact[0].data[...]))
    for bad, match in (([], "name the variables"), (["w"], "not fields of the file")):
        with pytest.raises(InputError, match=match):
            compress_gridded(read_gridded(paths[-1]), out, opts, paths[-1], bundle, bad)


@snakemake_needed
def test_hdf5_campaign_run_pools_every_field_variable(tmp_path):
    pytest.importorskip("h5py", reason="h5py is not installed (the cfd extra)")
    from baler_core.codec.gridded import decompress_gridded
    from baler_core.models.store import load_model

    paths = _h5_campaign(tmp_path / "runs", [50, 70], 2)
    cfg = _config()
    cfg["datasets"]["wake"]["source"] = {"files": "runs/*.h5", "variable": "u",
                                         "train_sample": {"frames": 12, "seed": 1, "max_files": 2}}
    _write_config(tmp_path, cfg)
    out = _snakemake(tmp_path)
    assert out.returncode == 0, out.stderr[-5000:]
    point = tmp_path / "results/wake/pod-r4-s0" / BOUND_DIR
    bundle = load_model(point.parent / "model.safetensors")
    import h5py

    for p in paths:
        baler_file = point / "files" / f"{fs.file_stem(str(p.relative_to(tmp_path)))}.baler"
        back = {v.name: a for v, a in decompress_gridded(baler_file, bundle=bundle)[0]}
        with h5py.File(p) as h:
            for name in ("u", "p"):
                x = h[name][...]
                assert np.abs(back[name].astype(np.float64) - x).max() <= BOUND * (float(x.max()) - float(x.min()))
    pooled = pd.read_csv(tmp_path / "results/wake/files_metrics.tsv", sep="\t")
    assert sorted(pooled["variable"]) == ["p", "u"] and (pooled["n_files"] == len(paths)).all()
    assert (pooled["frac_outside_bound"] == 0).all()
    assert _planned_jobs(tmp_path) == {}
