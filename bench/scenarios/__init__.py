"""Scenarios: each takes the parsed arguments and returns (JSON data, correctness problems)."""
