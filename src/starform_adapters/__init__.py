"""Adapters: I/O behind the core's ports (PostgreSQL, Kubernetes, Starbase HTTP) and their test doubles."""
