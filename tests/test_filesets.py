"""File sets (one model, many input files): the functions of baler_core.filesets, and a real Snakemake run of the
per-file DAG on 20 Parquet files, then the plan after adding two files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import make_jets

from baler_core.errors import InputError
from baler_core.evaluation import filesets as pooling
from baler_core.evaluation.metrics import per_variable_metrics
from baler_core.format.container import ContainerReader
from baler_core.io import filesets as fs

REPO = Path(__file__).resolve().parents[1]
N_FILES, ROWS_PER_FILE, BOUND = 20, 150, 1e-2
BOUND_SPEC, BOUND_DIR = "range=1e-2", "eb-range_1e-2"


def _write_parts(folder: Path, df: pd.DataFrame, n: int, prefix: str = "part") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    size = len(df) // n
    paths = []
    for i in range(n):
        p = folder / f"{prefix}_{i:03d}.parquet"
        df.iloc[i * size:(i + 1) * size].reset_index(drop=True).to_parquet(p)
        paths.append(p)
    return paths


# ------------------------------------------------------------------------------------------- unit tests
def test_stems_are_stable_safe_and_distinct():
    a, b = fs.file_stem("/data/run1/events.root"), fs.file_stem("/data/run2/events.root")
    assert a != b and a.startswith("events-") and b.startswith("events-")
    assert fs.file_stem("/data/run1/events.root") == a == fs.file_stem("/data/run1/./events.root")
    odd = fs.file_stem("weird name (v2).final.parquet")
    assert odd.startswith("weird_name_v2_final-") and "." not in odd and " " not in odd
    # a stem depends on its own path only: adding files renames nothing
    few = fs.stems_map(["x/a.parquet", "x/b.parquet"])
    more = fs.stems_map(["x/a.parquet", "x/b.parquet", "x/0.parquet"])
    assert set(few.items()) <= set(more.items())


def test_resolve_files_glob_and_list(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_parts(Path("d/sub"), make_jets(40), 2)
    _write_parts(Path("d"), make_jets(40), 2, prefix="top")
    assert fs.resolve_files({"files": "d/*.parquet"}) == ["d/top_000.parquet", "d/top_001.parquet"]
    assert len(fs.resolve_files({"files": "d/**/*.parquet"})) == 4
    Path("list.txt").write_text("# inputs\n\nd/top_001.parquet\n d/sub/part_000.parquet \nd/top_001.parquet\n"
                                f"{tmp_path}/d/top_000.parquet\n")
    got = fs.resolve_files({"file_list": "list.txt"})
    assert got == sorted(["d/top_001.parquet", "d/sub/part_000.parquet", f"{tmp_path}/d/top_000.parquet"])
    with pytest.raises(InputError, match="matches no files"):
        fs.resolve_files({"files": "nothing/*.parquet"})
    Path("d/notes.txt").write_text("x")
    with pytest.raises(InputError, match="not tables"):
        fs.resolve_files({"files": "d/*"})


def test_training_files_are_frozen_at_first_use(tmp_path):
    files = [f"f/{i:03d}.parquet" for i in range(10)]
    src = {"files": "f/*.parquet", "train_sample": {"max_files": 4, "seed": 3}}
    picked = fs.training_files(src, tmp_path / "m.json", all_files=files)
    assert len(picked) == 4 and set(picked) <= set(files)
    assert picked == fs.training_files(src, tmp_path / "m.json", all_files=list(reversed(files)))  # order-free
    fs.write_manifest(tmp_path / "m.json", picked, fs.pick_settings(src))
    # new files (some would win the pick) do not change the training files once recorded
    more = files + [f"f/new{i}.parquet" for i in range(50)]
    assert fs.pick_training_files(more, 4, 3) != picked
    assert fs.training_files(src, tmp_path / "m.json", all_files=more) == picked
    # a changed seed, or a training file gone from the set, picks again
    src2 = {**src, "train_sample": {"max_files": 4, "seed": 4}}
    assert fs.training_files(src2, tmp_path / "m.json", all_files=more) == fs.pick_training_files(more, 4, 4)
    rest = [f for f in more if f != picked[0]]
    assert fs.training_files(src, tmp_path / "m.json", all_files=rest) == fs.pick_training_files(rest, 4, 3)
    # explicit training files win
    src3 = {**src, "train_sample": {"files": ["f/001.parquet", "f/000.parquet"]}}
    assert fs.training_files(src3, tmp_path / "m.json", all_files=more) == ["f/000.parquet", "f/001.parquet"]


def test_draw_sample_is_seeded_uniform_and_order_free(tmp_path):
    df = make_jets(1200, seed=5)
    df["row"] = np.arange(len(df), dtype=np.float32)
    paths = [str(p) for p in _write_parts(tmp_path, df, 4)]
    a = fs.draw_sample(paths, rows=500, seed=1, chunk_rows=70)
    b = fs.draw_sample(list(reversed(paths)), rows=500, seed=1, chunk_rows=70)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 500 and a["row"].is_unique
    assert not a["row"].is_monotonic_increasing  # shuffled
    per_file = np.bincount((a["row"].to_numpy() // 300).astype(int), minlength=4)
    assert per_file.min() > 80  # drawn across all files
    full = df.set_index("row").loc[a["row"]].reset_index()[a.columns]
    pd.testing.assert_frame_equal(a, full, check_dtype=False)  # rows are copied, not altered
    assert not fs.draw_sample(paths, rows=500, seed=2)["row"].equals(a["row"])
    assert len(fs.draw_sample(paths, rows=10_000, seed=1)) == 1200  # fewer rows than asked: all
    frac = fs.draw_sample(paths, fraction=0.25, seed=1)
    assert 200 < len(frac) < 400
    train, val = fs.split_sample(a, 0.2)
    assert len(val) == 100 and len(train) == 400 and not set(val["row"]) & set(train["row"])
    df.drop(columns="eta").iloc[:10].to_parquet(tmp_path / "other.parquet")
    with pytest.raises(InputError, match="columns"):
        fs.draw_sample(paths + [str(tmp_path / "other.parquet")], rows=50)


def test_pooled_metrics_equal_metrics_of_all_rows():
    rng = np.random.default_rng(0)
    orig = make_jets(900, seed=2)
    rec = orig + rng.normal(0, 0.01, orig.shape).astype(np.float32) * orig.abs().max().to_numpy()
    rec.loc[5, "pt"] = np.nan  # a broken value
    bound = ("abs", 0.5)
    parts = [slice(0, 100), slice(100, 550), slice(550, 900)]
    tables = [pooling.file_metrics(orig.iloc[s].reset_index(drop=True), rec.iloc[s].reset_index(drop=True), bound)
              for s in parts]
    pooled = pooling.pool_metrics(tables)
    whole = per_variable_metrics(orig, rec, {c: bound for c in orig.columns})
    for col in whole.columns:
        if col in ("variable", "bound_kind"):
            assert list(pooled[col]) == list(whole[col])
        else:
            np.testing.assert_allclose(pooled[col].to_numpy(float), whole[col].to_numpy(float), rtol=1e-9,
                                       atol=1e-12, err_msg=col)
    assert (pooled["n_files"] == 3).all()


def test_pool_stats_counts_the_decoder_once():
    stats = [{"raw_bytes": 1000, "compressed_bytes": 100, "decoder_bytes": 50, "rows": 10, "compress_seconds": 1.0},
             {"raw_bytes": 3000, "compressed_bytes": 300, "decoder_bytes": 50, "rows": 30, "compress_seconds": 2.0}]
    tot = pooling.pool_stats(stats)
    assert tot["raw_bytes"] == 4000 and tot["compressed_bytes"] == 400 and tot["rows"] == 40
    assert tot["ratio_without_decoder"] == 10 and tot["ratio_with_decoder"] == 4000 / 450
    with pytest.raises(InputError, match="different decoders"):
        pooling.pool_stats([stats[0], {**stats[1], "decoder_bytes": 60}])


def test_check_source_refuses_meaningless_keys():
    fs.check_source("a", "table", {"files": "x/*.parquet"})
    with pytest.raises(InputError, match="max_rows"):
        fs.check_source("a", "table", {"files": "x/*.parquet", "max_rows": 5})
    with pytest.raises(InputError, match="kind: table or field"):
        fs.check_source("a", "events", {"file_list": "x.txt"})
    with pytest.raises(InputError, match="rows or .fraction, not both"):
        fs.check_source("a", "table", {"files": "x/*.parquet", "train_sample": {"rows": 5, "fraction": 0.5}})


# ------------------------------------------------------------------------------------------- the workflow
snakemake_needed = pytest.mark.skipif(shutil.which("snakemake") is None, reason="snakemake is not installed")


from test_workflow import planned_jobs as _planned_jobs  # noqa: E402
from test_workflow import snakemake as _snakemake  # noqa: E402
from test_workflow import write_config as _write_config  # noqa: E402


def _config(source: dict) -> dict:
    return {
        "datasets": {"jets": {"kind": "table", "source": source, "evaluate_files": True}},
        "split": {"val_fraction": 0.2, "test_fraction": 0.25, "seed": 0},
        "sweep": {"ratios": [4], "seeds": [0], "error_bounds": [BOUND_SPEC]},
        "model": {"model": "sequential"},
        "training": {"epochs": 2, "batch_size": 64, "device": "cpu", "patience": 5},
        "baselines": {"gzip_levels": [1], "zstd_levels": [1]},
        "overrides": {},
    }


@pytest.fixture(scope="module")
def fileset_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fileset")
    table = make_jets(N_FILES * ROWS_PER_FILE, seed=11)
    paths = _write_parts(tmp / "data", table, N_FILES)
    _write_config(tmp, _config({"files": "data/*.parquet", "train_sample": {"rows": 2000, "seed": 1}}))
    out = _snakemake(tmp)
    assert out.returncode == 0, out.stderr[-5000:]
    return tmp, table, paths


@snakemake_needed
def test_per_file_run_rebuilds_every_value_within_the_bound(fileset_run):
    from baler_core.codec import iter_decompress
    from baler_core.codec.priors import bound_key
    from baler_core.coding.error_bounds import load_bound_spec
    from baler_core.models.store import load_model

    tmp, table, paths = fileset_run
    point = tmp / "results/jets/sequential-r4-s0" / BOUND_DIR
    bundle = load_model(point / "model.safetensors")  # the model with the bound's priors (rule fit_priors)
    assert list(bundle.record["priors"]) == [bound_key(load_bound_spec(BOUND_SPEC))]
    rebuilt = []
    for p in paths:
        orig = pd.read_parquet(p)
        baler_file = point / "files" / f"{fs.file_stem(str(p.relative_to(tmp)))}.baler"
        rec = pd.concat(list(iter_decompress(baler_file, bundle)), ignore_index=True)
        with ContainerReader(baler_file) as rd:
            assert rd.header["priors"] in bundle.record["priors"]  # the files store no tables of their own
            assert rd.header["error_bound"]["range_of"] == "set"
        assert list(rec.columns) == list(orig.columns) and len(rec) == len(orig)
        for c in orig.columns:  # the bound: relative to the set's range (the model's training rows; range_of: set)
            o, r = orig[c].to_numpy(np.float64), rec[c].to_numpy(np.float64)
            lo, hi = bundle.record["ranges"][c]
            assert np.all(np.abs(r - o) <= BOUND * (hi - lo) * (1 + 1e-6) + 1e-30), (p.name, c)
        rebuilt.append(rec)
    together = pd.concat(rebuilt, ignore_index=True)
    assert len(together) == len(table)
    span = (table.max() - table.min()).to_numpy(np.float64)
    assert np.all(np.abs(together.to_numpy(np.float64) - table.to_numpy(np.float64)) <= BOUND * span * (1 + 1e-6))
    assert not list(point.glob("files/*.parquet"))  # decompressed files are temporary

    summary = pd.read_csv(tmp / "results/jets/summary.tsv", sep="\t")
    assert len(summary) == 1
    row = summary.iloc[0]
    assert row["n_files"] == N_FILES and row["rows"] == len(table)
    assert row["max_frac_outside_bound"] == 0 and row["max_range_rel_error"] <= BOUND
    assert row["ratio_with_decoder"] == pytest.approx(
        row["raw_bytes"] / (row["compressed_bytes"] + row["decoder_bytes"]), rel=1e-5)
    per_file = pd.read_csv(tmp / "results/jets/files.tsv", sep="\t")
    assert len(per_file) == N_FILES and per_file["compressed_bytes"].sum() == row["compressed_bytes"]
    pooled = pd.read_csv(tmp / "results/jets/files_metrics.tsv", sep="\t")
    assert (pooled["n"] == len(table)).all() and (pooled["n_files"] == N_FILES).all()
    manifest = json.loads((tmp / "results/jets/data/training_files.json").read_text())
    assert len(manifest["files"]) == N_FILES and manifest["rows"] == 2000
    assert (tmp / "results/jets/rate_distortion.png").stat().st_size > 0


@snakemake_needed
def test_rerun_has_nothing_to_do_and_new_files_run_only_their_jobs(fileset_run):
    tmp, _, _ = fileset_run
    assert _planned_jobs(tmp) == {}
    _write_parts(tmp / "data", make_jets(2 * ROWS_PER_FILE, seed=12), 2, prefix="late")
    jobs = _planned_jobs(tmp)
    assert jobs == {"compress_file": 2, "decompress_file": 2, "evaluate_file": 2, "summarize_files": 1,
                    "plot_rate_distortion": 1, "default": 1}, jobs
    # a change of the training sample settings retrains (and so recompresses every file)
    _write_config(tmp, _config({"files": "data/*.parquet", "train_sample": {"rows": 1500, "seed": 1}}))
    jobs = _planned_jobs(tmp)
    assert jobs.get("sample_training_rows") == 1 and jobs.get("train_model") == 1
    assert jobs.get("compress_file") == N_FILES + 2, jobs


def test_schema_takes_exactly_one_of_path_generator_files_file_list():
    import jsonschema

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    check = jsonschema.Draft202012Validator(schema)
    ok = [{"files": "d/*.parquet"}, {"file_list": "l.txt", "files_per_job": 10, "tree": "events"},
          {"files": "d/*.root", "train_sample": {"fraction": 0.1, "seed": 2, "max_files": 4}},
          {"files": "d/*.root", "train_sample": {"files": ["a.root", "b.root"], "rows": 500}}]
    for src in ok:
        assert not list(check.iter_errors(_config(src))), src
    bad = [{"files": "*.parquet", "path": "a.parquet"}, {"files": "*.parquet", "file_list": "l.txt"}, {},
           {"file_list": "l.txt", "train_sample": {"rows": 10, "fraction": 0.5}},
           {"files": "*.parquet", "train_sample": {"row": 10}}, {"files": "*.parquet", "files_per_job": 0}]
    for src in bad:
        assert list(check.iter_errors(_config(src))), src


def test_schema_takes_range_of_for_table_sets_only():
    import jsonschema

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    check = jsonschema.Draft202012Validator(schema)
    for how in ("set", "file"):
        cfg = _config({"files": "d/*.parquet"})
        cfg["datasets"]["jets"]["range_of"] = how
        assert not list(check.iter_errors(cfg)), how
    for kind, src, how in (("table", {"files": "d/*.parquet"}, "own"), ("field", {"files": "d/*.npy"}, "set"),
                           ("table", {"path": "d.parquet"}, "set")):
        cfg = _config(src)
        cfg["datasets"]["jets"].update(kind=kind, range_of=how)
        assert list(check.iter_errors(cfg)), (kind, src, how)
