"""``starform kube-testserver``: the in-memory Kubernetes test server, standalone.

It serves the Kubernetes API (the built-in kinds Shuttle manages, optionally the Gateway API's
HTTPRoute) on 127.0.0.1, writes a kubeconfig for it, prints how to point ``kubectl`` and
``shuttle run`` at it, and runs until Ctrl-C or SIGTERM. Everything lives in memory and is
gone when it stops; the kubeconfig it wrote is removed too. It never overwrites a kubeconfig it
did not write.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
from pathlib import Path

import click
import yaml

from starform_apps.signals import StopSignal, stop_signals
from starform_core.errors import StarformError
from starform_testkit.kube_testserver import KUBECONFIG_TOKEN, KUBERNETES_SCHEMA_VERSION, KubeTestServer

__all__ = ["DEFAULT_KUBECONFIG", "SYSTEM_NAMESPACES", "kube_testserver"]

DEFAULT_KUBECONFIG = Path("~/.kube/starform-kube-testserver.yaml")
"""Where the kubeconfig goes unless ``--kubeconfig`` says otherwise (never ``~/.kube/config``)."""

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
"""The namespaces every new cluster has; the server starts with them, as kube-apiserver does."""

_POLL_SECONDS = 0.5
_CONTEXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,252}")
_REGEX_MAX = 1000


class KubeconfigInUseError(StarformError):
    """The kubeconfig path holds a file this command did not write."""


def _written_by_us(text: str) -> bool:
    """Whether ``text`` is a kubeconfig this command wrote (its one user has the server's token)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    users = document.get("users") if isinstance(document, dict) else None
    return (
        isinstance(users, list)
        and len(users) == 1
        and isinstance(users[0], dict)
        and users[0].get("user") == {"token": KUBECONFIG_TOKEN}
    )


def _write_kubeconfig(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (mode 0600), refusing to replace a foreign file."""
    if path.is_dir():
        raise KubeconfigInUseError(f"{path} is a directory")
    if path.exists() and not _written_by_us(path.read_text(encoding="utf-8", errors="replace")):
        raise KubeconfigInUseError(
            f"{path} exists and was not written by starform kube-testserver: not overwriting it "
            "(pass another --kubeconfig)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


def _remove_if_unchanged(path: Path, text: str) -> None:
    """Remove the kubeconfig unless someone replaced it since (another server, a person)."""
    try:
        if path.read_text(encoding="utf-8") == text:
            path.unlink()
    except OSError:
        pass


def _seed_namespaces(kube: KubeTestServer) -> None:
    for name in SYSTEM_NAMESPACES:
        kube.put(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, manager="kube-apiserver"
        )


def _serve_until(stop: StopSignal, kube: KubeTestServer) -> str:
    """Block until a stop signal arrives (returns its name) or the server dies (an error)."""
    while not stop.wait(_POLL_SECONDS):
        if not kube.running:
            raise click.ClickException("the Kubernetes test server stopped unexpectedly")
    return stop.name


def _context_name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not _CONTEXT_NAME.fullmatch(value):
        raise click.BadParameter(
            "use 1 to 253 letters, digits and . _ @ : - (starting with a letter or digit)"
        )
    return value


def _image_pattern(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > _REGEX_MAX:
        raise click.BadParameter(f"at most {_REGEX_MAX} characters")
    try:
        re.compile(value)
    except re.error as exc:
        raise click.BadParameter(f"not a regular expression: {exc}") from exc
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _usage(kube: KubeTestServer, kubeconfig: Path, context: str, *, gateway_api: bool) -> list[str]:
    served = "the built-in kinds" + (" and Gateway API HTTPRoutes" if gateway_api else "")
    return [
        f"kube-testserver: serving the Kubernetes {KUBERNETES_SCHEMA_VERSION} API on {kube.url} "
        f"({served}; in memory, no authentication)",
        f"kubeconfig: {kubeconfig} (context {context})",
        "",
        "  kubectl:",
        f"    export KUBECONFIG={shlex.quote(str(kubeconfig))}",
        "    kubectl get namespaces",
        "    kubectl apply --server-side --validate=false -f FILE   # no OpenAPI documents, no Protobuf",
        "  shuttle (with Starbase serving and the cluster registered: see docs/testing/kube-test-server.md):",
        f"    SHUTTLE_TOKEN=<agent token> shuttle run --kubeconfig {shlex.quote(str(kubeconfig))} \\",
        "      --starbase-url http://127.0.0.1:8080 --cluster-id <cluster id> --state-dir ./shuttle-state",
        "",
        "Ctrl-C or SIGTERM stops it (everything it holds is lost).",
    ]


@click.command("kube-testserver")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path),
    default=str(DEFAULT_KUBECONFIG),
    show_default=True,
    help="Where to write the kubeconfig (a file another tool wrote is never overwritten).",
)
@click.option(
    "--context",
    default="kube-testserver",
    show_default=True,
    callback=_context_name,
    help="The kubeconfig's context (and cluster and user) name.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="The port (0: a free one)."
)
@click.option(
    "--gateway-api/--no-gateway-api", default=True, show_default=True, help="Serve Gateway API HTTPRoutes."
)
@click.option(
    "--controllers/--no-controllers",
    default=True,
    show_default=True,
    help="Simulate the controllers and kubelet (ReplicaSets, Pods, Jobs, readiness).",
)
@click.option(
    "--failing-images",
    default=None,
    metavar="REGEX",
    callback=_image_pattern,
    help="Pods whose image matches REGEX fail to pull (ImagePullBackOff).",
)
def kube_testserver(
    *,
    kubeconfig: Path,
    context: str,
    host: str,
    port: int,
    gateway_api: bool,
    controllers: bool,
    failing_images: str | None,
) -> None:
    """Run the in-memory Kubernetes test server and write a kubeconfig for kubectl and Shuttle."""
    path = kubeconfig.expanduser().absolute()
    kube = KubeTestServer(
        host=host, port=port, gateway_api=gateway_api, controllers=controllers, failing_images=failing_images
    )
    if not _loopback(host):
        click.echo(f"warning: listening on {host}: the test server has no authentication", err=True)
    text = ""
    with stop_signals() as stop:
        try:
            try:
                kube.start()
            except OSError as exc:
                raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
            _seed_namespaces(kube)
            text = kube.kubeconfig(context=context)
            _write_kubeconfig(path, text)
            for line in _usage(kube, path, context, gateway_api=gateway_api):
                click.echo(line)
            click.echo(f"kube-testserver: {_serve_until(stop, kube)} received: stopping")
        finally:
            kube.stop()
            if text:
                _remove_if_unchanged(path, text)
    click.echo("kube-testserver: stopped")
