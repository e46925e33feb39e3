"""The worker process (`messenger worker`): arq running the jobs of messenger.tasks, with metrics.

Layer: an entry point beside messenger.app, above everything in messenger/ (which never imports
it: `messenger worker` replaces its process with `python -m workers`).
"""
