rule train_model:
    conda:
        "../envs/baler.yaml"
    input:
        train=lambda w: f"results/{w.dataset}/data/train.{train_ext(w.dataset)}",
        val=lambda w: f"results/{w.dataset}/data/val.{train_ext(w.dataset)}",
        norm="results/{dataset}/data/normalization.json",
    output:
        model="results/{dataset}/{model}-r{ratio}-s{seed}/model.safetensors",
        history="results/{dataset}/{model}-r{ratio}-s{seed}/history.tsv",
    params:
        settings=training_json,
    log:
        "logs/train_model/{dataset}/{model}-r{ratio}-s{seed}.log",
    benchmark:
        "results/benchmarks/train_model/{dataset}/{model}-r{ratio}-s{seed}.tsv"
    threads: 2
    resources:
        gpu=train_gpus,
        mem_mb=4000,
        runtime=120,
    shell:
        "python -m baler_core.cli --log {log} train {input.train} --val-input {input.val} --normalization {input.norm} "
        "-o {output.model} --history {output.history} --model {wildcards.model} --ratio {wildcards.ratio} "
        "--seed {wildcards.seed} --config-json '{params.settings}' --resume 2>> {log}"


rule compress_dataset:
    conda:
        "../envs/baler.yaml"
    input:
        data=lambda w: f"results/{w.dataset}/data/test.{ext(w.dataset)}",
        model="results/{dataset}/{model}-r{ratio}-s{seed}/model.safetensors",
    output:
        baler="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/test.baler",
        stats="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/compress.json",
    params:
        bound=lambda w: bound_spec(w.bound),
    log:
        "logs/compress_dataset/{dataset}/{model}-r{ratio}-s{seed}-{bound}.log",
    benchmark:
        "results/benchmarks/compress_dataset/{dataset}/{model}-r{ratio}-s{seed}-{bound}.tsv"
    shell:
        "python -m baler_core.cli --log {log} compress {input.data} -m {input.model} -o {output.baler} "
        "--error-bound {params.bound} --stats {output.stats} > /dev/null 2>> {log}"


rule decompress_dataset:
    conda:
        "../envs/baler.yaml"
    input:
        baler="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/test.baler",
        model="results/{dataset}/{model}-r{ratio}-s{seed}/model.safetensors",
    output:
        data="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/reconstructed.{ext}",
        stats="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/decompress.{ext}.json",
    log:
        "logs/decompress_dataset/{dataset}/{model}-r{ratio}-s{seed}-{bound}.{ext}.log",
    benchmark:
        "results/benchmarks/decompress_dataset/{dataset}/{model}-r{ratio}-s{seed}-{bound}.{ext}.tsv"
    wildcard_constraints:
        ext="parquet|npy|root",
    shell:
        "python -m baler_core.cli --log {log} decompress {input.baler} -m {input.model} -o {output.data} "
        "--stats {output.stats} 2>> {log}"
