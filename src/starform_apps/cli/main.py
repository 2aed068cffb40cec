"""Entry point of the ``starform`` command: one click group, one module per subcommand.

Conventions every subcommand keeps: ``-h``/``--help`` and ``--version``; its help lists only its
own options; a user error is one line on stderr (``invalid: ...`` or ``error: ...``) and exit
status 1, a usage error (an unknown flag, a missing argument) click's usage message and exit
status 2; never a traceback.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata

import click

from starform_apps.cli.demo_cmd import demo
from starform_apps.cli.payload_cmd import payload
from starform_apps.cli.plan_cmd import health, plan_command
from starform_apps.cli.render_cmd import render
from starform_core.errors import StarformError

__all__ = ["INTERNAL_ERROR_EXIT", "cli", "main"]

INTERNAL_ERROR_EXIT = 70
"""Exit status of an unexpected internal error (a bug): ``EX_SOFTWARE`` of sysexits.h."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="starform", prog_name="starform")
def cli() -> None:
    """Starform: Starbase decides, Shuttle applies."""


cli.add_command(payload)
cli.add_command(render)
cli.add_command(plan_command)
cli.add_command(health)
cli.add_command(demo)


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"starform, version {metadata.version('starform')}")
        ctx.exit()


def _with_version(command: click.Command) -> None:
    """Give ``command`` and every subcommand below it a ``--version`` option."""
    if not any("--version" in param.opts for param in command.params):
        command.params.append(
            click.Option(
                ["--version"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_show_version,
                help="Show the version and exit.",
            )
        )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_version(sub)


_with_version(cli)


def main() -> None:
    """Run the ``starform`` command line.

    A :class:`StarformError` that a subcommand did not report itself is one ``error:`` line and
    exit status 1; anything else is a bug: one line naming its type and exit status 70 (set
    ``STARFORM_TRACEBACK=1`` to see the traceback).
    """
    try:
        cli.main(prog_name="starform")
    except StarformError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("STARFORM_TRACEBACK") == "1":
            raise
        click.echo(
            f"error: internal error ({type(exc).__name__}); this is a bug: please report it "
            "(STARFORM_TRACEBACK=1 shows the traceback)",
            err=True,
        )
        sys.exit(INTERNAL_ERROR_EXIT)
