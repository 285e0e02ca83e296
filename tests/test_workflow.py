"""Real Snakemake runs of the pipeline on a tiny config: outputs, no-op reruns, and which jobs a change reruns."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import make_jets

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("snakemake") is None, reason="snakemake is not installed")


def tiny_config(tmp: Path) -> dict:
    make_jets(600, seed=3).to_parquet(tmp / "jets.parquet")
    (tmp / "obs.py").write_text("import awkward as ak\n\ndef lead_eta(events):\n"
                                "    return ak.fill_none(ak.firsts(events.Jet.eta), float('nan'))\n")
    return {
        "datasets": {
            "jets": {"kind": "table", "source": {"path": str(tmp / "jets.parquet")},
                     "model": {"model": "dense"}},  # auto trains the sequential model, whose points skip bound none
            "flow": {"kind": "field", "source": {"generator": "square", "n_frames": 8, "height": 24, "width": 64,
                                                 "reynolds": 40, "steps_per_frame": 5, "warmup_steps": 50,
                                                 "seed": 0},
                     "training": {"epochs": 2, "batch_size": 2}},
            # events kept whole end to end: NanoAOD-like, split by event, the model learns the jets
            "nano": {"kind": "events", "source": {"generator": "nanoaod", "n_events": 400, "seed": 1,
                                                  "collection": "Jet"}, "model": {"model": "dense"},
                     "physics": {"user": {"lead_eta": f"{tmp / 'obs.py'}:lead_eta"}}},
        },
        "split": {"val_fraction": 0.2, "test_fraction": 0.25, "seed": 0},
        "sweep": {"ratios": [2, 4], "seeds": [0], "error_bounds": ["range=1e-2"]},
        "model": {"hidden": [16, 8], "channels": [4, 4]},
        "training": {"epochs": 3, "batch_size": 64, "device": "cpu", "patience": 5},
        "baselines": {"gzip_levels": [1], "zstd_levels": [1], "lossless": ["pcodec"], "presets": ["nanoaod"],
                      "preset_after": ["zstd19"]},
        "overrides": {},
    }


def snakemake(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = ["snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp), "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def job_stats(text: str) -> dict[str, int]:
    """Job counts per rule from Snakemake's "Job stats" table (empty when there is none)."""
    counts = {}
    m = re.search(r"Job stats:\n(.*?)\ntotal", text, re.S)
    if m:
        for line in m.group(1).splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                counts[parts[0]] = int(parts[1])
    return counts


def planned_jobs(tmp: Path) -> dict[str, int]:
    """Job counts of a dry run (empty when there is nothing to do)."""
    out = snakemake(tmp, "-n")
    assert out.returncode == 0, out.stderr + out.stdout
    return job_stats(out.stdout + out.stderr)


