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
        lossy="sz3|zfp|grid",
    shell:
        "python -m baler_core.cli --log {log} baseline {input} --codec {wildcards.lossy} --error-bound {params.bound} "
        "-o {output.result} --metrics {output.metrics} 2>> {log}"
