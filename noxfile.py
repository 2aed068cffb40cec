"""Nox sessions: the same checks ``bin/dev test`` runs, each in its own pinned environment."""

from __future__ import annotations

import glob

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "types", "layers", "docs", "tests"]

INSTALL = ("-c", "constraints.txt", "-e", ".[dev]")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (unit, contract, property, integration, end to end)."""
    session.install(*INSTALL)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    session.install(*INSTALL)
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session
def types(session: nox.Session) -> None:
    """``mypy --strict`` on ``src/``."""
    session.install(*INSTALL)
    session.run("mypy", "src")


@nox.session
def layers(session: nox.Session) -> None:
    """The import-linter layer contract."""
    session.install(*INSTALL)
    session.run("lint-imports")


@nox.session
def docs(session: nox.Session) -> None:
    """The MkDocs site, built with ``--strict``."""
    session.install(*INSTALL)
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def benchmarks(session: nox.Session) -> None:
    """The benchmarks (figures, not pass/fail)."""
    session.install(*INSTALL)
    for script in sorted(glob.glob("benchmarks/bench_*.py")):
        session.run("python", script)
