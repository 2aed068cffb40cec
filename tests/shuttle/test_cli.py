"""The ``shuttle`` command line: exit codes that never collide with usage errors, no traceback
for any user error, ``--version`` and ``-h``, each subcommand listing only its own flags."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.shuttle.cli import SHUTTLE, Cli, free_port
from tests.shuttle.tenant import Tenant, make_tenant

from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.starbase import RunningStarbase


def _shuttle(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SHUTTLE, *args], capture_output=True, text=True, timeout=60, check=False)


def _one_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """The run failed with exit 1 and exactly one ``Error:`` line (no traceback) naming ``fragments``."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def tenant(starbase: RunningStarbase, http: httpx.Client) -> Tenant:
    return make_tenant(starbase, http, services=1)


def test_version_and_both_help_flags() -> None:
    version = _shuttle("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("shuttle ") and version.stdout.strip().split()[1][0].isdigit()
    for flag in ("-h", "--help"):
        shown = _shuttle(flag)
        assert shown.returncode == 0 and "run" in shown.stdout and "plan" in shown.stdout
        assert "Exit codes" not in shown.stdout or "3" in shown.stdout


@pytest.mark.parametrize(
    ("command", "present", "absent"),
    [
        (
            "plan",
            {"--starbase-url", "--kubeconfig", "--output", "--log-format"},
            {
                "--interval",
                "--metrics-port",
                "--metrics-host",
                "--state-dir",
                "--workers",
                "--shutdown-timeout",
            },
        ),
        (
            "once",
            {"--state-dir", "--workers", "--outbox-capacity"},
            {
                "--interval",
                "--metrics-port",
                "--metrics-host",
                "--shutdown-timeout",
                "--output",
                "--usage-interval",
            },
        ),
        (
            "run",
            {"--state-dir", "--interval", "--metrics-port", "--shutdown-timeout", "--usage-interval"},
            {"--output"},
        ),
    ],
)
def test_each_subcommand_lists_only_its_own_flags(command: str, present: set[str], absent: set[str]) -> None:
    shown = _shuttle(command, "-h")
    assert shown.returncode == 0, shown.stderr
    for flag in present:
        assert flag in shown.stdout, (command, flag)
    for flag in absent:
        assert flag not in shown.stdout, (command, flag)


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["plan", "--no-such-flag"],
        ["once", "--workers", "0", "--starbase-url", "http://x", "--cluster-id", "c", "--token", "t"],
        ["run", "--interval", "-1", "--starbase-url", "http://x", "--cluster-id", "c", "--token", "t"],
        ["run", "--usage-interval", "301", "--starbase-url", "http://x", "--cluster-id", "c", "--token", "t"],
        ["plan", "-o", "yaml", "--starbase-url", "http://x", "--cluster-id", "c", "--token", "t"],
        ["once"],
    ],
)
def test_a_usage_error_exits_2_with_usage_and_no_traceback(args: list[str]) -> None:
    result = _shuttle(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Usage:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["plan", "once", "run"])
def test_a_bad_kubeconfig_is_one_error_line(
    command: str, tenant: Tenant, kube: KubeTestServer, cli_factory: Callable[..., Cli], tmp_path: Path
) -> None:
    cli = cli_factory(tenant)
    garbage = tmp_path / "garbage.yaml"
    garbage.write_text("this: [is not: a kubeconfig")
    for kubeconfig, fragment in (
        (tmp_path / "missing.yaml", "Kubernetes configuration"),
        (garbage, "Kubernetes"),
    ):
        args = [a if a != str(cli.kubeconfig) else str(kubeconfig) for a in cli.args(command)]
        _one_error(cli.run(command, args=args), fragment)
    assert kube.requests.writes() == []


@pytest.mark.parametrize("command", ["plan", "once"])
def test_an_unreachable_kubernetes_api_is_one_error_line(
    command: str, tenant: Tenant, kube: KubeTestServer, cli_factory: Callable[..., Cli], tmp_path: Path
) -> None:
    cli = cli_factory(tenant)
    dead = KubeTestServer()
    closed = tmp_path / "closed.yaml"
    dead.write_kubeconfig(closed)  # never started: nothing listens there
    args = [a if a != str(cli.kubeconfig) else str(closed) for a in cli.args(command)]
    message = _one_error(cli.run(command, args=args))
    assert "MaxRetryError" not in message
    assert "did not answer" in message


@pytest.mark.parametrize("command", ["plan", "once"])
def test_an_unreachable_starbase_is_one_error_line(
    command: str, tenant: Tenant, cli_factory: Callable[..., Cli]
) -> None:
    cli = cli_factory(tenant)
    args = cli.args(command)
    args[args.index("--starbase-url") + 1] = f"http://127.0.0.1:{free_port()}"
    _one_error(cli.run(command, args=args), "ConnectError")


@pytest.mark.parametrize("command", ["plan", "once"])
def test_a_bad_token_is_one_error_line_that_never_shows_the_token(
    command: str, tenant: Tenant, kube: KubeTestServer, cli_factory: Callable[..., Cli]
) -> None:
    cli = cli_factory(tenant)
    bad = "sba_this-is-not-the-agent-token"
    result = cli.run(command, token=bad)
    _one_error(result, "HTTP 40")
    assert bad not in result.stderr + result.stdout
    assert kube.requests.writes() == []


def test_an_unusable_state_directory_is_one_error_line(
    tenant: Tenant, cli_factory: Callable[..., Cli], tmp_path: Path
) -> None:
    cli = cli_factory(tenant)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    args = cli.args("once")
    args[args.index("--state-dir") + 1] = str(blocker / "state")
    _one_error(cli.run("once", args=args), "state directory")


def test_logs_are_json_lines_and_text_on_request(tenant: Tenant, cli_factory: Callable[..., Cli]) -> None:
    cli = cli_factory(tenant)
    as_json = cli.run("once")
    assert as_json.returncode == 0, as_json.stderr
    lines = [json.loads(line) for line in as_json.stderr.splitlines() if line.strip()]
    reconciled = [line for line in lines if line["event"] == "reconciled"]
    assert len(reconciled) == 1 and reconciled[0]["outcome"] == "applied"
    assert {"level", "timestamp", "logger"} <= set(reconciled[0])
    assert "{'" not in as_json.stderr, "no Python reprs"
    as_text = cli.run("once", "--log-format", "text")
    assert as_text.returncode == 0
    assert "reconciled" in as_text.stderr and not as_text.stderr.lstrip().startswith("{")
