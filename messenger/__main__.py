"""`python -m messenger`: the command line (cli.py). Layer: infrastructure (an entry point)."""

import sys

from .cli import main

sys.exit(main())
