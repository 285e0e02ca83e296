"""The real pipeline through `snakemake --profile profiles/slurm` on a running SLURM cluster.

Deselected by default (marker `slurm`). Run with a local single-node cluster:

    bash scripts/slurm_local_cluster.sh up
    python -m pytest -q -m slurm tests/test_slurm.py
    bash scripts/slurm_local_cluster.sh down

`.ci/run` does exactly this. The cluster test skips with a reason unless `sinfo` answers; with
BALER_REQUIRE_SLURM=1 (set by .ci/run once the cluster is up) it fails instead of skipping.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from test_workflow import job_stats, tiny_config, write_config

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "profiles" / "slurm"

pytestmark = pytest.mark.slurm

REQUIRE = os.environ.get("BALER_REQUIRE_SLURM") == "1"


def _unavailable(reason: str):
    if REQUIRE:
        pytest.fail(f"BALER_REQUIRE_SLURM=1 but {reason}")
    pytest.skip(reason)


def _plugin_installed() -> bool:
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def plugin():
    if shutil.which("snakemake") is None:
        _unavailable("snakemake is not installed")
    if not _plugin_installed():
        _unavailable("snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')")


@pytest.fixture(scope="module")
def cluster(plugin):
    """The node states `sinfo` reports; skips unless a cluster answers with a usable node."""
    if shutil.which("sinfo") is None:
        _unavailable("no SLURM cluster: `sinfo` is not installed (bash scripts/slurm_local_cluster.sh up)")
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        _unavailable("no SLURM cluster: `sinfo` did not answer in 30 s")
    states = out.stdout.split()
    if out.returncode != 0 or not any(s.rstrip("*~#!%$@^-+") in ("idle", "mix", "alloc") for s in states):
        _unavailable(f"no usable SLURM cluster: `sinfo` says {(out.stdout + out.stderr).strip()!r} "
                     "(bash scripts/slurm_local_cluster.sh up)")
    return states


def _env() -> dict:
    env = dict(os.environ)
    # jobs run `baler` and `python -m snakemake` from this environment (sbatch --export=ALL)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    for var in list(env):
        if var.startswith(("SLURM_", "SBATCH_", "SRUN_")):
            env.pop(var)
    return env


def _snakemake(tmp: Path, *args: str, timeout_s: int = 1500) -> subprocess.CompletedProcess:
    # SIGINT, not SIGTERM, on timeout: on SIGINT Snakemake cancels its SLURM jobs (scancel) before it exits.
    cmd = ["timeout", "-s", "INT", "-k", "120", str(timeout_s),
           "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=_env(), timeout=timeout_s + 300)


def _local_rules() -> set[str]:
    """Rules Snakemake never submits: `localrules:` and the target rules without an action."""
    local = {"default", "all"}  # the Snakefiles' target rules: input only, no shell
    for f in [REPO / "Snakefile", REPO / "workflow" / "Snakefile", *(REPO / "workflow" / "rules").glob("*.smk")]:
        for m in re.finditer(r"^localrules:\s*(.+)$", f.read_text(), re.M):
            local |= {r.strip() for r in m.group(1).split(",") if r.strip()}
    return local


def slurm_config(tmp: Path) -> dict:
    """tests/test_workflow.py's tiny config, table dataset only, one ratio, training on `cuda`."""
    cfg = tiny_config(tmp)
    cfg["datasets"] = {"jets": cfg["datasets"]["jets"]}
    cfg["sweep"]["ratios"] = [2]
    # As a GPU run is configured: the rule itself then asks for a GPU (train_gpus in workflow/rules/common.smk);
    # profiles/slurm gives train_model one either way.
    cfg["training"]["device"] = "cuda"
    # a small file set too (issue 8): one model, one compress/decompress/evaluate job per file, as SLURM jobs
    from conftest import make_jets

    (tmp / "parts").mkdir(exist_ok=True)
    whole = make_jets(900, seed=7)
    for i in range(3):
        whole.iloc[i * 300 : (i + 1) * 300].reset_index(drop=True).to_parquet(tmp / "parts" / f"part_{i}.parquet")
    cfg["datasets"]["jetfiles"] = {"kind": "table", "evaluate_files": True, "model": {"model": "dense"},
                                   "source": {"files": "parts/*.parquet", "train_sample": {"rows": 600, "seed": 1}}}
    return cfg


