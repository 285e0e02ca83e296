import functools
import json
import shlex
import sys
from pathlib import Path

from baler_core.io import filesets as _filesets
from baler_core.pipeline import plan as _plan

# Wiring only: what to run is decided in baler_core.pipeline.plan (sweep points, bounds, baselines, settings).

DATASETS = config["datasets"]
TABLES = [d for d, c in DATASETS.items() if c["kind"] == "table"]
FIELDS = [d for d, c in DATASETS.items() if c["kind"] == "field"]
EVENTS = [d for d, c in DATASETS.items() if c["kind"] == "events"]


# Every rule runs `python -m baler_core.cli` of this installation, also inside a --use-conda environment.
shell.prefix(
    "set -euo pipefail; "
    f"export PYTHONPATH={shlex.quote(str(Path(_plan.__file__).resolve().parents[2]))}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
)


def _alternatives(names):
    return "|".join(names) if names else "(?!x)x"


wildcard_constraints:
    dataset="[A-Za-z0-9_]+",
    model="[a-z0-9]+",
    ratio="[0-9]+(\\.[0-9]+)?",
    seed="[0-9]+",
    bound="none|(abs|rel|range|rms)_[0-9.eE+-]+",
    codec="gzip|zstd|trunc",
    level="[0-9]+",


bound_tag = _plan.bound_tag
bound_spec = _plan.bound_spec
ext = functools.partial(_plan.ext, config)
train_ext = functools.partial(_plan.train_ext, config)
extract_events_args = functools.partial(_plan.extract_events_args, config)
physics_args = functools.partial(_plan.physics_args, config)
sweep = functools.partial(_plan.sweep, config)
point_names = functools.partial(_plan.point_names, config)
point_bounds = functools.partial(_plan.point_bounds, config)
point_dirs = functools.partial(_plan.point_dirs, config)
baseline_files = functools.partial(_plan.baseline_files, config)
extract_args = functools.partial(_plan.extract_args, config)
simulate_args = functools.partial(_plan.simulate_args, config)
normalization_method = functools.partial(_plan.normalization_method, config)
log_columns = functools.partial(_plan.log_columns, config)
report_outputs = functools.partial(_plan.report_outputs, config)

for _line in _plan.missing_peers(config):  # the run goes on without them
    print(_line, file=sys.stderr)


def training_json(w):
    return _plan.training_json(config, w.dataset, w.model, w.ratio, w.seed)


def train_gpus(w):
    return _plan.train_gpus(config, w.dataset, w.model, w.ratio, w.seed)


def point_summary_inputs(w):
    return _plan.point_summary_inputs(config, w.dataset)


def is_fileset(dataset):
    """Whether a dataset is a file set (`source.files` or `source.file_list`): see rules/filesets.smk."""
    return _filesets.is_fileset(DATASETS[dataset]["source"])


def get_final_output():
    out = []
    for d in DATASETS:
        out.append(f"results/{d}/summary.tsv")
        out.extend(fileset_outputs(d) if is_fileset(d) else report_outputs(d))
    return out


# ---- file sets (rules/filesets.smk)
for _name, _ds in DATASETS.items():
    _filesets.check_source(_name, _ds["kind"], _ds["source"])

FILESETS = [d for d in DATASETS if is_fileset(d)]
TABLE_FILESETS = [d for d in FILESETS if DATASETS[d]["kind"] == "table"]
FIELD_FILESETS = [d for d in FILESETS if DATASETS[d]["kind"] == "field"]
STEM_PATTERN = "[A-Za-z0-9_-]+"


@functools.lru_cache(maxsize=None)
def fileset_stems(dataset):
    """{stem: path} of a file set's inputs, resolved once per Snakemake process (use `file_list` for big sets:
    a glob is re-run by every process, including each cluster job)."""
    return _filesets.stems_map(_filesets.resolve_files(DATASETS[dataset]["source"], DATASETS[dataset]["kind"]))


@functools.lru_cache(maxsize=None)
def _fileset_batches(dataset):
    return _filesets.file_batches(fileset_stems(dataset), DATASETS[dataset]["source"].get("files_per_job", 1))


def fileset_path(w):
    """The input file of one per-file job."""
    stems = fileset_stems(w.dataset)
    if w.stem not in stems:
        raise ValueError(f"{w.stem}: no input file of dataset {w.dataset} has this name")
    return stems[w.stem]


def fileset_model(w):
    """The model of a file set's per-file jobs: a table set's model with the bound's priors (rule fit_priors)."""
    base = f"results/{w.dataset}/{w.model}-r{w.ratio}-s{w.seed}"
    return f"{base}/eb-{w.bound}/model.safetensors" if w.dataset in TABLE_FILESETS else f"{base}/model.safetensors"


