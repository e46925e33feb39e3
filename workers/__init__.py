"""The worker process (`messenger worker`): arq running the jobs of messenger.tasks, with metrics.

Layer: an entry point beside messenger.app, above everything in messenger/ (which imports it
only from cli.py, to start it).
"""
