"""Field campaigns (issue 25): runs x output windows, files that join up in time, a manifest, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baler_core.cli import main
from baler_core.errors import InputError
from baler_core.sim import cfd
from baler_core.sim.campaign import field_campaign, write_campaign

SMALL = dict(height=16, width=48, steps_per_frame=5, warmup_steps=30)


def test_windows_are_one_run_cut_in_time_and_runs_differ():
    files = list(field_campaign("cylinder", [40, 60], windows=3, frames=2, **SMALL))
    assert [f.name for f in files] == [f"cylinder-re{r}-w00{w}" for r in (40, 60) for w in range(3)]
    assert all(f.frames.shape == (2, 16, 48) and f.frames.dtype == np.float32 for f in files)
    whole = cfd.run_lbm(n_frames=6, reynolds=40.0, shape="cylinder", **SMALL).frames
    assert np.array_equal(np.concatenate([f.frames for f in files[:3]]), whole)  # restart files of one run
    assert not np.array_equal(files[0].frames, files[3].frames)  # another Reynolds number, another flow
    assert files[4].params["reynolds"] == 60.0 and files[4].window == 1


def test_turbulence_runs_are_seeds():
    files = list(field_campaign("turbulence", [0, 1], windows=2, frames=2, height=32, steps_per_frame=2))
    assert [f.name for f in files] == ["turbulence-s0-w000", "turbulence-s0-w001", "turbulence-s1-w000",
                                       "turbulence-s1-w001"]
    whole = cfd.simulate_decaying_turbulence(n_frames=4, size=32, seed=1, steps_per_frame=2)
    assert np.array_equal(np.concatenate([files[2].frames, files[3].frames]), whole)


@pytest.mark.parametrize("kwargs, name", [
    (dict(flow="vortex", runs=[100]), "flow"),
    (dict(flow="square", runs=[]), "run"),
    (dict(flow="square", runs=[100], windows=0), "windows"),
    (dict(flow="turbulence", runs=[-1]), "seed"),
])
def test_bad_campaigns_are_named(kwargs, name):
    with pytest.raises(InputError, match=name):
        list(field_campaign(**{"windows": 1, "frames": 1, **SMALL, **kwargs}))


def test_cli_writes_files_and_manifest(tmp_path, capsys):
    out = tmp_path / "camp"
    assert main(["simulate-campaign", "--flow", "square", "--reynolds", "40,60", "--windows", "2", "--frames",
                 "2", "--height", "16", "--width", "48", "--steps-per-frame", "5", "--warmup-steps", "30",
                 "-o", str(out)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["files"] == 4
    manifest = json.loads((out / "campaign.json").read_text())["files"]
    assert [m["file"] for m in manifest] == sorted(p.name for p in out.glob("*.npy"))
    assert [m["first_frame"] for m in manifest] == [0, 2, 0, 2]
    second = np.load(out / manifest[1]["file"])
    assert np.array_equal(second, cfd.run_lbm(n_frames=4, reynolds=40.0, **SMALL).frames[2:])
    # a turbulence campaign without seeds is refused by name, not run with a default
    assert main(["simulate-campaign", "--flow", "turbulence", "-o", str(tmp_path / "t")]) == 2


def test_write_campaign_returns_paths_in_order(tmp_path):
    paths = write_campaign(field_campaign("square", [40], windows=2, frames=1, **SMALL), tmp_path)
    assert [p.name for p in paths] == ["square-re40-w000.npy", "square-re40-w001.npy"]
