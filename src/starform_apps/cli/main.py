"""Entry point of the ``starform`` command: one click group, one module per subcommand.

Each subcommand is imported only when it runs (see :mod:`starform_apps.lazy_cli`), so
``starform --help`` imports none of them. Conventions every subcommand keeps: ``-h``/``--help``
and ``--version``; its help lists only its own options; a user error is one line on stderr
(``invalid: ...`` or ``error: ...``) and exit status 1, a usage error (an unknown flag, a
missing argument) click's usage message and exit status 2; never a traceback.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata

import click

from starform_apps.lazy_cli import LazyGroup, LazySubcommand
from starform_core.errors import StarformError

__all__ = ["INTERNAL_ERROR_EXIT", "SUBCOMMANDS", "cli", "main"]

INTERNAL_ERROR_EXIT = 70
"""Exit status of an unexpected internal error (a bug): ``EX_SOFTWARE`` of sysexits.h."""


SUBCOMMANDS: dict[str, LazySubcommand] = {
    "payload": LazySubcommand(
        "starform_apps.cli.payload_cmd:payload", "The desired-state payload contract (§25.1).", "cli"
    ),
    "render": LazySubcommand(
        "starform_apps.cli.render_cmd:render",
        "Render payload FILE (- for stdin): owned objects in apply order, then partials, as YAML.",
        "cli",
    ),
    "plan": LazySubcommand(
        "starform_apps.cli.plan_cmd:plan_command", "Plan PAYLOAD against live objects.", "cli"
    ),
    "health": LazySubcommand(
        "starform_apps.cli.plan_cmd:health",
        "Print the health of every service (pods included), judged against --payload when given.",
        "cli",
    ),
    "demo": LazySubcommand(
        "starform_apps.cli.demo_cmd:demo",
        "Start PostgreSQL, Starbase, a Kubernetes test server and Shuttle; tell the story; stop.",
        "demo",
    ),
    "kube-testserver": LazySubcommand(
        "starform_apps.cli.kube_testserver_cmd:kube_testserver",
        "Run the in-memory Kubernetes test server and write a kubeconfig for kubectl and Shuttle.",
        "kube-testserver",
    ),
}
"""Every ``starform`` subcommand: where it lives, its one-line help, the extra it needs."""


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
    if isinstance(command, click.Group) and not isinstance(command, LazyGroup):
        for sub in command.commands.values():
            _with_version(sub)


@click.group(
    cls=LazyGroup,
    lazy=SUBCOMMANDS,
    on_load=_with_version,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="starform", prog_name="starform")
def cli() -> None:
    """Starform: Starbase decides, Shuttle applies."""


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
