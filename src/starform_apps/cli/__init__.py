"""The ``starform`` command line: payload contract tools, rendering, planning and the demo."""

from starform_apps.cli.main import cli, main

__all__ = ["cli", "main"]
