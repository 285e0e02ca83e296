# Ratio at equal error against the anchors (benchmarks/anchors.py, issue 6) and the per-variable table next to
# the Baler study (benchmarks/study_table.py). Standalone-valid:
#   snakemake -s benchmarks/anchors.smk --cores 2 results/benchmarks/anchors.tsv results/benchmarks/study_table.tsv
# (targets before `--config`, which takes every name=value after it)
# or `include:` it from the workflow. Not part of the default target: it needs the shared jets table
# (../shared/data) and takes ~15 minutes on 2 cores. `--config benchmark_anchors_args=--quick` runs the smoke
# variant (10k jets, small fields, short training).
import os

BENCH_DIR = str(workflow.current_basedir)
SHARED_JETS = "../shared/data/pythia_jets_13TeV_50k.parquet"


rule benchmark_anchors:
    input:
        script=os.path.join(BENCH_DIR, "anchors.py"),
        data=SHARED_JETS,
    output:
        tsv="results/benchmarks/anchors.tsv",
    log:
        "logs/benchmark_anchors/anchors.log",
    params:
        extra=lambda w: config.get("benchmark_anchors_args", ""),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=40,
    shell:
        "python {input.script} --out {output.tsv} {params.extra} > {log} 2>&1"


rule benchmark_study_table:
    input:
        script=os.path.join(BENCH_DIR, "study_table.py"),
        data=SHARED_JETS,
    output:
        tsv="results/benchmarks/study_table.tsv",
    log:
        "logs/benchmark_anchors/study_table.log",
    threads: 2
    resources:
        mem_mb=8000,
        runtime=30,
    shell:
        "python {input.script} --out {output.tsv} > {log} 2>&1"
