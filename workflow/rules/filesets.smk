# File sets: a table dataset with `source.files` (glob) or `source.file_list` (text file) is one model for many
# input files. The model is trained once on rows drawn across the training files (`sample_training_rows` writes
# data/train.parquet and data/val.parquet, so `fit_normalization` and `train_model` run as for any table); then
# every input file is compressed by its own job, `compress_file`, and, with `evaluate_files: true`, decompressed
# and evaluated by its own jobs; `summarize_files` pools bytes and errors over the files into summary.tsv.
# Adding files to the set runs only their jobs and the summary: the training files are recorded in
# results/<dataset>/data/training_files.json at first use (see baler_core/filesets.py: training_files).
import functools

from baler_core import filesets as _filesets


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
    kinds = ["json"] + (["decompress.json", "metrics.tsv"] if fileset_evaluated(dataset) else [])
    return [f"{d}/files/{s}.{k}" for d in point_dirs(dataset) for s in fileset_stems(dataset) for k in kinds]


def fileset_outputs(dataset):
    """Final outputs of a file set besides summary.tsv (used by get_final_output)."""
    out = [f"results/{dataset}/files.tsv"]
    if fileset_evaluated(dataset):
        out.append(f"results/{dataset}/rate_distortion.png")
    return out


ruleorder: sample_training_rows > split_dataset
ruleorder: summarize_files > summarize_sweep


rule sample_training_rows:
    input:
        fileset_training_files,
    output:
        train="results/{dataset}/data/train.parquet",
        val="results/{dataset}/data/val.parquet",
        manifest="results/{dataset}/data/training_files.json",
    params:
        source=lambda w: fileset_sample_json(w.dataset),
        val_fraction=config["split"]["val_fraction"],
    log:
        "logs/sample_training_rows/{dataset}.log",
    benchmark:
        "results/benchmarks/sample_training_rows/{dataset}.tsv"
    wildcard_constraints:
        dataset=_alternatives(FILESETS),
    resources:
        mem_mb=4000,
    shell:
        "baler --log {log} sample-files {input:q} --source-json {params.source} "
        "--val-fraction {params.val_fraction} --train {output.train} --val {output.val} "
        "--manifest {output.manifest} 2>> {log}"


rule compress_file:
    input:
        data=fileset_path,
        model="results/{dataset}/{model}-r{ratio}-s{seed}/model.safetensors",
    output:
        baler="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.baler",
        stats="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.json",
    params:
        bound=lambda w: bound_spec(w.bound),
        read=lambda w: fileset_read_args(w.dataset),
    log:
        "logs/compress_file/{dataset}/{model}-r{ratio}-s{seed}-{bound}/{stem}.log",
    group:
        fileset_group
    wildcard_constraints:
        dataset=_alternatives(FILESETS),
        stem=STEM_PATTERN,
    resources:
        mem_mb=lambda w, attempt: 3000 * attempt,
        runtime=lambda w, attempt: 60 * attempt,
    shell:
        "baler --log {log} compress {input.data:q} -m {input.model} -o {output.baler} "
        "--error-bound {params.bound} --stats {output.stats} {params.read} > /dev/null 2>> {log}"


rule decompress_file:
    input:
        baler="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.baler",
        model="results/{dataset}/{model}-r{ratio}-s{seed}/model.safetensors",
    output:
        data=temp("results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.parquet"),
        stats="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.decompress.json",
    log:
        "logs/decompress_file/{dataset}/{model}-r{ratio}-s{seed}-{bound}/{stem}.log",
    group:
        fileset_group
    wildcard_constraints:
        dataset=_alternatives(FILESETS),
        stem=STEM_PATTERN,
    resources:
        mem_mb=lambda w, attempt: 3000 * attempt,
        runtime=lambda w, attempt: 60 * attempt,
    shell:
        "baler --log {log} decompress {input.baler} -m {input.model} -o {output.data} "
        "--stats {output.stats} 2>> {log}"


rule evaluate_file:
    input:
        original=fileset_path,
        reconstructed="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.parquet",
    output:
        "results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.metrics.tsv",
    params:
        bound=lambda w: bound_spec(w.bound),
        read=lambda w: fileset_read_args(w.dataset),
    log:
        "logs/evaluate_file/{dataset}/{model}-r{ratio}-s{seed}-{bound}/{stem}.log",
    group:
        fileset_group
    wildcard_constraints:
        dataset=_alternatives(FILESETS),
        stem=STEM_PATTERN,
    resources:
        mem_mb=lambda w, attempt: 4000 * attempt,
        runtime=lambda w, attempt: 60 * attempt,
    shell:
        "baler --log {log} evaluate-file {input.original:q} {input.reconstructed} -o {output} "
        "--error-bound {params.bound} {params.read} 2>> {log}"


rule summarize_files:
    input:
        lambda w: fileset_file_outputs(w.dataset),
    output:
        summary=report(
            "results/{dataset}/summary.tsv",
            caption="../report/summary.rst",
            category="Sweep summary",
            labels={"dataset": "{dataset}", "figure": "table"},
        ),
        files="results/{dataset}/files.tsv",
        metrics="results/{dataset}/files_metrics.tsv",
    params:
        points=lambda w: point_dirs(w.dataset),
        source=lambda w: fileset_set_json(w.dataset),
        evaluated=lambda w: "--evaluated" if fileset_evaluated(w.dataset) else "",
    log:
        "logs/summarize_files/{dataset}.log",
    wildcard_constraints:
        dataset=_alternatives(FILESETS),
    shell:
        "baler --log {log} summarize-files --dataset {wildcards.dataset} --source-json {params.source} "
        "--points {params.points} {params.evaluated} -o {output.summary} --files-table {output.files} "
        "--metrics {output.metrics} 2>> {log}"