def fileset_range_of(w):
    """`--range-of MODEL` of a table set's per-file jobs: range bounds against the set's range (`range_of: set`,
    the default), so every file keeps the precision one file of the whole set would have."""
    if w.dataset not in TABLE_FILESETS or DATASETS[w.dataset].get("range_of", "set") != "set":
        return ""
    return f"--range-of {fileset_model(w)}"


def fileset_evaluated(dataset):
    return bool(DATASETS[dataset].get("evaluate_files", False))


def fileset_manifest(dataset):
    return f"results/{dataset}/data/training_files.json"


def fileset_training_files(w):
    """Training files: train_sample.files, else the manifest's (frozen at first use), else a seeded pick."""
    return _filesets.training_files(DATASETS[w.dataset]["source"], fileset_manifest(w.dataset),
                                    all_files=list(fileset_stems(w.dataset).values()),
                                    kind=DATASETS[w.dataset]["kind"])


def fileset_sample_json(dataset):
    """The settings that define the training sample, defaults filled in (a change redraws it and retrains); not
    the file pattern, so that adding files or rewriting the pattern does not retrain."""
    src = DATASETS[dataset]["source"]
    keep = {k: src[k] for k in ("tree", "branches", "cut", "variable") if k in src}
    keep["train_sample"] = _filesets.sample_settings(src, DATASETS[dataset]["kind"])
    return shlex.quote(json.dumps(keep, sort_keys=True))


def fileset_set_json(dataset):
    src = DATASETS[dataset]["source"]
    return shlex.quote(json.dumps({k: src[k] for k in ("files", "file_list") if k in src}, sort_keys=True))


@functools.lru_cache(maxsize=None)
def fileset_ext(dataset):
    """Suffix of a set's decompressed files: parquet (tables), npy (NPY/NPZ fields), h5 (HDF5/NetCDF/zarr)."""
    return _filesets.rebuilt_suffix(DATASETS[dataset]["kind"], list(fileset_stems(dataset).values()))


def fileset_compress_args(dataset):
    """fileset_read_args, and the variable a gridded field set's model codes."""
    src = DATASETS[dataset]["source"]
    args = _plan.read_args(src)
    if src.get("variable"):
        args += ["--model-variables", src["variable"]]
    return _plan.quote(args)


def fileset_read_args(dataset):
    """--tree, --branches and --cut of `baler compress` / `baler evaluate-file` for a file set."""
    return _plan.quote(_plan.read_args(DATASETS[dataset]["source"]))


def fileset_group(w):
    """Snakemake group of a per-file job (groups only matter on a cluster: one group = one cluster job).

    files_per_job 1: the constant group `baler_files` (one cluster job per file and sweep point, holding its
    compress, decompress and evaluate jobs; `--group-components baler_files=N` packs N of them into one job).
    files_per_job k > 1: batches of k consecutive files of one sweep point and bound.
    """
    k = DATASETS[w.dataset]["source"].get("files_per_job", 1)
    if k <= 1:
        return "baler_files"
    return f"baler_files_{w.dataset}_{w.model}-r{w.ratio}-s{w.seed}_{w.bound}_{_fileset_batches(w.dataset)[w.stem]}"


def fileset_file_outputs(dataset):
    """Every per-file output the summary pools."""
    kinds = ["json", f"decompress.{fileset_ext(dataset)}.json", "metrics.tsv"] if fileset_evaluated(dataset) else ["json"]
    return [f"{d}/files/{s}.{k}" for d in point_dirs(dataset) for s in fileset_stems(dataset) for k in kinds]


def fileset_baseline_names(dataset):
    """The per-file baselines of a set (`<codec>-eb-<bound>`): see rule baseline_file."""
    return _plan.fileset_baselines(config, dataset, list(fileset_stems(dataset).values()))


def fileset_baseline_outputs(dataset):
    return [f"results/{dataset}/baseline/{b}/files/{s}.json" for b in fileset_baseline_names(dataset)
            for s in fileset_stems(dataset)]


def fileset_baseline_group(w):
    """Snakemake group of a per-file baseline job: as fileset_group, batches of files_per_job files."""
    k = DATASETS[w.dataset]["source"].get("files_per_job", 1)
    if k <= 1:
        return "baler_files"
    return f"baler_baselines_{w.dataset}_{w.lossy}_{w.bound}_{_fileset_batches(w.dataset)[w.stem]}"


def fileset_outputs(dataset):
    """Final outputs of a file set besides summary.tsv (used by get_final_output)."""
    out = [f"results/{dataset}/files.tsv"]
    if fileset_evaluated(dataset):
        out.append(f"results/{dataset}/rate_distortion.png")
    return out
