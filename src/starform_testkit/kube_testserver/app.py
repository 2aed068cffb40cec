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
from .store import Store

__all__ = ["AppState", "build_app", "manager_from_user_agent"]

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_METHOD_NOT_ALLOWED = "the server does not allow this method on the requested resource"


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


@attrs.frozen
class _Incoming:
    """One request as the log and the router see it."""

    method: str
    path: str
    query: dict[str, str]
    target: _Target | None
    verb: str
    user_agent: str
    manager: str
    content_type: str
    audit_id: str
    dry_run: bool

    def record(self, status: int, fault: str = "") -> RequestRecord:
        """The request log's entry for this request, answered with ``status``."""
        target = self.target
        kind = target.kind if target else None
        return RequestRecord(
            method=self.method,
            path=self.path,
            query=self.query,
            verb=self.verb,
            status=status,
            resource=kind.plural if kind else (target.plural if target else ""),
            group=kind.group if kind else (target.group if target else ""),
            namespace=(target.namespace or "") if target else "",
            name=(target.name or "") if target else "",
            subresource=target.subresource if target else "",
            field_manager=self.manager if self.method in _WRITE_METHODS else "",
            content_type=self.content_type,
            user_agent=self.user_agent,
            dry_run=self.dry_run,
            fault=fault,
            audit_id=self.audit_id,
        )


