"""Stage ``cli``: the ``baler`` command. One module per ``workflow/rules/*.smk`` (data, model, baselines,
evaluation, filesets), each subcommand named like its rule's step and a thin wrapper over the library.

May import every other stage; nothing imports ``cli``.
"""

from __future__ import annotations

from baler_core.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