def test_profile_dry_run_without_cluster(plugin, tmp_path):
    """The profile loads and gives train_model its GPU in a dry run (no cluster needed)."""
    write_config(tmp_path, slurm_config(tmp_path))
    out = _snakemake(tmp_path, "--profile", str(PROFILE), "-n", timeout_s=300)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-5000:]
    assert f"Using profile {PROFILE}" in text or f"Using profiles {PROFILE}" in text, text[:500]
    train = re.search(r"rule train_model:.*?resources: ([^\n]*)", text, re.S)
    assert train, text[-3000:]
    assert re.search(r"\bgpu=1\b", train.group(1)) and "cpus_per_gpu=" in train.group(1), train.group(1)
    assert re.search(r"\bmem_mb=4000\b", train.group(1)), train.group(1)
    # without the profile, the rule's own request: one GPU because training.device is cuda
    out = _snakemake(tmp_path, "--cores", "2", "-n", timeout_s=300)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-5000:]
    assert re.search(r"rule train_model:.*?resources: [^\n]*\bgpu=1\b", text, re.S), text[-3000:]


def test_profile_found_by_name_after_install(plugin, tmp_path):
    """`snakemake --profile slurm` from a folder without ./slurm resolves to profiles/slurm once installed."""
    xdg = tmp_path / "xdg"
    env = {**_env(), "XDG_CONFIG_HOME": str(xdg)}
    for _ in range(2):  # idempotent
        out = subprocess.run(["bash", str(REPO / "scripts" / "install_profiles.sh"), "slurm"], capture_output=True,
                             text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
    link = xdg / "snakemake" / "slurm"
    assert link.is_symlink() and link.resolve() == PROFILE.resolve()
    work = tmp_path / "work"
    work.mkdir()
    write_config(work, slurm_config(work))
    out = subprocess.run(["snakemake", "-s", str(REPO / "Snakefile"), "--profile", "slurm", "-n"],
                         capture_output=True, text=True, cwd=work, env=env, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-5000:]
    assert "Using profiles slurm" in text or "Using profile slurm" in text, text[:500]
    assert re.search(r"rule train_model:.*?resources: [^\n]*\bgpu=1\b", text, re.S), text[-3000:]


def test_pipeline_runs_as_slurm_jobs(cluster, tmp_path):
    cfg = slurm_config(tmp_path)
    write_config(tmp_path, cfg)

    dry = _snakemake(tmp_path, "--profile", str(PROFILE), "-n", timeout_s=300)
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-5000:]
    planned = Counter(job_stats(dry.stdout + dry.stderr))
    assert planned.get("train_model") == 2, planned  # the table dataset and the file set
    local = _local_rules()
    expected = Counter({rule: n for rule, n in planned.items() if rule not in local})

    t0 = time.monotonic()
    # --verbose makes the executor log each sbatch call; the status-check interval is shortened for CI only
    # (the profile's 20 s is meant for real clusters; MinJobAge of the local cluster is far above 3 x 2 s).
    run = _snakemake(tmp_path, "--profile", str(PROFILE), "--verbose",
                     "--slurm-init-seconds-before-status-checks", "2")
    wall = time.monotonic() - t0
    log = run.stdout + run.stderr
    (tmp_path / "snakemake-slurm.log").write_text(log)
    print(f"\nSLURM pipeline run: {wall:.1f} s wall, exit {run.returncode}, log {tmp_path / 'snakemake-slurm.log'}")
    assert run.returncode == 0, log[-8000:]

    # The real outputs.
    import pandas as pd

    summary = pd.read_csv(tmp_path / "results/jets/summary.tsv", sep="\t")
    assert (summary["method"].str.startswith("baler")).sum() == 1
    assert (summary[summary["method"].str.startswith("baler")]["max_frac_outside_bound"] == 0).all()
    assert (tmp_path / "results/jets/rate_distortion.png").stat().st_size > 0
    files = pd.read_csv(tmp_path / "results/jetfiles/files.tsv", sep="\t")
    assert len(files) >= 3, files  # every file of the set was compressed by its own SLURM job
    train_log = (tmp_path / "logs/train_model/jets/dense-r2-s0.log").read_text()

    # Every non-local job was submitted with sbatch, once.
    submitted = re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: ([^)]*)\)", log)
    by_rule = Counter()
    slurm_ids = {}
    for _, slurm_id, slurm_log in submitted:
        rule = re.search(r"/rule_([A-Za-z0-9_]+?)/", slurm_log).group(1)
        by_rule[rule] += 1
        slurm_ids.setdefault(rule, []).append(slurm_id)
    # Grouped per-file jobs (group baler_files) go to SLURM as one job per group: count the jobs inside.
    group_calls = [c for c in re.findall(r"sbatch call: (sbatch .*)", log) if "/group_baler_files" in c]
    n_groups = len(re.findall(r"Job [0-9a-f-]{36} has been submitted with SLURM jobid \d+", log))
    assert n_groups == len(group_calls) == 3, (n_groups, len(group_calls))  # one group job per input file
    for call in group_calls:
        for rule in re.findall(r"'(\w+):dataset=", call.split("--allowed-rules")[0]):
            by_rule[rule] += 1
    print(f"jobs in the DAG: {dict(planned)}; local (not submitted): {sorted(local & set(planned))}")
    print(f"submitted to SLURM: {sum(by_rule.values())} jobs {dict(by_rule)}")
    assert by_rule == expected, (by_rule, expected)
    ran_locally = set(re.findall(r"^localrule (\w+):", log, re.M)) - local
    assert not ran_locally, f"jobs of {sorted(ran_locally)} ran on the submitting host, not as SLURM jobs"

    # ... and SLURM ran them all to completion (finished jobs stay in squeue for MinJobAge).
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    q = subprocess.run(["squeue", "--states=all", "--noheader", "--name", run_id, "--format=%i|%T"],
                       capture_output=True, text=True, timeout=60)
    states = dict(line.split("|", 1) for line in q.stdout.split())
    all_ids = [i for ids in slurm_ids.values() for i in ids]
    missing = [i for i in all_ids if i not in states]
    if missing:  # a cluster with a short MinJobAge forgets finished jobs: say so rather than fail
        print(f"squeue no longer lists SLURM jobs {missing} (MinJobAge too short to check their final state)")
    assert all(states[i] == "COMPLETED" for i in all_ids if i in states), states

    # train_model asked SLURM for a GPU: the sbatch call and the scheduler's record of the job.
    calls = [c for c in re.findall(r"sbatch call: (sbatch .*)", log) if "--comment rule_train_model_" in c]
    assert len(calls) == 2, calls  # one model for the table dataset, one for the file set
    for call in calls:
        flags = call.split(" --wrap=")[0]
        assert re.search(r"--gpus=1\b", flags), flags
        assert re.search(r"--cpus-per-gpu=\d+", flags), flags
        assert re.search(r"--mem 4000\b", flags), flags
    print(f"train_model sbatch flags: {flags}")
    others = [c.split(" --wrap=")[0] for c in re.findall(r"sbatch call: (sbatch .*)", log)
              if "--comment rule_train_model_" not in c]
    assert others and not any("--gpus" in c or "--gres" in c for c in others), others

    train_id = sorted(slurm_ids["train_model"])[0]
    job = subprocess.run(["scontrol", "show", "job", train_id], capture_output=True, text=True, timeout=60)
    if job.returncode == 0:
        record = " ".join(job.stdout.split())
        tres = re.findall(r"(TresPerJob|TresPerNode|TRES|AllocTRES|CpusPerTres)=(\S+)", record)
        print(f"train_model SLURM job {train_id}: {' '.join(f'{k}={v}' for k, v in tres)}")
        assert re.search(r"(TresPerJob|TresPerNode)=\S*gres[:/]gpu[:=]1\b", record), record
    else:
        print(f"scontrol no longer knows job {train_id} (MinJobAge): checked the sbatch flags only")
    # The job was given the GPU: SLURM set CUDA_VISIBLE_DEVICES, and training ran on it, or, where CUDA is not
    # usable (the local cluster's GPU is fake), fell back to the CPU saying which device SLURM had bound.
    if "falling back to CPU" in train_log:
        assert re.search(r"CUDA_VISIBLE_DEVICES=\d", train_log), train_log[-2000:]
    else:
        assert "on cuda" in train_log, train_log[-2000:]
