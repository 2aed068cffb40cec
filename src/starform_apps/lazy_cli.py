"""Command groups whose subcommands are imported only when they run.

A program's ``--help`` lists its subcommands from a table (name, one-line help, where the
command lives, which extra installs its dependencies), so it imports none of them: ``starform
--help`` does not load the demo, ``starbase --help`` neither PostgreSQL nor the web framework.
A subcommand is imported when it runs or its own ``--help`` is asked for; if its extra is not
installed, that is one clear error line naming the extra, never a traceback.

To add a subcommand, add a row to the program's table; ``tests/unit/test_lazy_cli.py`` checks
that every row loads and that its help matches the command's own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import click

from starform_apps.launch import missing_extra_message, missing_module

__all__ = ["LazyGroup", "LazySubcommand", "MissingExtraError"]


@attrs.frozen
class LazySubcommand:
    """Where a subcommand lives, its one-line help, and the extra that installs what it needs.

    ``target`` is ``"package.module:attribute"``: the click command itself or, with
    ``in_group``, a click group whose member of the same name is the subcommand (for commands a
    module registers on its group by code).
    """

    target: str
    help: str
    extra: str
    in_group: bool = False


class MissingExtraError(click.ClickException):
    """A subcommand's dependencies are not installed (exit status 1, one line)."""


def _import(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


class LazyGroup(click.Group):
    """A click group that imports each subcommand of ``lazy`` on first use.

    ``on_load`` is called with each command once it is loaded (``starform`` gives every
    command ``--version`` that way).
    """

    def __init__(
        self,
        *args: Any,
        lazy: Mapping[str, LazySubcommand],
        on_load: Callable[[click.Command], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)
        self._on_load = on_load

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The table's subcommands and any added directly, sorted."""
        return sorted({*self.lazy, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The subcommand, imported now if it was not yet."""
        loaded = super().get_command(ctx, cmd_name)
        if loaded is not None or cmd_name not in self.lazy:
            return loaded
        command = self._load(ctx, cmd_name, self.lazy[cmd_name])
        if self._on_load is not None:
            self._on_load(command)
        self.add_command(command, cmd_name)
        return command

    def _load(self, ctx: click.Context, name: str, entry: LazySubcommand) -> click.Command:
        try:
            found = _import(entry.target)
        except ModuleNotFoundError as exc:
            module = missing_module(exc)
            if module is None:
                raise
            raise MissingExtraError(
                missing_extra_message(f"{ctx.command_path} {name}", entry.extra, module)
            ) from exc
        if entry.in_group:
            found = found.get_command(ctx, name) if isinstance(found, click.Group) else None
        if not isinstance(found, click.Command):
            raise TypeError(f"{entry.target} does not provide the click command {name!r}")
        return found

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands section of ``--help``, from the table: nothing is imported."""
        rows: dict[str, click.Command] = {
            name: click.Command(name, help=entry.help) for name, entry in self.lazy.items()
        }
        rows.update({name: command for name, command in self.commands.items() if not command.hidden})
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, rows[name].get_short_help_str(limit)) for name in sorted(rows)])
