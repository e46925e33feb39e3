"""`python -m workers`: the worker process (main.py), which `messenger worker` execs.

Layer: worker entry point.
"""

import sys

from .main import main

sys.exit(main())
