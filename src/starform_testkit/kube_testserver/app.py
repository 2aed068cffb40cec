"""The ASGI application: URL routing, query parameters, watch streams, faults and the log."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import discovery
from ._json import Obj
from .engine import APPLY_PATCH, Engine
from .errors import ApiError
from .faults import FaultInjector, FaultRule
from .field_validation import request_validation
from .requestlog import RequestLog, RequestRecord
from .resources import ResourceKind
from .scale import SCALABLE, read_scale, write_scale
from .selectors import FieldSelector, LabelSelector

__all__ = ["AppState", "build_app", "manager_from_user_agent"]

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@attrs.define
class AppState:
    """Everything the application needs, shared with the handle."""

    engine: Engine
    log: RequestLog
    faults: FaultInjector
    default_watch_timeout: float = 1800.0


@attrs.frozen
class _Target:
    group: str
    version: str
    discovery: bool = False
    kind: ResourceKind | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str = ""
    plural: str = ""
    prefix: str = "api"


class _AbortConnection(Exception):  # noqa: N818 - a signal, not an error
    """Raised after the response started, to make the server drop the connection."""


def manager_from_user_agent(user_agent: str) -> str:
    """Default field manager, derived like kube-apiserver does: the user agent up to ``/``."""
    prefix = user_agent.split("/", 1)[0].strip()
    return prefix[:128] or "unknown"


def _json_response(body: Obj, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


class _DroppedResponse(Response):
    """Sends a response head promising more body than it delivers, then aborts."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"kind":', "more_body": True})
        raise _AbortConnection


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


