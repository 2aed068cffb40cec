"""The lazily loaded command lines (``starform``, ``starbase``): tables that match the commands,
``--help`` that imports none of them, and a missing extra named in one line.

Startup times are measured in ``benchmarks/bench_cli_startup.py``; here only what is imported.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from starform_apps.cli.main import SUBCOMMANDS as STARFORM_SUBCOMMANDS
from starform_apps.cli.main import cli as starform_cli
from starform_apps.lazy_cli import LazyGroup, LazySubcommand
from starform_apps.starbase import cli as starbase_commands
from starform_apps.starbase.program import SUBCOMMANDS as STARBASE_SUBCOMMANDS
from starform_apps.starbase.program import main as starbase_program

PROGRAMS = {"starform": starform_cli, "starbase": starbase_program}

HEAVY = (
    "starform_apps.demo",
    "starform_apps.cli.demo_cmd",
    "starform_apps.cli.render_cmd",
    "starform_apps.starbase.cli",
    "starform_core.payload",
    "starform_core.render",
    "starform_testkit",
    "kubernetes",
    "psycopg",
    "fastapi",
    "uvicorn",
    "jsonschema",
    "yaml",
)
"""Modules that ``--help`` of a program must not import."""


def _rows(group: click.Group) -> list[tuple[str, click.Group]]:
    assert isinstance(group, LazyGroup)
    return [(name, group) for name in group.lazy]


@pytest.mark.parametrize(
    ("name", "group"), [*_rows(starform_cli), *_rows(starbase_program)], ids=lambda v: str(v)[:20]
)
def test_every_row_loads_its_command_with_the_same_help(name: str, group: LazyGroup) -> None:
    ctx = click.Context(group, info_name=group.name)
    command = group.get_command(ctx, name)
    assert command is not None
    assert group.lazy[name].help == command.get_short_help_str(limit=10_000), (
        f"update the help of {name!r} in the table to match the command's docstring"
    )


def test_every_starbase_command_has_a_row() -> None:
    registered = set(starbase_commands.main.commands)
    unlisted = sorted(registered - set(STARBASE_SUBCOMMANDS))
    assert set(STARBASE_SUBCOMMANDS) == registered, (
        f"add a row to starform_apps.starbase.program.SUBCOMMANDS for {unlisted}"
    )


def test_every_starform_row_names_an_extra_of_the_distribution() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    for name, row in STARFORM_SUBCOMMANDS.items():
        assert f"\n{row.extra} = [" in pyproject, f"{name}: no extra {row.extra!r} in pyproject.toml"


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_help_lists_every_subcommand_and_imports_none(program: str) -> None:
    group = PROGRAMS[program]
    module = {"starform": "starform_apps.cli.main:cli", "starbase": "starform_apps.starbase.program:main"}[
        program
    ]
    script = (
        "import json, sys\n"
        f"module, _, name = {module!r}.partition(':')\n"
        "import importlib\n"
        "group = getattr(importlib.import_module(module), name)\n"
        "try:\n"
        f"    group.main(['--help'], prog_name={program!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(result.stderr.strip().splitlines()[-1]))
    imported = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert imported == [], f"{program} --help imports {imported}"
    assert isinstance(group, LazyGroup)
    for name in group.lazy:
        assert f"\n  {name} " in result.stdout, f"{name} missing from {program} --help"


@pytest.fixture
def fake_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Importable modules: one needing a library that is not installed, one with a broken import."""
    (tmp_path / "needs_library.py").write_text("import a_library_that_is_not_installed\n", encoding="utf-8")
    (tmp_path / "broken_import.py").write_text("import starform_apps.no_such_module\n", encoding="utf-8")
    (tmp_path / "works.py").write_text(
        "import click\n\n@click.command()\ndef go():\n    '''Go.'''\n    click.echo('went')\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def _group() -> LazyGroup:
    return LazyGroup(
        "prog",
        lazy={
            "missing": LazySubcommand("needs_library:cmd", "Needs a library.", "demo"),
            "broken": LazySubcommand("broken_import:cmd", "A bug.", "cli"),
            "go": LazySubcommand("works:go", "Go.", "cli"),
        },
    )


@pytest.mark.usefixtures("fake_commands")
def test_a_missing_library_names_the_extra_in_one_line() -> None:
    result = CliRunner().invoke(_group(), ["missing"], prog_name="prog")
    assert result.exit_code == 1
    assert result.output == (
        "Error: prog missing needs the 'demo' extra, which is not installed (no module named "
        "'a_library_that_is_not_installed'); install it with: pip install 'starform[demo]'\n"
    )


@pytest.mark.usefixtures("fake_commands")
def test_a_missing_starform_module_is_a_bug_not_an_extra() -> None:
    result = CliRunner().invoke(_group(), ["broken"], prog_name="prog")
    assert isinstance(result.exception, ModuleNotFoundError)
    assert "extra" not in result.output


@pytest.mark.usefixtures("fake_commands")
def test_a_loaded_command_runs_and_stays_loaded() -> None:
    group = _group()
    result = CliRunner().invoke(group, ["go"], prog_name="prog")
    assert (result.exit_code, result.output) == (0, "went\n")
    assert "go" in group.commands
    assert "Go." in CliRunner().invoke(group, ["--help"], prog_name="prog").output


def test_starbase_turns_project_errors_into_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing?connect_timeout=2")
    monkeypatch.setenv("ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    result = CliRunner().invoke(starbase_program, ["migrate"], prog_name="starbase")
    assert result.exit_code == 1
    assert result.output.startswith("Error: "), result.output
    assert "Traceback" not in result.output
