"""The ``starbase`` program: its top-level group, which lists the subcommands without importing them.

The commands live in :mod:`starform_apps.starbase.cli` (whose ``main`` group holds them all,
for tests and ``python -m``); this group loads that module only when a subcommand runs or its
own ``--help`` is asked for, so ``starbase --help`` imports neither PostgreSQL nor the web
framework. A subcommand registered on ``cli.main`` needs a row in :data:`SUBCOMMANDS` too
(``tests/unit/test_lazy_cli.py`` fails until it has one).
"""

from __future__ import annotations

from typing import Any

import click

from starform_apps.lazy_cli import LazyGroup, LazySubcommand

__all__ = ["SUBCOMMANDS", "main"]

_COMMANDS = "starform_apps.starbase.cli:main"


def _subcommand(help_line: str) -> LazySubcommand:
    return LazySubcommand(_COMMANDS, help_line, "starbase", in_group=True)


SUBCOMMANDS: dict[str, LazySubcommand] = {
    "serve": _subcommand("Migrate and serve the HTTP API until SIGTERM or Ctrl-C."),
    "migrate": _subcommand("Apply pending schema migrations (and the job queue's schema)."),
    "cluster": _subcommand("Manage clusters."),
    "user": _subcommand("Manage users."),
    "token": _subcommand(
        "Manage API tokens (create, list, revoke, rotate); secrets are shown once, stored hashed."
    ),
    "template": _subcommand("The template catalogue: list, show and publish versioned service blueprints."),
    "billing": _subcommand("Usage, invoices and payments."),
    "worker": _subcommand(
        "Run Starbase's job worker (monthly close, dunning, purges, builds) until interrupted."
    ),
}
"""Every ``starbase`` subcommand and its one-line help."""


class _StarbaseGroup(LazyGroup):
    """Turns the project's errors into ``Error: ...`` and exit 1, as ``cli.main`` does."""

    def invoke(self, ctx: click.Context) -> Any:
        from starform_core.errors import StarformError

        try:
            return super().invoke(ctx)
        except StarformError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_StarbaseGroup, lazy=SUBCOMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="starform", prog_name="starbase")
def main() -> None:
    """Starbase: Starform's control plane."""
