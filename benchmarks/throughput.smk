# Throughput, memory and CPU-training benchmark (benchmarks/throughput.py, issue 9). Standalone-valid:
#   snakemake -s benchmarks/throughput.smk --cores 2 results/benchmarks/throughput.tsv
# or `include:` it from the workflow. Not part of the default target: it takes ~15 minutes on 2 cores, and its
# timings only mean something on an otherwise idle machine. Paths are relative to the working directory
# (the repository root); the script itself is found next to this file. Extra script options through the config,
# e.g. `--config benchmark_throughput_args=--quick` for the 2-minute smoke variant.
import os

THROUGHPUT_SCRIPT = os.path.join(str(workflow.current_basedir), "throughput.py")


rule benchmark_throughput:
    input:
        script=THROUGHPUT_SCRIPT,
        data="../shared/data/pythia_jets_13TeV_50k.parquet",
    output:
        tsv="results/benchmarks/throughput.tsv",
        json="results/benchmarks/throughput.json",
    log:
        "logs/benchmark_throughput/throughput.log",
    params:
        extra=lambda w: config.get("benchmark_throughput_args", ""),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=30,
    shell:
        "python {input.script} --data {input.data} --out {output.tsv} {params.extra} > {log} 2>&1"