def write_config(tmp: Path, cfg: dict) -> None:
    (tmp / "config").mkdir(exist_ok=True)
    (tmp / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wf")
    cfg = tiny_config(tmp)
    write_config(tmp, cfg)
    out = snakemake(tmp)
    assert out.returncode == 0, out.stderr[-5000:]
    return tmp, cfg


def test_run_produces_outputs(finished_run):
    import pandas as pd

    tmp, _ = finished_run
    for ds in ("jets", "flow", "nano"):
        summary = pd.read_csv(tmp / f"results/{ds}/summary.tsv", sep="\t")
        assert set(summary["method"]) >= {"gzip", "zstd", "pcodec"}
        assert ("nanoaod" in set(summary["method"])) == (ds != "flow")  # the HEP presets: tables and events
        ranking = pd.read_csv(tmp / f"results/{ds}/ranked.tsv", sep="\t")
        assert len(ranking) == len(summary) and set(ranking["bound"]) >= {"exact", "range=1e-2"}
        for _, part in ranking.groupby("bound"):
            held = part[part["bound_held"]]
            assert list(part["rank"]) == list(range(1, len(part) + 1))
            assert held["ratio_with_decoder"].is_monotonic_decreasing
        baler = summary[summary["method"].str.startswith("baler")]
        assert len(baler) == 2
        # the decoder's bytes count (a field block coded without the model needs no decoder: equal ratios)
        assert (baler["ratio_with_decoder"] <= baler["ratio"]).all()
        if ds != "flow":
            assert (baler["ratio_with_decoder"] < baler["ratio"]).all()
        assert (baler["max_frac_outside_bound"] == 0).all()  # the bound holds on every value
        assert (tmp / f"results/{ds}/rate_distortion.png").stat().st_size > 0
    assert (tmp / "results/jets/dense-r2-s0/eb-range_1e-2/plots.pdf").exists()
    assert list((tmp / "logs/train_model/jets").glob("*.log"))
    assert list((tmp / "results/benchmarks/train_model/jets").glob("*.tsv"))


def test_events_stay_events_end_to_end(finished_run):
    """Split by event (no event in two splits, none lost), ROOT events back with every event and count, the
    physics check of every point (the user observable too) and its largest pull in the summary."""
    import pandas as pd

    from baler_core.io.events import read_events

    tmp, _ = finished_run
    data = tmp / "results/nano/data"
    full, test = read_events(data / "full.root"), read_events(data / "test.root")
    train_jets, val_jets = pd.read_parquet(data / "train.parquet"), pd.read_parquet(data / "val.parquet")
    assert full.n_events == 400 and test.n_events == 100  # test_fraction 0.25
    jets = {c.name: c for c in full.collections}["Jet"]
    assert len(train_jets) + len(val_jets) + len({c.name: c for c in test.collections}["Jet"].objects) == \
        len(jets.objects)  # every jet in exactly one split: events were never cut
    assert list(train_jets.columns) == jets.branches
    assert set(test.per_event["event"]) <= set(full.per_event["event"])
    summary = pd.read_csv(tmp / "results/nano/summary.tsv", sep="\t")
    baler = summary[summary["method"].str.startswith("baler")]
    assert len(baler) == 2 and baler["largest_pull"].notna().all()
    assert (baler["max_frac_outside_bound"] == 0).all()
    for point in ("dense-r2-s0", "dense-r4-s0"):
        d = tmp / f"results/nano/{point}/eb-range_1e-2"
        back = read_events(d / "reconstructed.root")
        assert back.n_events == test.n_events and back.tree == "Events"
        for c, b in zip(test.collections, back.collections):
            assert (test.counts(c) == back.counts(b)).all() and list(c.objects.dtypes) == list(b.objects.dtypes)
        physics = pd.read_csv(d / "physics.tsv", sep="\t")
        assert list(physics["observable"]) == ["lead_jet_pt", "sublead_jet_pt", "mjj", "ht", "n_jets", "met",
                                               "dphi_jj", "lead_eta"]
        assert sorted(p.stem for p in (d / "physics").glob("*.png")) == sorted(physics["observable"])
        assert summary.set_index("label").loc[f"{point}/eb-range_1e-2", "largest_pull"] == \
            physics["largest_pull"].max()


def test_rerun_has_nothing_to_do(finished_run):
    tmp, _ = finished_run
    assert planned_jobs(tmp) == {}


def test_changing_one_point_reruns_only_that_point(finished_run):
    tmp, cfg = finished_run
    cfg = {**cfg, "overrides": {"jets/dense-r4-s0": {"training": {"epochs": 4}}}}
    write_config(tmp, cfg)
    jobs = planned_jobs(tmp)
    assert jobs == {"train_model": 1, "compress_dataset": 1, "decompress_dataset": 1, "evaluate_per_variable": 1,
                    "plot_run": 1, "summarize_sweep": 1, "plot_rate_distortion": 1, "default": 1}, jobs


def test_adding_a_ratio_adds_only_its_jobs(finished_run):
    tmp, cfg = finished_run
    cfg = {**cfg, "sweep": {**cfg["sweep"], "ratios": [2, 4, 8]}, "overrides": {}}
    write_config(tmp, cfg)
    jobs = planned_jobs(tmp)
    per_dataset = {"train_model": 3, "compress_dataset": 3, "decompress_dataset": 3, "evaluate_per_variable": 3,
                   "plot_run": 3, "evaluate_physics": 1, "summarize_sweep": 3, "plot_rate_distortion": 3,
                   "default": 1}
    assert jobs == per_dataset, jobs
    assert not {"extract_dataset", "extract_events", "simulate_cfd", "split_dataset", "split_events",
                "baseline_gzip"} & set(jobs)


def test_bad_config_key_is_named(tmp_path):
    cfg = tiny_config(tmp_path)
    cfg["training"]["epoks"] = 3
    write_config(tmp_path, cfg)
    out = snakemake(tmp_path, "-n")
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "training.epoks: unknown key; did you mean epochs?" in text
    assert "additionalProperties" not in text and len(text.splitlines()) < 15  # the key, not the schema
    cfg["training"].pop("epoks")
    cfg["sweep"]["error_bounds"] = ["range=-1"]
    write_config(tmp_path, cfg)
    out = snakemake(tmp_path, "-n")
    assert out.returncode != 0 and "range=-1" in out.stdout + out.stderr
    cfg["sweep"]["error_bounds"] = ["rms=1e-2"]  # the Baler-quality target is a valid sweep bound
    write_config(tmp_path, cfg)
    out = snakemake(tmp_path, "-n")
    assert out.returncode == 0 and "eb-rms_1e-2" in out.stdout + out.stderr
    cfg["training"]["loss"] = "huber"  # the training loss is a pipeline key too: mse or l1
    write_config(tmp_path, cfg)
    out = snakemake(tmp_path, "-n")
    assert out.returncode != 0 and "huber" in out.stdout + out.stderr
    cfg["training"]["loss"] = "l1"
    write_config(tmp_path, cfg)
    assert snakemake(tmp_path, "-n").returncode == 0
    del cfg["datasets"]["nano"]["source"]["collection"]  # events need the collection the model learns
    write_config(tmp_path, cfg)
    out = snakemake(tmp_path, "-n")
    assert out.returncode != 0 and "collection" in out.stdout + out.stderr


def test_config_container_puts_every_job_in_the_image(tmp_path):
    """``container:`` in the config is the workflow's global ``container`` directive: without
    ``--software-deployment-method apptainer`` it changes nothing, with it Snakemake needs apptainer (which
    this machine lacks, so the DAG stops there and says so); an empty image name is refused by key."""
    cfg = tiny_config(tmp_path)
    cfg["container"] = str(tmp_path / "baler.sif")
    write_config(tmp_path, cfg)
    out = snakemake(tmp_path, "-n")
    assert out.returncode == 0, out.stderr
    if shutil.which("apptainer") is None and shutil.which("singularity") is None:
        out = snakemake(tmp_path, "-n", "--software-deployment-method", "apptainer")
        assert out.returncode != 0 and "apptainer or singularity command" in out.stdout + out.stderr
    cfg["container"] = ""
    write_config(tmp_path, cfg)
    out = snakemake(tmp_path, "-n")
    assert out.returncode != 0 and "container" in out.stdout + out.stderr


def test_failing_rule_leaves_no_output_and_a_log_that_says_why(tmp_path):
    cfg = tiny_config(tmp_path)
    cfg["datasets"] = {"broken": {"kind": "table", "source": {"path": str(tmp_path / "nope.parquet")}}}
    write_config(tmp_path, cfg)
    out = snakemake(tmp_path, "results/broken/data/full.parquet")
    assert out.returncode != 0
    assert not (tmp_path / "results/broken/data/full.parquet").exists()
    assert not list(tmp_path.rglob("*.part*"))  # no partial file left anywhere
    log = (tmp_path / "logs/extract_dataset/broken.log").read_text()
    assert "nope.parquet: file does not exist" in log


def test_report_builds(finished_run):
    tmp, cfg = finished_run
    write_config(tmp, cfg)
    out = snakemake(tmp, "--report", "report.html")
    assert out.returncode == 0, out.stderr[-3000:]
    html = (tmp / "report.html").read_text(errors="replace")
    assert len(html) > 10_000 and "summary.tsv" in html and "rate_distortion.png" in html


def test_several_seeds_plan_aggregation(finished_run):
    tmp, cfg = finished_run
    cfg = {**cfg, "sweep": {**cfg["sweep"], "seeds": [0, 1]}, "overrides": {}}
    write_config(tmp, cfg)
    jobs = planned_jobs(tmp)
    assert jobs.get("aggregate_seeds") == 6 and jobs.get("train_model") == 6, jobs


@pytest.mark.parametrize("smk, targets", [
    ("anchors.smk", ["results/benchmarks/anchors.tsv", "results/benchmarks/study_table.tsv"]),
    ("throughput.smk", ["results/benchmarks/throughput.tsv"]),
])
def test_benchmark_rules_plan_their_scripts(tmp_path, smk, targets):
    """The benchmarks are Snakemake targets: a dry run plans one job per target, running the script."""
    shared = REPO.parent / "shared" / "data" / "pythia_jets_13TeV_50k.parquet"
    if not shared.exists():
        pytest.skip(f"{shared} is absent: the benchmark rules read the shared jets table")
    (tmp_path / "shared").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "shared" / "data").symlink_to(shared.parent)
    res = subprocess.run(["snakemake", "-s", str(REPO / "benchmarks" / smk), "-d", str(work), "--cores", "2",
                          "-n", "-p", *targets], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    for t in targets:
        assert f"--out {t}" in res.stdout
    assert f"total {len(targets)}" in re.sub(r"\s+", " ", res.stdout)


def test_config_problems_name_the_place_and_the_nearest_key():
    from baler_core.pipeline.config import ConfigError, check_config, config_problems

    schema_path = REPO / "workflow/schemas/config.schema.yaml"
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    schema = yaml.safe_load(schema_path.read_text())
    assert config_problems(cfg, schema) == []
    dataset = next(iter(cfg["datasets"]))
    cfg["datasets"][dataset]["source"]["branchs"] = ["x"]
    cfg["datasets"][dataset]["kind"] = "tabel"
    problems = config_problems(cfg, schema)
    assert f"datasets.{dataset}.source.branchs: unknown key; did you mean branches?" in problems
    assert any(p.startswith(f"datasets.{dataset}.kind: 'tabel' is not one of") and "did you mean table?" in p
               for p in problems)
    with pytest.raises(ConfigError) as err:
        check_config(cfg, schema_path, verbose=True)
    assert "schema (" in str(err.value) and "additionalProperties" in str(err.value)
