"""The worker process (`messenger worker`): arq running the jobs of messenger.tasks, with metrics."""