class KubeApiApp:
    """Routes every request under ``/api`` and ``/apis`` to the engine."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def _parse(self, path: str) -> _Target | None:
        parts = [p for p in path.split("/") if p]
        registry = self.state.engine.registry
        if not parts:
            return None
        if parts[0] == "api":
            if len(parts) < 2:
                return _Target("", "", discovery=True)
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis":
            if len(parts) < 3:
                group = parts[1] if len(parts) == 2 else ""
                return _Target(group, "", discovery=True, prefix="apis")
            group, version, rest = parts[1], parts[2], parts[3:]
            if not rest:
                return _Target(group, version, discovery=True, prefix="apis")
        else:
            return None
        if not rest:
            return _Target(group, version, discovery=True)
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3:
            return _Target(group, version, plural="")
        kind = registry.by_plural(group, version, plural)
        return _Target(
            group, version, kind=kind, namespace=namespace, name=name, subresource=sub, plural=plural
        )

    @staticmethod
    def _verb(method: str, target: _Target | None, query: dict[str, str]) -> str:
        if target is None or target.discovery:
            return "get"
        if method == "GET":
            if target.name:
                return "get"
            return "watch" if _truthy(query.get("watch")) else "list"
        return {
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if target and target.name else "deletecollection",
        }.get(method, method.lower())

    async def __call__(self, request: Request) -> Response:
        path = request.url.path.rstrip("/") or "/"
        method = request.method.upper()
        query = dict(request.query_params.multi_items())
        target = None if path == "/version" else self._parse(path)
        verb = self._verb(method, target, query)
        user_agent = request.headers.get("user-agent", "")
        manager = query.get("fieldManager") or ""
        if not manager and method in _WRITE_METHODS:
            manager = manager_from_user_agent(user_agent)
        content_type = request.headers.get("content-type", "")
        audit_id = request.headers.get("audit-id", "")
        dry_run = "All" in request.query_params.getlist("dryRun")

        def record(status: int, fault: str = "") -> None:
            kind = target.kind if target else None
            self.state.log.append(
                RequestRecord(
                    method=method,
                    path=path,
                    query=query,
                    verb=verb,
                    status=status,
                    resource=kind.plural if kind else (target.plural if target else ""),
                    group=kind.group if kind else (target.group if target else ""),
                    namespace=(target.namespace or "") if target else "",
                    name=(target.name or "") if target else "",
                    subresource=target.subresource if target else "",
                    field_manager=manager if method in _WRITE_METHODS else "",
                    content_type=content_type,
                    user_agent=user_agent,
                    dry_run=dry_run,
                    fault=fault,
                    audit_id=audit_id,
                )
            )

        rule = self.state.faults.pick(method, path, verb)
        if rule is not None:
            response = await self._fault(rule)
            if response is not None:
                record(response.status_code, rule.action)
                return response
        try:
            if path == "/version":
                response = _json_response(discovery.version_info())
            elif target is None:
                raise ApiError.no_such_resource()
            elif target.discovery:
                response = self._discovery(target)
            elif verb == "watch":
                response = self._watch(target, query)
            else:
                body = await request.body()
                is_patch = method == "PATCH"
                with request_validation(query.get("fieldValidation"), patch=is_patch) as warnings:
                    response = self._dispatch(target, method, query, body, content_type, manager, dry_run)
                if warnings:
                    response.headers["Warning"] = ", ".join(warnings)
        except ApiError as exc:
            response = _json_response(exc.status(), exc.code)
        record(response.status_code)
        return response

    async def _fault(self, rule: FaultRule) -> Response | None:
        if rule.action == "delay":
            await asyncio.sleep(rule.delay_seconds)
            return None
        if rule.action == "drop":
            return _DroppedResponse()
        if rule.action == "throttle":
            error = ApiError(429, "Too many requests, please try again later.")
            details = {"retryAfterSeconds": rule.retry_after}
            body = error.status()
            body["details"] = details
            return _json_response(body, 429, {"Retry-After": str(rule.retry_after)})
        if rule.action == "conflict":
            error = ApiError(
                409, "Operation cannot be fulfilled: the object has been modified (injected fault)"
            )
            return _json_response(error.status(), 409)
        error = ApiError(rule.status, f"injected fault: {rule.status}")
        return _json_response(error.status(), rule.status)

    def _discovery(self, target: _Target) -> Response:
        registry = self.state.engine.registry
        document: Obj | None
        if target.prefix == "api" and not target.version:
            document = discovery.api_versions()
        elif target.prefix == "apis" and not target.group:
            document = discovery.api_group_list(registry)
        elif not target.version:
            document = discovery.api_group(registry, target.group)
        else:
            document = discovery.resource_list(registry, target.group, target.version)
        if document is None:
            raise ApiError.no_such_resource()
        return _json_response(document)

    def _require_kind(self, target: _Target) -> ResourceKind:
        kind = target.kind
        if kind is None or not self.state.engine.registry.is_installed(kind):
            raise ApiError.no_such_resource()
        if target.subresource == "scale" and kind.kind in SCALABLE:
            pass
        elif target.subresource and (target.subresource != "status" or not kind.has_status):
            raise ApiError.no_such_resource()
        if target.namespace is not None and not kind.namespaced:
            raise ApiError.no_such_resource()
        return kind

    def _dispatch(
        self,
        target: _Target,
        method: str,
        query: dict[str, str],
        raw: bytes,
        content_type: str,
        manager: str,
        dry_run: bool,
    ) -> Response:
        engine = self.state.engine
        kind = self._require_kind(target)
        dry = query.get("dryRun")
        if dry is not None and dry != "All":
            raise ApiError(400, f'dryRun: Unsupported value: {dry!r}: supported values: "All"')
        namespace = target.namespace
        if kind.namespaced and method == "POST" and not namespace:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        name = target.name
        if target.subresource == "scale" and name:
            return self._scale(kind, namespace, name, method, raw, content_type, manager, dry_run)
        labels = LabelSelector.parse(query.get("labelSelector"))
        fields = FieldSelector.parse(query.get("fieldSelector"))
        if method == "GET":
            if name:
                return _json_response(engine.get(kind, namespace, name))
            limit = int(query["limit"]) if query.get("limit") else None
            return _json_response(
                engine.list(
                    kind,
                    namespace,
                    label_selector=labels,
                    field_selector=fields,
                    limit=limit,
                    continue_token=query.get("continue"),
                )
            )
        if method == "DELETE":
            options = _json_body(raw) if raw else {}
            propagation = query.get("propagationPolicy") or (options or {}).get("propagationPolicy")
            if name:
                preconditions = (options or {}).get("preconditions") or {}
                return _json_response(
                    engine.delete(
                        kind,
                        namespace,
                        name,
                        dry_run=dry_run,
                        propagation=propagation,
                        precondition_rv=preconditions.get("resourceVersion"),
                        precondition_uid=preconditions.get("uid"),
                    )
                )
            return _json_response(
                engine.delete_collection(
                    kind, namespace, label_selector=labels, field_selector=fields, dry_run=dry_run
                )
            )
        if method == "POST":
            if name:
                raise ApiError(405, "the server does not allow this method on the requested resource")
            new_obj = engine.create(kind, namespace, _json_body(raw), manager=manager, dry_run=dry_run)
            return _json_response(new_obj, 201)
        if not name:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        if method == "PUT":
            return _json_response(
                engine.replace(
                    kind,
                    namespace,
                    name,
                    _json_body(raw),
                    manager=manager,
                    dry_run=dry_run,
                    subresource=target.subresource,
                )
            )
        if method == "PATCH":
            is_apply = content_type.split(";", 1)[0].strip().lower() == APPLY_PATCH
            patched, created = engine.patch(
                kind,
                namespace,
                name,
                raw,
                content_type,
                manager=query.get("fieldManager") if is_apply else manager,
                force=_truthy(query.get("force")),
                dry_run=dry_run,
                subresource=target.subresource,
            )
            return _json_response(patched, 201 if created else 200)
        raise ApiError(405, "the server does not allow this method on the requested resource")

    def _scale(
        self,
        kind: ResourceKind,
        namespace: str | None,
        name: str,
        method: str,
        raw: bytes,
        content_type: str,
        manager: str,
        dry_run: bool,
    ) -> Response:
        engine = self.state.engine
        if method == "GET":
            return _json_response(read_scale(engine, kind, namespace, name))
        if method not in ("PUT", "PATCH"):
            raise ApiError(405, "the server does not allow this method on the requested resource")
        scale = write_scale(
            engine,
            kind,
            namespace,
            name,
            method=method,
            raw=raw,
            content_type=content_type.split(";", 1)[0].strip().lower(),
            manager=manager,
            dry_run=dry_run,
        )
        return _json_response(scale)

    def _watch(self, target: _Target, query: dict[str, str]) -> Response:
        kind = self._require_kind(target)
        labels = LabelSelector.parse(query.get("labelSelector"))
        fields = FieldSelector.parse(query.get("fieldSelector"))
        timeout = (
            float(query["timeoutSeconds"])
            if query.get("timeoutSeconds")
            else self.state.default_watch_timeout
        )
        rv = query.get("resourceVersion") or None
        if rv is not None and rv != "0" and not rv.isdigit():
            raise ApiError(400, f"invalid resource version {rv!r}")
        stream = _watch_stream(
            self.state.engine,
            kind,
            target.namespace,
            labels,
            fields,
            rv,
            timeout,
            _truthy(query.get("allowWatchBookmarks")),
        )
        return StreamingResponse(stream, media_type="application/json")


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, f"the body of the request was in an unknown format: {exc}") from exc


def _line(event_type: str, obj: Obj) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _gone(rv: str, oldest: int) -> bytes:
    status = ApiError(410, f"too old resource version: {rv} ({oldest})", reason="Expired").status()
    return _line("ERROR", status)


async def _watch_stream(
    engine: Engine,
    kind: ResourceKind,
    namespace: str | None,
    labels: LabelSelector,
    fields: FieldSelector,
    rv: str | None,
    timeout: float,
    bookmarks: bool,
) -> AsyncIterator[bytes]:
    store = engine.store
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def notify() -> None:
        # A closed loop means the server is shutting down: nothing to wake.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(wake.set)

    def wanted(obj: Obj, space: str) -> bool:
        if namespace is not None and space != namespace:
            return False
        return labels.matches(obj) and fields.matches(obj)

    def bookmark(cursor: int) -> bytes:
        return _line(
            "BOOKMARK",
            {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": {"resourceVersion": str(cursor)}},
        )

    store.subscribe(notify)
    try:
        with store.lock:
            epoch = store.watch_epoch
            initial: list[Obj] = []
            if rv in (None, "0"):
                cursor = store.resource_version
                space = engine.space(kind, namespace) if namespace or not kind.namespaced else None
                initial = [
                    o
                    for o in store.iter(kind.key, namespace=space)
                    if wanted(o, o["metadata"].get("namespace", ""))
                ]
                too_old = False
            else:
                cursor = int(rv or 0)
                too_old = store.events_after(cursor) is None
            oldest = store.compacted_revision + 1
        if too_old:
            yield _gone(str(rv), oldest)
            return
        for obj in initial:
            yield _line("ADDED", obj)
        if bookmarks:
            yield bookmark(cursor)
        deadline = loop.time() + timeout
        while True:
            if store.watch_epoch != epoch:
                if store.abrupt_kill:
                    raise _AbortConnection
                return
            events = store.events_after(cursor)
            if events is None:
                yield _gone(str(cursor), store.compacted_revision + 1)
                return
            if events:
                for event in events:
                    cursor = event.resource_version
                    if event.resource == kind.key and wanted(event.obj, event.namespace):
                        yield _line(event.type, event.obj)
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                if bookmarks:
                    yield bookmark(cursor)
                return
            wake.clear()
            if store.events_after(cursor) != [] or store.watch_epoch != epoch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), remaining)
    finally:
        store.unsubscribe(notify)


def build_app(state: AppState) -> Starlette:
    """The Starlette application serving the Kubernetes API from ``state``."""
    handler = KubeApiApp(state)

    async def endpoint(request: Request) -> Response:
        return await handler(request)

    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 256
        yield

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes = [Route("/{path:path}", endpoint, methods=methods)]
    return Starlette(routes=routes, lifespan=asynccontextmanager(lifespan))
