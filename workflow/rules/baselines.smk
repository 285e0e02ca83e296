rule baseline_gzip:
    conda:
        "../envs/baler.yaml"
    input:
        lambda w: f"results/{w.dataset}/data/test.{ext(w.dataset)}",
    output:
        "results/{dataset}/baseline/gzip-l{level}/result.json",
    log:
        "logs/baseline_gzip/{dataset}-l{level}.log",
    benchmark:
        "results/benchmarks/baseline_gzip/{dataset}-l{level}.tsv"
    shell:
        "python -m baler_core.cli --log {log} baseline {input} --codec gzip --level {wildcards.level} -o {output} 2>> {log}"


rule baseline_zstd:
    conda:
        "../envs/baler.yaml"
    input:
        lambda w: f"results/{w.dataset}/data/test.{ext(w.dataset)}",
    output:
        "results/{dataset}/baseline/zstd-l{level}/result.json",
    log:
        "logs/baseline_zstd/{dataset}-l{level}.log",
    benchmark:
        "results/benchmarks/baseline_zstd/{dataset}-l{level}.tsv"
    shell:
        "python -m baler_core.cli --log {log} baseline {input} --codec zstd --level {wildcards.level} -o {output} 2>> {log}"


rule baseline_truncation:
    conda:
        "../envs/baler.yaml"
    input:
        lambda w: f"results/{w.dataset}/data/test.{ext(w.dataset)}",
    output:
        "results/{dataset}/baseline/trunc-l{level}/result.json",
    log:
        "logs/baseline_truncation/{dataset}-l{level}.log",
    benchmark:
        "results/benchmarks/baseline_truncation/{dataset}-l{level}.tsv"
    shell:
        "python -m baler_core.cli --log {log} baseline {input} --codec trunc --level {wildcards.level} -o {output} 2>> {log}"


rule baseline_lossless:
    conda:
        "../envs/baler.yaml"
    input:
        lambda w: f"results/{w.dataset}/data/test.{ext(w.dataset)}",
    output:
        "results/{dataset}/baseline/{peer}/result.json",
    log:
        "logs/baseline_lossless/{dataset}-{peer}.log",
    benchmark:
        "results/benchmarks/baseline_lossless/{dataset}-{peer}.tsv"
    wildcard_constraints:
        peer="lzma|pcodec|blosc2|openzl",
    shell:
        "python -m baler_core.cli --log {log} baseline {input} --codec {wildcards.peer} -o {output} 2>> {log}"


rule baseline_preset:
    conda:
        "../envs/baler.yaml"
    input:
        lambda w: f"results/{w.dataset}/data/test.{ext(w.dataset)}",
    output:
        result="results/{dataset}/baseline/{preset}-{after}/result.json",
        metrics="results/{dataset}/baseline/{preset}-{after}/metrics.tsv",
    log:
        "logs/baseline_preset/{dataset}-{preset}-{after}.log",
    benchmark:
        "results/benchmarks/baseline_preset/{dataset}-{preset}-{after}.tsv"
    wildcard_constraints:
        preset="atlas7|atlas10|nanoaod",
        after="zstd19|lzma9",
    shell:
        "python -m baler_core.cli --log {log} baseline {input} --codec {wildcards.preset} --after {wildcards.after} "
        "-o {output.result} --metrics {output.metrics} 2>> {log}"


rule baseline_lossy:
    conda:
        "../envs/baler.yaml"
    input:
        lambda w: f"results/{w.dataset}/data/test.{ext(w.dataset)}",
    output:
        result="results/{dataset}/baseline/{lossy}-eb-{bound}/result.json",
        metrics="results/{dataset}/baseline/{lossy}-eb-{bound}/metrics.tsv",
    params:
        bound=lambda w: bound_spec(w.bound),
    log:
        "logs/baseline_lossy/{dataset}-{lossy}-{bound}.log",
    benchmark:
        "results/benchmarks/baseline_lossy/{dataset}-{lossy}-{bound}.tsv"
    wildcard_constraints:
        lossy="sz3|zfp|sperr|grid",
    shell:
        "python -m baler_core.cli --log {log} baseline {input} --codec {wildcards.lossy} --error-bound {params.bound} "
        "-o {output.result} --metrics {output.metrics} 2>> {log}"
