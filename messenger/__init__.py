"""messenger: a self-hosted, horizontally scalable messaging server."""

__version__ = "0.1.0"
