rule extract_dataset:
    conda:
        "../envs/baler.yaml"
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
        "python -m baler_core.cli --log {log} extract {params.args} -o {output} 2>> {log}"


rule extract_field:
    conda:
        "../envs/baler.yaml"
    output:
        "results/{dataset}/data/full.npy",
    params:
        path=lambda w: DATASETS[w.dataset]["source"]["path"],
    log:
        "logs/extract_field/{dataset}.log",
    wildcard_constraints:
        dataset=_alternatives([d for d in FIELDS if "path" in DATASETS[d]["source"]]),
    shell:
        "python -m baler_core.cli --log {log} extract-field '{params.path}' -o {output} 2>> {log}"


rule simulate_cfd:
    conda:
        "../envs/baler.yaml"
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
        "python -m baler_core.cli --log {log} simulate-cfd {params.args} -o {output} 2>> {log}"


rule extract_events:
    conda:
        "../envs/baler.yaml"
    output:
        "results/{dataset}/data/full.root",
    params:
        args=lambda w: extract_events_args(w.dataset),
    threads: 2  # a Pythia generator runs chunks of events in parallel processes
    log:
        "logs/extract_events/{dataset}.log",
    wildcard_constraints:
        dataset=_alternatives(EVENTS),
    shell:
        "python -m baler_core.cli --log {log} extract-events {params.args} --workers {threads} -o {output} 2>> {log}"


rule split_events:
    conda:
        "../envs/baler.yaml"
    input:
        "results/{dataset}/data/full.root",
    output:
        train="results/{dataset}/data/train.parquet",
        val="results/{dataset}/data/val.parquet",
        test="results/{dataset}/data/test.root",
    params:
        split=config["split"],
        collection=lambda w: DATASETS[w.dataset]["source"]["collection"],
    log:
        "logs/split_events/{dataset}.log",
    wildcard_constraints:
        dataset=_alternatives(EVENTS),
    shell:
        "python -m baler_core.cli --log {log} split-events {input} --collection {params.collection} "
        "--train {output.train} --val {output.val} --test {output.test} "
        "--val-fraction {params.split[val_fraction]} --test-fraction {params.split[test_fraction]} "
        "--seed {params.split[seed]} 2>> {log}"


rule split_dataset:
    conda:
        "../envs/baler.yaml"
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
        dataset=_alternatives(TABLES + FIELDS),
    shell:
        "python -m baler_core.cli --log {log} split {input} --train {output.train} --val {output.val} --test {output.test} "
        "--val-fraction {params.split[val_fraction]} --test-fraction {params.split[test_fraction]} "
        "--seed {params.split[seed]} 2>> {log}"


rule fit_normalization:
    conda:
        "../envs/baler.yaml"
    input:
        lambda w: f"results/{w.dataset}/data/train.{train_ext(w.dataset)}",
    output:
        "results/{dataset}/data/normalization.json",
    params:
        method=lambda w: normalization_method(w.dataset),
        log_columns=lambda w: log_columns(w.dataset),
    log:
        "logs/fit_normalization/{dataset}.log",
    shell:
        "python -m baler_core.cli --log {log} fit-norm {input} -o {output} --method {params.method} "
        "--log-columns '{params.log_columns}' 2>> {log}"
