"""The ``starform`` command line: payload contract tools, rendering, planning, the demo and the
Kubernetes test server standalone."""

from starform_apps.cli.main import cli, main

__all__ = ["cli", "main"]
