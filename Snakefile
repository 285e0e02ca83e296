# Entry point at the repository root: the workflow lives in workflow/Snakefile.
# Snakemake ignores `default_target` in included files (snakemake/snakemake#2773), so the root names its own
# default target, with the same inputs as workflow/Snakefile's `all`.
include: "workflow/Snakefile"


rule default:
    input:
        lambda w: get_final_output(),
    default_target: True
