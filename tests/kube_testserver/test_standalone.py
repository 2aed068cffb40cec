"""``starform kube-testserver``: the test server as its own process, used through its kubeconfig.

The command runs as a subprocess (the installed ``starform`` program), the official client loads
the kubeconfig it wrote, and SIGTERM or SIGINT stops it cleanly: exit 0, the port closed, the
kubeconfig removed. Bad options and a kubeconfig it did not write are refused before anything runs.
"""

from __future__ import annotations

import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import kubernetes
import pytest
import yaml
from click.testing import CliRunner

from starform_apps.cli.kube_testserver_cmd import SYSTEM_NAMESPACES
from starform_apps.cli.main import cli

STARFORM = Path(sys.executable).parent / "starform"
READY_LINE = "Ctrl-C or SIGTERM stops it"
DEADLINE = 30.0


class Running:
    """A started ``starform kube-testserver`` and the lines it printed so far."""

    def __init__(self, process: subprocess.Popen[str], kubeconfig: Path) -> None:
        self.process = process
        self.kubeconfig = kubeconfig
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, text: str) -> str:
        """The first printed line containing ``text`` (waits up to the deadline)."""
        deadline = time.monotonic() + DEADLINE
        for line in self.lines:
            if text in line:
                return line
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r}; printed: {self.lines}")

    @property
    def url(self) -> str:
        line = self.wait_for_line("serving the Kubernetes")
        return line.split(" on ", 1)[1].split(" ", 1)[0]


@contextmanager
def kube_testserver(kubeconfig: Path, *args: str) -> Iterator[Running]:
    process = subprocess.Popen(
        [str(STARFORM), "kube-testserver", "--kubeconfig", str(kubeconfig), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield Running(process, kubeconfig)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=DEADLINE)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def _wait_until(predicate: Callable[[], bool], message: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        time.sleep(0.05)


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "demo"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        },
    },
}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serves_the_kubeconfig_it_writes_until_a_signal_stops_it(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    kubeconfig = tmp_path / "nested" / "kubeconfig.yaml"
    with kube_testserver(kubeconfig) as running:
        running.wait_for_line(READY_LINE)
        assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
        assert f"export KUBECONFIG={kubeconfig}" in "\n".join(running.lines)
        api = kubernetes.config.new_client_from_config(str(kubeconfig))
        try:
            core = kubernetes.client.CoreV1Api(api)
            names = {ns.metadata.name for ns in core.list_namespace().items}
            assert set(SYSTEM_NAMESPACES) <= names
            core.create_namespace({"metadata": {"name": "demo"}})
            kubernetes.client.AppsV1Api(api).create_namespaced_deployment("demo", DEPLOYMENT)
            _wait_until(
                lambda: len(core.list_namespaced_pod("demo", label_selector="app=web").items) == 2,
                "the deployment's two pods",
            )
            routes = kubernetes.client.CustomObjectsApi(api).list_namespaced_custom_object(
                "gateway.networking.k8s.io", "v1", "demo", "httproutes"
            )
            assert routes["items"] == []
        finally:
            api.close()
        url = running.url
        running.process.send_signal(stop_signal)
        assert running.process.wait(timeout=DEADLINE) == 0, running.process.stderr
        running.wait_for_line("kube-testserver: stopped")
        assert f"{stop_signal.name} received: stopping" in "\n".join(running.lines)
        assert not kubeconfig.exists()
        assert not _port_open(url)


def test_never_overwrites_a_kubeconfig_it_did_not_write(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    theirs = yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "users": [{"name": "me", "user": {}}]})
    kubeconfig.write_text(theirs, encoding="utf-8")
    with kube_testserver(kubeconfig) as running:
        assert running.process.wait(timeout=DEADLINE) == 1
        assert running.process.stderr is not None
        error = running.process.stderr.read()
    assert "not overwriting it" in error and "Traceback" not in error
    assert kubeconfig.read_text(encoding="utf-8") == theirs


def test_replaces_a_kubeconfig_it_wrote_before(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    with kube_testserver(kubeconfig) as first:
        first.wait_for_line(READY_LINE)
        first.process.kill()  # no clean stop: the file stays behind
        first.process.wait(timeout=DEADLINE)
    assert kubeconfig.exists()
    with kube_testserver(kubeconfig) as second:
        second.wait_for_line(READY_LINE)
        server = yaml.safe_load(kubeconfig.read_text(encoding="utf-8"))["clusters"][0]["cluster"]["server"]
        assert server == second.url
        second.process.terminate()
        assert second.process.wait(timeout=DEADLINE) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--context", "two words"], "Invalid value for '--context'"),
        (["--failing-images", "(unclosed"], "not a regular expression"),
        (["--port", "70000"], "Invalid value for '--port'"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["kube-testserver", "--kubeconfig", str(tmp_path / "k"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "k").exists()


def test_a_busy_port_is_one_error_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["kube-testserver", "--kubeconfig", str(tmp_path / "k"), "--port", str(port)]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert not (tmp_path / "k").exists()
