rule evaluate_per_variable:
    conda:
        "../envs/baler.yaml"
    input:
        original=lambda w: f"results/{w.dataset}/data/test.{ext(w.dataset)}",
        reconstructed=lambda w: f"results/{w.dataset}/{w.model}-r{w.ratio}-s{w.seed}/eb-{w.bound}/reconstructed.{ext(w.dataset)}",
    output:
        report(
            "results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/metrics.tsv",
            caption="../report/metrics.rst",
            category="Per-variable metrics",
            subcategory="{dataset}",
            labels={"point": "{model}-r{ratio}-s{seed}", "bound": "{bound}"},
        ),
    params:
        bound=lambda w: bound_spec(w.bound),
    log:
        "logs/evaluate_per_variable/{dataset}/{model}-r{ratio}-s{seed}-{bound}.log",
    shell:
        "python -m baler_core.cli --log {log} evaluate {input.original} {input.reconstructed} -o {output} "
        "--error-bound {params.bound} 2>> {log}"


rule plot_run:
    conda:
        "../envs/baler.yaml"
    input:
        original=lambda w: f"results/{w.dataset}/data/test.{ext(w.dataset)}",
        reconstructed=lambda w: f"results/{w.dataset}/{w.model}-r{w.ratio}-s{w.seed}/eb-{w.bound}/reconstructed.{ext(w.dataset)}",
        history="results/{dataset}/{model}-r{ratio}-s{seed}/history.tsv",
    output:
        pdf="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/plots.pdf",
        png=report(
            directory("results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/png"),
            patterns=["{name}.png"],
            caption="../report/run_plots.rst",
            category="Run plots",
            subcategory="{dataset}",
            labels={"point": "{model}-r{ratio}-s{seed}", "bound": "{bound}", "figure": "{name}"},
        ),
    log:
        "logs/plot_run/{dataset}/{model}-r{ratio}-s{seed}-{bound}.log",
    shell:
        "python -m baler_core.cli --log {log} plot-run {input.original} {input.reconstructed} --history {input.history} "
        "--pdf {output.pdf} --png-dir {output.png} --title '{wildcards.dataset} {wildcards.model}-r{wildcards.ratio}-s{wildcards.seed} {wildcards.bound}' 2>> {log}"


rule evaluate_physics:
    conda:
        "../envs/baler.yaml"
    input:
        original="results/{dataset}/data/test.root",
        reconstructed="results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/reconstructed.root",
    output:
        table=report(
            "results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/physics.tsv",
            caption="../report/physics.rst",
            category="Physics-analysis check",
            subcategory="{dataset}",
            labels={"point": "{model}-r{ratio}-s{seed}", "bound": "{bound}", "figure": "table"},
        ),
        png=report(
            directory("results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/physics"),
            patterns=["{name}.png"],
            caption="../report/physics.rst",
            category="Physics-analysis check",
            subcategory="{dataset}",
            labels={"point": "{model}-r{ratio}-s{seed}", "bound": "{bound}", "figure": "{name}"},
        ),
    params:
        args=lambda w: physics_args(w.dataset),
    log:
        "logs/evaluate_physics/{dataset}/{model}-r{ratio}-s{seed}-{bound}.log",
    wildcard_constraints:
        dataset=_alternatives(EVENTS),
    shell:
        "python -m baler_core.cli --log {log} evaluate-physics {input.original} {input.reconstructed} "
        "-o {output.table} --png-dir {output.png} {params.args} "
        "--title '{wildcards.dataset} {wildcards.model}-r{wildcards.ratio}-s{wildcards.seed} {wildcards.bound}' "
        "2>> {log}"


rule summarize_sweep:
    conda:
        "../envs/baler.yaml"
    input:
        points=point_summary_inputs,
        baselines=lambda w: baseline_files(w.dataset),
    output:
        summary=report(
            "results/{dataset}/summary.tsv",
            caption="../report/summary.rst",
            category="Sweep summary",
            labels={"dataset": "{dataset}", "figure": "table"},
        ),
        ranked=report(
            "results/{dataset}/ranked.tsv",
            caption="../report/ranked.rst",
            category="Ranked methods",
            labels={"dataset": "{dataset}", "figure": "ranking"},
        ),
    params:
        points=lambda w: point_dirs(w.dataset),
    log:
        "logs/summarize_sweep/{dataset}.log",
    shell:
        "python -m baler_core.cli --log {log} summarize --dataset {wildcards.dataset} --points {params.points} "
        "--baselines {input.baselines} -o {output.summary} --ranked {output.ranked} 2>> {log}"


rule plot_rate_distortion:
    conda:
        "../envs/baler.yaml"
    input:
        "results/{dataset}/summary.tsv",
    output:
        report(
            "results/{dataset}/rate_distortion.png",
            caption="../report/rate_distortion.rst",
            category="Sweep summary",
            labels={"dataset": "{dataset}", "figure": "rate-distortion"},
        ),
    log:
        "logs/plot_rate_distortion/{dataset}.log",
    shell:
        "python -m baler_core.cli --log {log} plot-summary {input} -o {output} --title {wildcards.dataset} 2>> {log}"


rule aggregate_seeds:
    conda:
        "../envs/baler.yaml"
    input:
        lambda w: expand(
            "results/{dataset}/{model}-r{ratio}-s{seed}/eb-{bound}/metrics.tsv",
            seed=sweep(w.dataset)["seeds"],
            allow_missing=True,
        ),
    output:
        report(
            "results/{dataset}/{model}-r{ratio}-seeds/eb-{bound}/metrics_over_seeds.tsv",
            caption="../report/seeds.rst",
            category="Per-variable metrics",
            subcategory="{dataset}",
            labels={"point": "{model}-r{ratio} (all seeds)", "bound": "{bound}"},
        ),
    log:
        "logs/aggregate_seeds/{dataset}/{model}-r{ratio}-{bound}.log",
    shell:
        "python -m baler_core.cli --log {log} aggregate-seeds {input} -o {output} 2>> {log}"
