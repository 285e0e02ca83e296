"""``python -m baler_core.cli``: what every Snakemake rule runs."""

import sys

from baler_core.cli.main import main

sys.exit(main())
