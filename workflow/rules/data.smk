rule extract_dataset:
    output:
        "results/{dataset}/data/full.parquet",
    params:
        source=lambda w: DATASETS[w.dataset]["source"],
        args=lambda w: extract_args(w.dataset),
    log:
        "logs/extract_dataset/{dataset}.log",
    wildcard_constraints:
        dataset=_alternatives([d for d in TABLES if "path" in DATASETS[d]["source"]]),
    shell:
        "baler --log {log} extract {params.args} -o {output} 2>> {log}"


rule extract_field:
    output:
        "results/{dataset}/data/full.npy",
    params:
        path=lambda w: DATASETS[w.dataset]["source"]["path"],
    log:
        "logs/extract_field/{dataset}.log",
    wildcard_constraints:
        dataset=_alternatives([d for d in FIELDS if "path" in DATASETS[d]["source"]]),
    shell:
        "python -c \"import numpy as np, sys; from baler_core.fields import read_field; "
        "np.save(sys.argv[2], np.asarray(read_field(sys.argv[1])))\" '{params.path}' {output} 2> {log}"


rule simulate_cfd:
    output:
        "results/{dataset}/data/full.npy",
    params:
        source=lambda w: DATASETS[w.dataset]["source"],
        args=lambda w: simulate_args(w.dataset),
    log:
        "logs/simulate_cfd/{dataset}.log",
    benchmark:
        "results/benchmarks/simulate_cfd/{dataset}.tsv"
    wildcard_constraints:
        dataset=_alternatives([d for d in FIELDS if "generator" in DATASETS[d]["source"]]),
    shell:
        "baler --log {log} simulate-cfd {params.args} -o {output} 2>> {log}"


rule split_dataset:
    input:
        lambda w: f"results/{w.dataset}/data/full.{ext(w.dataset)}",
    output:
        train="results/{dataset}/data/train.{ext}",
        val="results/{dataset}/data/val.{ext}",
        test="results/{dataset}/data/test.{ext}",
    params:
        split=config["split"],
    log:
        "logs/split_dataset/{dataset}.{ext}.log",
    wildcard_constraints:
        ext="parquet|npy",
    shell:
        "baler --log {log} split {input} --train {output.train} --val {output.val} --test {output.test} "
        "--val-fraction {params.split[val_fraction]} --test-fraction {params.split[test_fraction]} "
        "--seed {params.split[seed]} 2>> {log}"


rule fit_normalization:
    input:
        lambda w: f"results/{w.dataset}/data/train.{ext(w.dataset)}",
    output:
        "results/{dataset}/data/normalization.json",
    params:
        method=lambda w: training_settings_for_dataset(w.dataset)["normalization"],
        log_columns=lambda w: _log_columns(w.dataset),
    log:
        "logs/fit_normalization/{dataset}.log",
    shell:
        "baler --log {log} fit-norm {input} -o {output} --method {params.method} "
        "--log-columns '{params.log_columns}' 2>> {log}"


def training_settings_for_dataset(dataset):
    return {**config["model"], **DATASETS[dataset].get("model", {})}


def _log_columns(dataset):
    cols = training_settings_for_dataset(dataset).get("log_columns", "auto")
    if cols is None:
        return "none"
    return cols if isinstance(cols, str) else ",".join(cols)
