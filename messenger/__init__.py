"""messenger: a self-hosted, horizontally scalable messaging server.

Its layers, top down: the edge (HTTP, documents, the container), the realtime core
(`realtime/`), the domain, flat infrastructure, and the ground floor (`model.py`). Imports only
go down; README.md ("Layout") shows the tree.
"""

__version__ = "0.1.0"
