"""Stage ``pipeline``: the policy of the Snakemake workflow, so that ``workflow/rules/*.smk`` stay wiring.
``plan`` turns the validated config into sweep points, their bounds and folders, the baselines to run, each
point's training settings and each rule's command-line options.

May import every stage except ``cli``.
"""
