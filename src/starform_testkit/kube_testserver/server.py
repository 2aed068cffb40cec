"""The test handle: :class:`KubeTestServer` runs the API on 127.0.0.1 in a background thread."""

from __future__ import annotations

import asyncio
import builtins
import datetime as _dt
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import kubernetes.client
import uvicorn
import yaml
from uvicorn.protocols.http.h11_impl import H11Protocol

from ._json import Obj, clone
from .app import AppState, build_app
from .clock import SettableClock
from .controllers import CONTROLLER_MANAGER, Controllers
from .engine import APPLY_PATCH, Engine
from .errors import ApiError, KubeTestServerError
from .faults import FaultInjector, FaultRule
from .requestlog import RequestLog
from .resources import HTTPROUTE, ResourceKind, ResourceRegistry
from .selectors import LabelSelector
from .store import Store

__all__ = ["KUBECONFIG_TOKEN", "KubeTestServer"]

KUBECONFIG_TOKEN = "kube-testserver"
"""The bearer token in the kubeconfig files the server writes (it checks none)."""

T = TypeVar("T")

_MERGE_PATCH = "application/merge-patch+json"


class _NoDelayH11Protocol(H11Protocol):
    """h11 protocol with ``TCP_NODELAY``: small responses are not held back by Nagle."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


class KubeTestServer:
    """An in-memory Kubernetes API server that the official client talks to over HTTP.

    Use it as a context manager (or call :meth:`start` and :meth:`stop`). Everything it
    starts, it stops: the uvicorn thread, its socket and every open watch stream.
    """

    def __init__(
        self,
        *,
        controllers: bool = True,
        gateway_api: bool = False,
        failing_images: str | None = None,
        watch_history: int = 10_000,
        seed: int = 0,
        clock_start: _dt.datetime | None = None,
        default_watch_timeout: float = 1800.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.clock = SettableClock(start=clock_start)
        """The server's clock; it moves only when a test moves it (see :meth:`advance_clock`)."""
        self.store = Store(history=watch_history)
        self.registry = ResourceRegistry()
        self.engine = Engine(self.store, self.registry, self.clock, seed=seed)
        self.controllers = Controllers(self.engine, enabled=controllers, failing_images=failing_images)
        self.engine.controllers = self.controllers
        self.requests = RequestLog()
        """Every answered HTTP request; see :class:`RequestLog` for the counting helpers."""
        self.faults = FaultInjector(seed=seed)
        """The active fault rules."""
        self._state = AppState(self.engine, self.requests, self.faults, default_watch_timeout)
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        if gateway_api:
            self.install_gateway_api_crd()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> KubeTestServer:
        """Start serving on a free port; returns ``self``."""
        if self._server is not None:
            raise KubeTestServerError("the server is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self._state),
            log_level="critical",
            access_log=False,
            lifespan="on",
            ws="none",
            http=_NoDelayH11Protocol,
            timeout_graceful_shutdown=2,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="kube-test-server", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise KubeTestServerError("the Kubernetes test server did not start")
            time.sleep(0.002)
        self._server, self._thread, self._socket = server, thread, sock
        return self

    def stop(self) -> None:
        """Stop serving: end watch streams, shut uvicorn down, join its thread, close the socket."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is None:
            return
        self.store.kill_watches()
        server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout=5)
        if sock is not None:
            sock.close()

    def __enter__(self) -> KubeTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server thread is serving (false before :meth:`start` and after it died)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{self._host}:{self._port}"

    def kube_config(self) -> kubernetes.client.Configuration:
        """A fresh client ``Configuration`` pointing at this server."""
        configuration = kubernetes.client.Configuration(host=self.url)
        configuration.verify_ssl = False
        return configuration

    def api_client(self) -> kubernetes.client.ApiClient:
        """A new ``ApiClient`` for :meth:`kube_config` (close it when done)."""
        return kubernetes.client.ApiClient(self.kube_config())

    def kubeconfig(self, *, context: str = "kube-testserver") -> str:
        """A kubeconfig document (YAML) for this server: one cluster, user and context."""
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": KUBECONFIG_TOKEN}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
            "preferences": {},
        }
        return yaml.safe_dump(document)

    def write_kubeconfig(self, path: str | Path, *, context: str = "kube-testserver") -> Path:
        """Write :meth:`kubeconfig` to ``path`` (token auth, not checked) and return the path."""
        target = Path(path)
        target.write_text(self.kubeconfig(context=context), encoding="utf-8")
        return target

    # -- CRDs --------------------------------------------------------------------------

    def install_gateway_api_crd(self) -> None:
        """Serve Gateway API HTTPRoutes (gateway.networking.k8s.io/v1)."""
        self.registry.install(HTTPROUTE)

    def uninstall_gateway_api_crd(self) -> None:
        """Stop serving HTTPRoutes and drop every stored one."""
        with self.store.lock:
            for obj in list(self.store.iter(HTTPROUTE.key)):
                self.engine.remove_cascading(HTTPROUTE, obj, orphan=True)
            self.registry.uninstall(HTTPROUTE)

    @property
    def gateway_api_installed(self) -> bool:
        """Whether the HTTPRoute CRD is installed."""
        return self.registry.is_installed(HTTPROUTE)

    # -- direct access -----------------------------------------------------------------

    def _kind(self, api_version: str, kind: str) -> ResourceKind:
        found = self.registry.by_kind(api_version, kind)
        if found is None:
            raise KubeTestServerError(f"{kind} in {api_version} is not served")
        return found

    def get(self, api_version: str, kind: str, name: str, *, namespace: str | None = None) -> Obj | None:
        """A copy of a stored object, or ``None``."""
        found = self._kind(api_version, kind)
        with self.store.lock:
            obj = self.engine.stored(found, namespace, name)
            return clone(obj) if obj is not None else None

    def list(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> list[Obj]:
        """Copies of the stored objects of a kind (all namespaces when ``namespace`` is None)."""
        found = self._kind(api_version, kind)
        selector = LabelSelector.parse(label_selector)
        with self.store.lock:
            space = self.engine.space(found, namespace) if namespace or not found.namespaced else None
            return [clone(o) for o in self.store.iter(found.key, namespace=space) if selector.matches(o)]

    def put(self, obj: Obj, *, manager: str = "kube-test-server") -> Obj:
        """Create or replace ``obj`` as an Update by ``manager`` (validated, defaulted, watched)."""
        found = self._kind(str(obj.get("apiVersion")), str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace"), str(meta.get("name", ""))
        with self.store.lock:
            old = self.engine.stored(found, namespace, name)
            if old is None:
                return clone(self.engine.create(found, namespace, obj, manager=manager, keep_status=True))
            body = clone(obj)
            body.setdefault("metadata", {}).pop("resourceVersion", None)
            return clone(self.engine.replace(found, namespace, name, body, manager=manager))

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        *,
        namespace: str | None = None,
        propagation: str | None = None,
    ) -> bool:
        """Delete a stored object (with the usual cascades); ``False`` when it did not exist."""
        found = self._kind(api_version, kind)
        try:
            self.engine.delete(found, namespace, name, propagation=propagation)
        except ApiError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    def apply_as(self, manager: str, obj: Obj, *, force: bool = False) -> Obj:
        """Server-side apply ``obj`` as ``manager`` (like ``kubectl apply --server-side``)."""
        return self._patch_named(manager, obj, APPLY_PATCH, force=force)

    def patch_as(self, manager: str, obj: Obj, *, subresource: str = "") -> Obj:
        """JSON-merge-patch ``obj`` into the stored object as an Update by ``manager``.

        This is an out-of-band edit such as ``kubectl edit`` (manager ``kubectl-edit``) or
        ``kubectl scale``: ``obj`` names the object (apiVersion, kind, metadata.name and
        namespace) and carries the fields to change; ``null`` removes a field.
        """
        return self._patch_named(manager, obj, _MERGE_PATCH, subresource=subresource)

    def _patch_named(
        self, manager: str, obj: Obj, media_type: str, *, force: bool = False, subresource: str = ""
    ) -> Obj:
        """Patch the object ``obj`` names (apiVersion, kind, metadata) with ``obj`` itself."""
        found = self._kind(str(obj.get("apiVersion")), str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        result, _ = self.engine.patch(
            found,
            meta.get("namespace"),
            str(meta.get("name", "")),
            json.dumps(obj).encode(),
            media_type,
            manager=manager,
            force=force,
            subresource=subresource,
        )
        return clone(result)

    def json_patch_as(
        self,
        manager: str,
        api_version: str,
        kind: str,
        name: str,
        operations: builtins.list[Obj],
        *,
        namespace: str | None = None,
        subresource: str = "",
    ) -> Obj:
        """Apply an RFC 6902 JSON patch as an Update by ``manager`` (``kubectl patch --type json``).

        A failed ``test`` operation, or a result the schema refuses, raises :class:`ApiError` (422).
        """
        found = self._kind(api_version, kind)
        result, _ = self.engine.patch(
            found,
            namespace,
            name,
            json.dumps(operations).encode(),
            "application/json-patch+json",
            manager=manager,
            subresource=subresource,
        )
        return clone(result)

    def autoscale(self, namespace: str, hpa_name: str, replicas: int) -> Obj:
        """Act as the HPA controller: set the target Deployment's ``spec.replicas``.

        The write is recorded like a real autoscaler's: manager ``kube-controller-manager``,
        operation ``Update``, subresource ``scale``. ``replicas`` is clamped to the HPA's
        min/max. The HPA's status gets current and desired replicas. Returns the Deployment.
        """
        hpa_kind = self._kind("autoscaling/v2", "HorizontalPodAutoscaler")
        deploy_kind = self._kind("apps/v1", "Deployment")
        with self.store.lock:
            hpa = self.engine.stored(hpa_kind, namespace, hpa_name)
            if hpa is None:
                raise ApiError.not_found(hpa_kind.label, hpa_name, group=hpa_kind.group)
            spec = hpa.get("spec") or {}
            target = spec.get("scaleTargetRef") or {}
            replicas = max(
                int(spec.get("minReplicas", 1)), min(int(spec.get("maxReplicas", replicas)), replicas)
            )
            deploy = self.engine.stored(deploy_kind, namespace, str(target.get("name", "")))
            if deploy is None:
                raise ApiError.not_found(deploy_kind.label, str(target.get("name", "")), group="apps")
            scaled = clone(deploy)
            scaled["spec"]["replicas"] = replicas
            result = self.engine.write_as(
                deploy_kind, deploy, scaled, manager=CONTROLLER_MANAGER, subresource="scale"
            )
            hpa_now = self.engine.stored(hpa_kind, namespace, hpa_name)
            if hpa_now is not None:
                status = dict(hpa_now.get("status") or {})
                status.update({"currentReplicas": replicas, "desiredReplicas": replicas})
                with_status = clone(hpa_now)
                with_status["status"] = status
                self.engine.write_as(
                    hpa_kind, hpa_now, with_status, manager=CONTROLLER_MANAGER, subresource="status"
                )
            return clone(result)

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion handed out."""
        return self.store.resource_version

    # -- controllers and time ----------------------------------------------------------

    def run_controllers(self) -> None:
        """Reconcile every Deployment, ReplicaSet and CronJob now (works with controllers off)."""
        self.controllers.run_all()

    def set_controllers_enabled(self, enabled: bool) -> None:
        """Switch the automatic controller simulation on or off."""
        self.controllers.enabled = enabled

    def set_failing_images(self, pattern: str | None) -> None:
        """Pods of images matching this regex fail with ``ImagePullBackOff`` (new pods only)."""
        self.controllers.set_failing_images(pattern)

    def expire_progress_deadlines(self) -> None:
        """Deployments still rolling out now report ``ProgressDeadlineExceeded``."""
        self.controllers.expire_progress_deadlines()

    def advance_clock(self, seconds: float) -> _dt.datetime:
        """Move the clock forward and let time-driven controllers (CronJobs) act."""
        now = self.clock.advance(seconds)
        if self.controllers.enabled:
            self.controllers.run_all()
        return now

    def wait_for(
        self,
        predicate: Callable[[], T | None],
        *,
        timeout: float = 5.0,
        interval: float = 0.005,
        message: str = "condition",
    ) -> T:
        """Poll ``predicate`` until it returns a truthy value, and return that value.

        The controller simulation is synchronous, so this normally returns at once; it is
        here for conditions that depend on a client thread (an informer, a watch consumer).
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise KubeTestServerError(f"timed out after {timeout}s waiting for {message}")
            time.sleep(interval)

    # -- faults and watches ------------------------------------------------------------

    def add_fault(self, rule: FaultRule) -> None:
        """Activate a fault rule (see :mod:`.faults`)."""
        self.faults.add(rule)

    def inject(self, action: str, **options: Any) -> FaultRule:
        """Shorthand for ``add_fault(FaultRule(action, **options))``; returns the rule."""
        rule = FaultRule(action, **options)
        self.faults.add(rule)
        return rule

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.faults.clear()

    def kill_watches(self, *, abrupt: bool = False) -> None:
        """End every open watch stream; ``abrupt`` drops the connections instead."""
        self.store.kill_watches(abrupt=abrupt)

    def set_watch_history(self, size: int) -> None:
        """Keep only the last ``size`` events for watch resumption (older ones get 410 Gone)."""
        self.store.set_history(size)

    # -- the request log ---------------------------------------------------------------

    def clear_request_log(self) -> None:
        """Forget every recorded request."""
        self.requests.clear()
