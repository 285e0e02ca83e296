"""Pipeline helper commands (filled in with the Snakemake workflow)."""


def add_pipeline_commands(sub) -> None:
    return None
