# File sets: a table or field dataset with `source.files` (glob) or `source.file_list` (text file) is one model
# for many input files. The model is trained once on rows (frames) drawn across the training files
# (`sample_training_rows` writes data/train.parquet and data/val.parquet, `sample_training_frames` data/train.npy
# and data/val.npy, so `fit_normalization` and `train_model` run as for any table or field); then
# every input file is compressed by its own job, `compress_file`, and, with `evaluate_files: true`, decompressed
# and evaluated by its own jobs; `summarize_files` pools bytes and errors over the files into summary.tsv.
# Adding files to the set runs only their jobs and the summary: the training files are recorded in
# results/<dataset>/data/training_files.json at first use (see baler_core/io/filesets.py: training_files).
ruleorder: sample_training_rows > split_dataset
ruleorder: sample_training_frames > split_dataset
ruleorder: summarize_files > summarize_sweep


rule sample_training_rows:
    conda:
        "../envs/baler.yaml"
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
        dataset=_alternatives(TABLE_FILESETS),
    resources:
        mem_mb=4000,
    shell:
        "python -m baler_core.cli --log {log} sample-files {input:q} --source-json {params.source} "
        "--val-fraction {params.val_fraction} --train {output.train} --val {output.val} "
        "--manifest {output.manifest} 2>> {log}"


rule sample_training_frames:
    conda:
        "../envs/baler.yaml"
    input:
        fileset_training_files,
    output:
        train="results/{dataset}/data/train.npy",
        val="results/{dataset}/data/val.npy",
        manifest="results/{dataset}/data/training_files.json",
    params:
        source=lambda w: fileset_sample_json(w.dataset),
        val_fraction=config["split"]["val_fraction"],
    log:
        "logs/sample_training_frames/{dataset}.log",
    benchmark:
        "results/benchmarks/sample_training_frames/{dataset}.tsv"
    wildcard_constraints:
        dataset=_alternatives(FIELD_FILESETS),
    resources:
        mem_mb=4000,
    shell:
        "python -m baler_core.cli --log {log} sample-files {input:q} --kind field --source-json {params.source} "
        "--val-fraction {params.val_fraction} --train {output.train} --val {output.val} "
        "--manifest {output.manifest} 2>> {log}"


rule fit_priors:
    conda:
        "../envs/baler.yaml"
    input:
        model="results/{dataset}/{model}-r{ratio}-s{seed}/model.safetensors",
        train="results/{dataset}/data/train.parquet",
    output:
        "results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/model.safetensors",
    params:
        bound=lambda w: bound_spec(w.bound),
        # what the model file holds (a change here reruns the rule on existing results: models fitted before
        # the set's ranges and header templates existed are fitted again, as compress_file --range-of needs)
        holds="priors, ranges, header template",
    log:
        "logs/fit_priors/{dataset}/{model}-r{ratio}-s{seed}-{bound}.log",
    wildcard_constraints:
        dataset=_alternatives(TABLE_FILESETS),
    resources:
        mem_mb=4000,
    shell:
        "python -m baler_core.cli --log {log} fit-priors {input.model} {input.train} --error-bound {params.bound} "
        "-o {output} --skip-unsupported > /dev/null 2>> {log}"


# ROOT files of a table set are compressed flattened (--flatten), one row per object, as evaluate_file reads them;
# the files of a field set are decompressed to NPY, or to HDF5 from HDF5, NetCDF and zarr (`{ext}`: parquet, npy or
# h5; evaluate_file reads either format back).
rule compress_file:
    conda:
        "../envs/baler.yaml"
    input:
        data=fileset_path,
        model=fileset_model,
    output:
        baler="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.baler",
        stats="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.json",
    params:
        bound=lambda w: bound_spec(w.bound),
        read=lambda w: fileset_compress_args(w.dataset),
        range_of=fileset_range_of,
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
        "python -m baler_core.cli --log {log} compress {input.data:q} -m {input.model} -o {output.baler} "
        "--error-bound {params.bound} {params.range_of} --stats {output.stats} {params.read} --flatten "
        "> /dev/null 2>> {log}"


rule decompress_file:
    conda:
        "../envs/baler.yaml"
    input:
        baler="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.baler",
        model=fileset_model,
    output:
        data=temp("results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.{ext}"),
        stats="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.decompress.{ext}.json",
    log:
        "logs/decompress_file/{dataset}/{model}-r{ratio}-s{seed}-{bound}/{stem}.{ext}.log",
    group:
        fileset_group
    wildcard_constraints:
        dataset=_alternatives(FILESETS),
        stem=STEM_PATTERN,
        ext="parquet|npy|h5",
    resources:
        mem_mb=lambda w, attempt: 3000 * attempt,
        runtime=lambda w, attempt: 60 * attempt,
    shell:
        "python -m baler_core.cli --log {log} decompress {input.baler} -m {input.model} -o {output.data} "
        "--stats {output.stats} 2>> {log}"


rule evaluate_file:
    conda:
        "../envs/baler.yaml"
    input:
        original=fileset_path,
        reconstructed=lambda w: f"results/{w.dataset}/{w.model}-r{w.ratio}-s{w.seed}/eb-{w.bound}/files/{w.stem}.{fileset_ext(w.dataset)}",
        model=fileset_model,
    output:
        "results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/files/{stem}.metrics.tsv",
    params:
        bound=lambda w: bound_spec(w.bound),
        read=lambda w: fileset_read_args(w.dataset),
        range_of=fileset_range_of,
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
        "python -m baler_core.cli --log {log} evaluate-file {input.original:q} {input.reconstructed} -o {output} "
        "--error-bound {params.bound} {params.range_of} {params.read} 2>> {log}"


# The references on the same files, each file alone (baselines.lossy_bounds): baler without a model and the
# installed lossy peers, pooled by summarize_files next to the model's points (Parquet, NPZ and NPY sets).
rule baseline_file:
    conda:
        "../envs/baler.yaml"
    input:
        fileset_path,
    output:
        "results/{dataset}/baseline/{lossy}-eb-{bound}/files/{stem}.json",
    params:
        bound=lambda w: bound_spec(w.bound),
    log:
        "logs/baseline_file/{dataset}/{lossy}-{bound}/{stem}.log",
    group:
        fileset_baseline_group
    wildcard_constraints:
        dataset=_alternatives(FILESETS),
        stem=STEM_PATTERN,
        lossy="sz3|zfp|sperr|grid",
    resources:
        mem_mb=lambda w, attempt: 3000 * attempt,
        runtime=lambda w, attempt: 60 * attempt,
    shell:
        "python -m baler_core.cli --log {log} baseline {input:q} --codec {wildcards.lossy} "
        "--error-bound {params.bound} -o {output} 2>> {log}"


rule summarize_files:
    conda:
        "../envs/baler.yaml"
    input:
        points=lambda w: fileset_file_outputs(w.dataset),
        baselines=lambda w: fileset_baseline_outputs(w.dataset),
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
        kind=lambda w: DATASETS[w.dataset]["kind"],
        baselines=lambda w: " ".join(f"results/{w.dataset}/baseline/{b}" for b in fileset_baseline_names(w.dataset)),
    log:
        "logs/summarize_files/{dataset}.log",
    wildcard_constraints:
        dataset=_alternatives(FILESETS),
    shell:
        "python -m baler_core.cli --log {log} summarize-files --dataset {wildcards.dataset} --kind {params.kind} "
        "--source-json {params.source} "
        "--points {params.points} --baselines {params.baselines} {params.evaluated} -o {output.summary} "
        "--files-table {output.files} "
        "--metrics {output.metrics} 2>> {log}"
