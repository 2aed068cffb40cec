"""Entry point of the ``starform`` command: one click group, one module per subcommand."""

from __future__ import annotations

import click

from starform_apps.cli.demo_cmd import demo
from starform_apps.cli.payload_cmd import payload
from starform_apps.cli.plan_cmd import health, plan_command
from starform_apps.cli.render_cmd import render

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="starform")
def cli() -> None:
    """Starform: Starbase decides, Shuttle applies."""


cli.add_command(payload)
cli.add_command(render)
cli.add_command(plan_command)
cli.add_command(health)
cli.add_command(demo)


def main() -> None:
    """Run the ``starform`` command line."""
    cli()
