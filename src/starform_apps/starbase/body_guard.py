"""ASGI middleware that guards request bodies before any route (or token check) sees them.

* A ``/v1`` request with a body but without a bearer token is answered ``401`` unread (but a
  payment provider's or GitHub's webhook, which is signed instead; a GitHub delivery's route
  checks the signature over the raw body before anything parses it, so the guard only bounds
  its size).
* ``Content-Length`` over the endpoint's limit is answered ``413`` unread; a body without a
  length is counted while it arrives and cut off with ``413`` at the limit.
* A JSON body must be UTF-8, well-formed, at most :data:`~bounds.MAX_JSON_DEPTH` deep, with
  no duplicate keys, no ``NaN``/``Infinity`` literals, no integer of more than 100 digits
  (``400`` otherwise) and no unpaired UTF-16 surrogate in any string (``422`` naming the field).

Messages name the rule and the position, never the submitted text. The checked document is
left in the request's scope: routes of a router with ``route_class=ParsedJsonRoute`` read their
JSON body from it instead of parsing it again. Usage snapshots (large, many a second) are left
unparsed: their route decodes them straight into typed values and applies the same rules
(:mod:`~starform_apps.starbase.snapshot_body`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from starform_apps.starbase import bounds
from starform_apps.starbase.metrics import Metrics
from starform_core.errors import StarformError

__all__ = [
    "PARSED_JSON",
    "BodyGuardMiddleware",
    "BodyRejectedError",
    "ParsedJsonRoute",
    "body_limit_for",
    "check_json_body",
]

PARSED_JSON = "starform.parsed_json"
"""The scope key under which the guard leaves the document it parsed and checked."""

_AGENT_REPORT = re.compile(r"/v1/clusters/[^/]+/(status|events|usage-snapshots)")
_WEBHOOK = re.compile(r"/v1/billing/webhooks/[^/]+")
_GIT_WEBHOOK = re.compile(r"/v1/webhooks/github")
_READS_ITS_OWN_JSON = re.compile(r"/v1/clusters/[^/]+/usage-snapshots")
"""Routes that apply this module's rules themselves (:mod:`~starform_apps.starbase.snapshot_body`)."""
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MAX_INT_DIGITS = 100
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
"""A ``\\uD800``-``\\uDFFF`` escape: the only way a UTF-8 body can carry a surrogate (so strings
are walked only when a body has one)."""


class BodyRejectedError(StarformError):
    """A body refused by the guard: the status and the JSON answer."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(status)
        self.status = status
        self.detail = detail


def body_limit_for(path: str) -> int:
    """The largest body accepted at ``path``."""
    if _AGENT_REPORT.fullmatch(path):
        return bounds.MAX_AGENT_BODY_BYTES
    if _WEBHOOK.fullmatch(path):
        return bounds.MAX_WEBHOOK_BYTES
    if _GIT_WEBHOOK.fullmatch(path):
        return bounds.MAX_GIT_WEBHOOK_BYTES
    return bounds.MAX_BODY_BYTES


def _needs_token(path: str) -> bool:
    return path.startswith("/v1/") and not _WEBHOOK.fullmatch(path) and not _GIT_WEBHOOK.fullmatch(path)


def _parses_here(path: str) -> bool:
    return not _GIT_WEBHOOK.fullmatch(path) and not _READS_ITS_OWN_JSON.fullmatch(path)


def _no_constants(name: str) -> Any:
    raise BodyRejectedError(400, f"the body is not valid JSON: {name} is not a JSON number")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise BodyRejectedError(400, f"the body holds an integer of more than {_MAX_INT_DIGITS} digits")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise BodyRejectedError(400, "the body is not valid JSON for this API: an object repeats a key")
    return result


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _surrogate(loc: list[str | int]) -> BodyRejectedError:
    field = ".".join(str(p) for p in loc[1:]) or "body"
    return BodyRejectedError(
        422,
        [
            {
                "loc": loc,
                "field": field,
                "msg": "contains an unpaired UTF-16 surrogate (not Unicode text)",
                "type": "unicode_error",
            }
        ],
    )


def _too_deep() -> BodyRejectedError:
    return BodyRejectedError(
        400, f"the body is nested more than {bounds.MAX_JSON_DEPTH} levels deep (the limit)"
    )


def _check_depth(document: Any) -> None:
    """Check the depth only, visiting containers only (no value deeper than the limit)."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if children and depth + 1 > bounds.MAX_JSON_DEPTH:
            raise _too_deep()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _walk(document: Any) -> None:
    """Check depth and strings without recursion (the document may be deep)."""
    stack: list[tuple[Any, list[str | int]]] = [(document, ["body"])]
    while stack:
        value, loc = stack.pop()
        if len(loc) - 1 > bounds.MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, str):
            if _has_surrogate(value):
                raise _surrogate(loc)
        elif isinstance(value, dict):
            for key, child in value.items():
                if _has_surrogate(key):
                    raise _surrogate(loc)
                stack.append((child, [*loc, key]))
        elif isinstance(value, list):
            stack.extend((child, [*loc, index]) for index, child in enumerate(value))


def check_json_body(body: bytes) -> Any:
    """The document ``body`` holds; :class:`BodyRejectedError` unless it is JSON this API accepts."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyRejectedError(400, f"the body is not UTF-8 (byte {exc.start})") from exc
    try:
        document = json.loads(
            text,
            parse_constant=_no_constants,
            parse_int=_bounded_int,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise BodyRejectedError(
            400, f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise _too_deep() from exc
    if _SURROGATE_ESCAPE.search(body):
        _walk(document)
    elif isinstance(document, dict | list):
        _check_depth(document)
    return document


def _is_json(scope: Scope) -> bool:
    declared = _header(scope, b"content-type")
    if declared is None:
        return True  # FastAPI reads a body without a content type as JSON
    media = declared.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return bytes(value)
    return None


async def _answer(send: Send, status: int, detail: Any) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> BodyRejectedError:
    return BodyRejectedError(413, f"the request body is larger than {limit} bytes, this endpoint's limit")


class BodyGuardMiddleware:
    """Refuse oversized, unauthenticated or malformed bodies before the app reads them."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
            if body and _is_json(scope) and _parses_here(str(scope.get("path", ""))):
                scope[PARSED_JSON] = check_json_body(body)
        except BodyRejectedError as rejected:
            self.metrics.body_rejected.labels(status=str(rejected.status)).inc()
            await _answer(send, rejected.status, rejected.detail)
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    async def _read(scope: Scope, receive: Receive) -> bytes:
        path = str(scope.get("path", ""))
        if _needs_token(path) and not (_header(scope, b"authorization") or b"").strip():
            raise BodyRejectedError(401, "missing bearer token")
        limit = body_limit_for(path)
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise BodyRejectedError(400, "Content-Length is not a number")
            if int(declared) > limit:
                raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class _ParsedJsonRequest(Request):
    """A request whose :meth:`json` is the document the guard parsed (when it parsed one)."""

    async def json(self) -> Any:
        if PARSED_JSON in self.scope:
            return self.scope[PARSED_JSON]
        return await super().json()


class ParsedJsonRoute(APIRoute):
    """A FastAPI route that reads its JSON body from the guard's parse (one parse per request)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, given requests that reuse the guard's document."""
        handler = super().get_route_handler()

        async def parsed(request: Request) -> Response:
            return await handler(_ParsedJsonRequest(request.scope, request.receive))

        return parsed
