import functools
import importlib.util
import json
import shlex
from pathlib import Path

from baler_core import filesets as _filesets


DATASETS = config["datasets"]
TABLES = [d for d, c in DATASETS.items() if c["kind"] == "table"]
FIELDS = [d for d, c in DATASETS.items() if c["kind"] == "field"]


# Every rule runs `python -m baler_core.cli` of this installation, also inside a --use-conda environment.
shell.prefix(
    "set -euo pipefail; "
    f"export PYTHONPATH={shlex.quote(str(Path(_filesets.__file__).resolve().parents[1]))}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
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


def ext(dataset):
    """File suffix of a dataset's data files: Parquet tables, NPY fields."""
    return "parquet" if DATASETS[dataset]["kind"] == "table" else "npy"


def sweep(dataset):
    """The dataset's sweep axes: the global `sweep` with the dataset's own `sweep` keys on top."""
    return {**config["sweep"], **DATASETS[dataset].get("sweep", {})}


def model_name(dataset):
    name = DATASETS[dataset].get("model", {}).get("model", config["model"].get("model", "auto"))
    if name == "auto":
        return "dense" if DATASETS[dataset]["kind"] == "table" else "conv2d"
    return name


def bound_tag(spec):
    return spec.replace("=", "_")


def bound_spec(tag):
    return tag.replace("_", "=", 1)


def model_names(dataset):
    """The models a dataset is swept over: `sweep.models` (default: the configured or automatic model)."""
    kind = DATASETS[dataset]["kind"]
    names = sweep(dataset).get("models") or [model_name(dataset)]
    return [("dense" if kind == "table" else "conv2d") if m == "auto" else m for m in names]


def point_names(dataset):
    s = sweep(dataset)
    return [f"{m}-r{r}-s{seed}" for m in model_names(dataset) for r in s["ratios"] for seed in s["seeds"]]


def point_bounds(model, dataset):
    """Error bounds of a model's points: the sequential model stores no latent, so it needs a bound."""
    bounds = sweep(dataset)["error_bounds"]
    return [b for b in bounds if b != "none"] if model == "sequential" else bounds


def point_dirs(dataset):
    """Every sweep point's evaluation folder of a dataset."""
    return [
        f"results/{dataset}/{p}/eb-{bound_tag(b)}"
        for p in point_names(dataset)
        for b in point_bounds(p.split("-r")[0], dataset)
    ]


def baseline_files(dataset):
    b = config["baselines"]
    out = [f"results/{dataset}/baseline/gzip-l{l}/result.json" for l in b["gzip_levels"]]
    out.extend(f"results/{dataset}/baseline/zstd-l{l}/result.json" for l in b["zstd_levels"])
    out.extend(f"results/{dataset}/baseline/trunc-l{k}/result.json" for k in b.get("truncation_bits", []))
    # baler without a model (-m none): the floor every trained model has to beat, at each lossy bound
    out.extend(f"results/{dataset}/baseline/grid-eb-{bound_tag(e)}/result.json" for e in b.get("lossy_bounds", []))
    for codec, module in (("sz3", "pysz"), ("zfp", "zfpy")):
        if importlib.util.find_spec(module) is not None:  # the optional [baselines] extra
            out.extend(f"results/{dataset}/baseline/{codec}-eb-{bound_tag(e)}/result.json"
                       for e in b.get("lossy_bounds", []))
    return out


def training_settings(w):
    """Model and training settings of one sweep point: global, then dataset, then point overrides."""
    point = f"{w.dataset}/{w.model}-r{w.ratio}-s{w.seed}"
    ds = DATASETS[w.dataset]
    over = config.get("overrides", {}).get(point, {})
    model = {**config["model"], **ds.get("model", {}), **over.get("model", {})}
    model.pop("model", None)
    # the sequential model codes residuals: median (L1) predictions; its small heads like big batches
    seq = {"loss": "l1", "batch_size": 1024} if w.model == "sequential" else {}
    training = {**config["training"], **seq, **ds.get("training", {}), **over.get("training", {})}
    return {"model": model, "training": training}


def training_json(w):
    return json.dumps(training_settings(w), sort_keys=True)


def train_gpus(w):
    return 1 if str(training_settings(w)["training"].get("device", "auto")).startswith("cuda") else 0


def is_fileset(dataset):
    """Whether a dataset is a file set (`source.files` or `source.file_list`): see rules/filesets.smk."""
    return "files" in DATASETS[dataset]["source"] or "file_list" in DATASETS[dataset]["source"]


def get_final_output():
    out = []
    for d in DATASETS:
        out.append(f"results/{d}/summary.tsv")
        out.extend(fileset_outputs(d) if is_fileset(d) else report_outputs(d))
    return out


def extract_args(dataset):
    """Command-line options of `baler extract` for a table dataset's source."""
    src = DATASETS[dataset]["source"]
    args = [src["path"]]
    if src.get("tree"):
        args += ["--tree", src["tree"]]
    if src.get("branches"):
        args += ["--branches", ",".join(src["branches"])]
    if src.get("cut"):
        args += ["--cut", src["cut"]]
    if src.get("max_rows"):
        args += ["--max-rows", str(src["max_rows"])]
    return " ".join(shlex.quote(str(a)) for a in args)


def simulate_args(dataset):
    """Command-line options of `baler simulate-cfd` for a generated field dataset."""
    src = DATASETS[dataset]["source"]
    args = ["--flow", src["generator"]]
    for key in ("n_frames", "height", "width", "reynolds", "steps_per_frame", "warmup_steps", "seed"):
        if key in src:
            args += [f"--{key.replace('_', '-')}", str(src[key])]
    return " ".join(shlex.quote(a) for a in args)


def training_settings_for_dataset(dataset):
    return {**config["model"], **DATASETS[dataset].get("model", {})}


def _log_columns(dataset):
    cols = training_settings_for_dataset(dataset).get("log_columns", "auto")
    if cols is None:
        return "none"
    return cols if isinstance(cols, str) else ",".join(cols)


def report_outputs(dataset):
    out = [f"results/{dataset}/rate_distortion.png"]
    out.extend(f"{d}/plots.pdf" for d in point_dirs(dataset))
    s = sweep(dataset)
    if len(s["seeds"]) > 1:
        out.extend(
            f"results/{dataset}/{p.rsplit('-s', 1)[0]}-seeds/eb-{bound_tag(b)}/metrics_over_seeds.tsv"
            for p in sorted({f"{n.rsplit('-s', 1)[0]}-s0" for n in point_names(dataset)})
            for b in point_bounds(p.split("-r")[0], dataset)
        )
    return out


def point_summary_inputs(w):
    """The files of every sweep point that summarize_sweep reads."""
    files = []
    for d in point_dirs(w.dataset):
        files.extend([f"{d}/compress.json", f"{d}/metrics.tsv", f"{d}/decompress.{ext(w.dataset)}.json"])
    return files


# ---- file sets (rules/filesets.smk)
for _name, _ds in DATASETS.items():
    _filesets.check_source(_name, _ds["kind"], _ds["source"])

FILESETS = [d for d in DATASETS if is_fileset(d)]
STEM_PATTERN = "[A-Za-z0-9_-]+"


@functools.lru_cache(maxsize=None)
def fileset_stems(dataset):
    """{stem: path} of a file set's inputs, resolved once per Snakemake process (use `file_list` for big sets:
    a glob is re-run by every process, including each cluster job)."""
    return _filesets.stems_map(_filesets.resolve_files(DATASETS[dataset]["source"]))


@functools.lru_cache(maxsize=None)
def _fileset_batches(dataset):
    return _filesets.file_batches(fileset_stems(dataset), DATASETS[dataset]["source"].get("files_per_job", 1))


def fileset_path(w):
    """The input file of one per-file job."""
    stems = fileset_stems(w.dataset)
    if w.stem not in stems:
        raise ValueError(f"{w.stem}: no input file of dataset {w.dataset} has this name")
    return stems[w.stem]


def fileset_evaluated(dataset):
    return bool(DATASETS[dataset].get("evaluate_files", False))


def fileset_manifest(dataset):
    return f"results/{dataset}/data/training_files.json"


def fileset_training_files(w):
    """Training files: train_sample.files, else the manifest's (frozen at first use), else a seeded pick."""
    return _filesets.training_files(DATASETS[w.dataset]["source"], fileset_manifest(w.dataset),
                                    all_files=list(fileset_stems(w.dataset).values()))


def fileset_sample_json(dataset):
    """The settings that define the training sample, defaults filled in (a change redraws it and retrains); not
    the file pattern, so that adding files or rewriting the pattern does not retrain."""
    src = DATASETS[dataset]["source"]
    keep = {k: src[k] for k in ("tree", "branches", "cut") if k in src}
    keep["train_sample"] = _filesets.sample_settings(src)
    return shlex.quote(json.dumps(keep, sort_keys=True))


def fileset_set_json(dataset):
    src = DATASETS[dataset]["source"]
    return shlex.quote(json.dumps({k: src[k] for k in ("files", "file_list") if k in src}, sort_keys=True))


def fileset_read_args(dataset):
    """--tree, --branches and --cut of `baler compress` / `baler evaluate-file` for a file set."""
    src = DATASETS[dataset]["source"]
    args = []
    if src.get("tree"):
        args += ["--tree", src["tree"]]
    if src.get("branches"):
        args += ["--branches", ",".join(src["branches"])]
    if src.get("cut"):
        args += ["--cut", src["cut"]]
    return " ".join(shlex.quote(str(a)) for a in args)


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
    kinds = ["json", "decompress.json", "metrics.tsv"] if fileset_evaluated(dataset) else ["json"]
    return [f"{d}/files/{s}.{k}" for d in point_dirs(dataset) for s in fileset_stems(dataset) for k in kinds]


def fileset_outputs(dataset):
    """Final outputs of a file set besides summary.tsv (used by get_final_output)."""
    out = [f"results/{dataset}/files.tsv"]
    if fileset_evaluated(dataset):
        out.append(f"results/{dataset}/rate_distortion.png")
    return out
