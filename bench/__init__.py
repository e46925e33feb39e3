"""Load-testing suite for messenger: `python -m bench <scenario>` (see bench/README.md)."""