@attrs.frozen
class _Call:
    """A resource request (not discovery, not a watch), its kind resolved and its body read."""

    kind: ResourceKind
    method: str
    namespace: str | None
    name: str | None
    subresource: str
    query: dict[str, str]
    raw: bytes
    content_type: str
    manager: str
    dry_run: bool

    @classmethod
    def of(cls, incoming: _Incoming, kind: ResourceKind, raw: bytes) -> _Call:
        target = incoming.target
        assert target is not None  # a resource request has a target
        return cls(
            kind=kind,
            method=incoming.method,
            namespace=target.namespace,
            name=target.name,
            subresource=target.subresource,
            query=incoming.query,
            raw=raw,
            content_type=incoming.content_type,
            manager=incoming.manager,
            dry_run=incoming.dry_run,
        )

    @property
    def media_type(self) -> str:
        """The content type without parameters, lower case."""
        return self.content_type.split(";", 1)[0].strip().lower()


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

    def _incoming(self, request: Request) -> _Incoming:
        path = request.url.path.rstrip("/") or "/"
        method = request.method.upper()
        query = dict(request.query_params.multi_items())
        target = None if path == "/version" else self._parse(path)
        user_agent = request.headers.get("user-agent", "")
        manager = query.get("fieldManager") or ""
        if not manager and method in _WRITE_METHODS:
            manager = manager_from_user_agent(user_agent)
        return _Incoming(
            method=method,
            path=path,
            query=query,
            target=target,
            verb=self._verb(method, target, query),
            user_agent=user_agent,
            manager=manager,
            content_type=request.headers.get("content-type", ""),
            audit_id=request.headers.get("audit-id", ""),
            dry_run="All" in request.query_params.getlist("dryRun"),
        )

    async def __call__(self, request: Request) -> Response:
        incoming = self._incoming(request)
        rule = self.state.faults.pick(incoming.method, incoming.path, incoming.verb)
        if rule is not None:
            response = await self._fault(rule)
            if response is not None:
                self.state.log.append(incoming.record(response.status_code, rule.action))
                return response
        try:
            response = await self._serve(request, incoming)
        except ApiError as exc:
            response = _json_response(exc.status(), exc.code)
        self.state.log.append(incoming.record(response.status_code))
        return response

    async def _serve(self, request: Request, incoming: _Incoming) -> Response:
        target = incoming.target
        if incoming.path == "/version":
            return _json_response(discovery.version_info())
        if target is None:
            raise ApiError.no_such_resource()
        if target.discovery:
            return self._discovery(target)
        if incoming.verb == "watch":
            return self._watch(target, incoming.query)
        body = await request.body()
        is_patch = incoming.method == "PATCH"
        with request_validation(incoming.query.get("fieldValidation"), patch=is_patch) as warnings:
            response = self._dispatch(_Call.of(incoming, self._require_kind(target), body))
        if warnings:
            response.headers["Warning"] = ", ".join(warnings)
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

    def _dispatch(self, call: _Call) -> Response:
        dry = call.query.get("dryRun")
        if dry is not None and dry != "All":
            raise ApiError(400, f'dryRun: Unsupported value: {dry!r}: supported values: "All"')
        if call.kind.namespaced and call.method == "POST" and not call.namespace:
            raise ApiError(405, _METHOD_NOT_ALLOWED)
        if call.subresource == "scale" and call.name:
            return self._scale(call)
        labels = LabelSelector.parse(call.query.get("labelSelector"))
        fields = FieldSelector.parse(call.query.get("fieldSelector"))
        if call.method == "GET":
            return self._read(call, labels, fields)
        if call.method == "DELETE":
            return self._delete(call, labels, fields)
        if call.method == "POST":
            if call.name:
                raise ApiError(405, _METHOD_NOT_ALLOWED)
            created = self.state.engine.create(
                call.kind, call.namespace, _json_body(call.raw), manager=call.manager, dry_run=call.dry_run
            )
            return _json_response(created, 201)
        if not call.name:
            raise ApiError(405, _METHOD_NOT_ALLOWED)
        if call.method == "PUT":
            return self._replace(call, call.name)
        if call.method == "PATCH":
            return self._patch(call, call.name)
        raise ApiError(405, _METHOD_NOT_ALLOWED)

    def _read(self, call: _Call, labels: LabelSelector, fields: FieldSelector) -> Response:
        """``get`` one object, or ``list`` (selectors, ``limit`` and ``continue``)."""
        engine = self.state.engine
        if call.name:
            return _json_response(engine.get(call.kind, call.namespace, call.name))
        limit = int(call.query["limit"]) if call.query.get("limit") else None
        return _json_response(
            engine.list(
                call.kind,
                call.namespace,
                label_selector=labels,
                field_selector=fields,
                limit=limit,
                continue_token=call.query.get("continue"),
            )
        )

    def _delete(self, call: _Call, labels: LabelSelector, fields: FieldSelector) -> Response:
        """``delete`` one object (propagation and preconditions), or ``deletecollection``."""
        engine = self.state.engine
        options = (_json_body(call.raw) if call.raw else {}) or {}
        if not call.name:
            return _json_response(
                engine.delete_collection(
                    call.kind,
                    call.namespace,
                    label_selector=labels,
                    field_selector=fields,
                    dry_run=call.dry_run,
                )
            )
        preconditions = options.get("preconditions") or {}
        return _json_response(
            engine.delete(
                call.kind,
                call.namespace,
                call.name,
                dry_run=call.dry_run,
                propagation=call.query.get("propagationPolicy") or options.get("propagationPolicy"),
                precondition_rv=preconditions.get("resourceVersion"),
                precondition_uid=preconditions.get("uid"),
            )
        )

    def _replace(self, call: _Call, name: str) -> Response:
        replaced = self.state.engine.replace(
            call.kind,
            call.namespace,
            name,
            _json_body(call.raw),
            manager=call.manager,
            dry_run=call.dry_run,
            subresource=call.subresource,
        )
        return _json_response(replaced)

    def _patch(self, call: _Call, name: str) -> Response:
        """Any patch type; an apply patch takes its field manager from the query only."""
        is_apply = call.media_type == APPLY_PATCH
        patched, created = self.state.engine.patch(
            call.kind,
            call.namespace,
            name,
            call.raw,
            call.content_type,
            manager=call.query.get("fieldManager") if is_apply else call.manager,
            force=_truthy(call.query.get("force")),
            dry_run=call.dry_run,
            subresource=call.subresource,
        )
        return _json_response(patched, 201 if created else 200)

    def _scale(self, call: _Call) -> Response:
        engine = self.state.engine
        assert call.name is not None  # routed here for a named object only
        if call.method == "GET":
            return _json_response(read_scale(engine, call.kind, call.namespace, call.name))
        if call.method not in ("PUT", "PATCH"):
            raise ApiError(405, _METHOD_NOT_ALLOWED)
        scale = write_scale(
            engine,
            call.kind,
            call.namespace,
            call.name,
            method=call.method,
            raw=call.raw,
            content_type=call.media_type,
            manager=call.manager,
            dry_run=call.dry_run,
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
        watch = _WatchFilter(kind=kind, namespace=target.namespace, labels=labels, fields=fields)
        # The watch belongs to the epoch it was requested in, not the one its stream starts in:
        # a watch the request log shows is one that ``kill_watches`` ends.
        epoch = self.state.engine.store.watch_epoch
        stream = _watch_stream(
            self.state.engine, watch, rv, timeout, _truthy(query.get("allowWatchBookmarks")), epoch=epoch
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


@attrs.frozen
class _WatchFilter:
    """Which objects a watch sends: one kind, optionally one namespace, and the selectors."""

    kind: ResourceKind
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector

    def wanted(self, obj: Obj, space: str) -> bool:
        if self.namespace is not None and space != self.namespace:
            return False
        return self.labels.matches(obj) and self.fields.matches(obj)

    def bookmark(self, cursor: int) -> bytes:
        metadata = {"resourceVersion": str(cursor)}
        return _line(
            "BOOKMARK", {"kind": self.kind.kind, "apiVersion": self.kind.api_version, "metadata": metadata}
        )


@attrs.frozen
class _WatchStart:
    """Where a watch starts: the epoch it was requested in, the cursor, the initial objects (or too old)."""

    epoch: int
    cursor: int
    initial: list[Obj]
    too_old: bool
    oldest: int


def _watch_start(engine: Engine, watch: _WatchFilter, rv: str | None, *, epoch: int) -> _WatchStart:
    """Take the starting point under the store's lock: a snapshot for ``rv`` unset or ``"0"``."""
    store = engine.store
    kind = watch.kind
    with store.lock:
        initial: list[Obj] = []
        if rv in (None, "0"):
            cursor = store.resource_version
            space = engine.space(kind, watch.namespace) if watch.namespace or not kind.namespaced else None
            initial = [
                o
                for o in store.iter(kind.key, namespace=space)
                if watch.wanted(o, o["metadata"].get("namespace", ""))
            ]
            too_old = False
        else:
            cursor = int(rv or 0)
            too_old = store.events_after(cursor) is None
        return _WatchStart(
            epoch=epoch,
            cursor=cursor,
            initial=initial,
            too_old=too_old,
            oldest=store.compacted_revision + 1,
        )


async def _watch_stream(
    engine: Engine,
    watch: _WatchFilter,
    rv: str | None,
    timeout: float,
    bookmarks: bool,
    *,
    epoch: int,
) -> AsyncIterator[bytes]:
    store = engine.store
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def notify() -> None:
        # A closed loop means the server is shutting down: nothing to wake.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(wake.set)

    store.subscribe(notify)
    try:
        start = _watch_start(engine, watch, rv, epoch=epoch)
        if start.too_old:
            yield _gone(str(rv), start.oldest)
            return
        for obj in start.initial:
            yield _line("ADDED", obj)
        if bookmarks:
            yield watch.bookmark(start.cursor)
        async for line in _follow(
            store, watch, start, wake, deadline=loop.time() + timeout, bookmarks=bookmarks
        ):
            yield line
    finally:
        store.unsubscribe(notify)


async def _follow(
    store: Store,
    watch: _WatchFilter,
    start: _WatchStart,
    wake: asyncio.Event,
    *,
    deadline: float,
    bookmarks: bool,
) -> AsyncIterator[bytes]:
    """Send the events after the start until the deadline (a bookmark then), the history is
    compacted past the cursor (410) or the store's watches are ended (server-side close)."""
    loop = asyncio.get_running_loop()
    cursor = start.cursor
    while True:
        if store.watch_epoch != start.epoch:
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
                if event.resource == watch.kind.key and watch.wanted(event.obj, event.namespace):
                    yield _line(event.type, event.obj)
            continue
        remaining = deadline - loop.time()
        if remaining <= 0:
            if bookmarks:
                yield watch.bookmark(cursor)
            return
        wake.clear()
        if store.events_after(cursor) != [] or store.watch_epoch != start.epoch:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), remaining)


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
