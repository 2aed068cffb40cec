"""A transport double of Starbase's agent API that speaks the long-poll protocol over real HTTP.

A minimal ASGI app (no framework) served by uvicorn on a free port, in front of an
:class:`~starform_adapters.starbase.InMemorySource` (the state and its semantics): ``GET
/v1/clusters/{id}/desired-state`` with ``If-None-Match`` (quoted ETags, a list, ``*``) and
``Prefer: wait=<1-60>`` (RFC 7240; held until a change or the wait), ``ETag`` on 200 and 304,
``Preference-Applied: wait=<n>`` when the wait was honoured, ``Starform-Reconcile-Request`` on
either answer; ``POST .../status`` and ``POST .../events``. Used until the real Starbase side
lands, and to make a server misbehave (not honour the wait, send a body too large).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import anyio.to_thread

from starform_adapters.starbase import InMemorySource
from starform_apps.starbase.server import ServerThread
from starform_core.errors import DesiredStateSourceError, ReportRefusedError

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_PREFER_WAIT = re.compile(r"(?:^|[\s,;])wait\s*=\s*(\d+)", re.IGNORECASE)
_PATH = re.compile(r"^/v1/clusters/(?P<cluster>[^/]+)/(?P<what>desired-state|status|events)$")


class ProtocolDouble:
    """The ASGI app; ``honour_wait=False`` answers at once without ``Preference-Applied`` (a
    server that does not long-poll); ``padding`` bytes are added to every 200 body."""

    def __init__(self, source: InMemorySource, *, cluster_id: str, token: str) -> None:
        self.source = source
        self.cluster_id = cluster_id
        self.token = token
        self.honour_wait = True
        self.padding = 0
        self.url = ""
        """The base URL, once served."""
        self.requests: list[dict[str, str]] = []
        """The headers of every desired-state request, in arrival order."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        match = _PATH.match(scope["path"])
        if headers.get("authorization") != f"Bearer {self.token}":
            return await _answer(send, 401, {"detail": "bad token"})
        if match is None or match["cluster"] != self.cluster_id:
            return await _answer(send, 404, {"detail": "not found"})
        try:
            if match["what"] == "desired-state" and scope["method"] == "GET":
                return await self._desired_state(headers, send)
            body = await _read(receive)
            if match["what"] == "status" and scope["method"] == "POST":
                await anyio.to_thread.run_sync(self.source.report_status, json.loads(body))
                return await _answer(send, 200, {"stored": True})
            if match["what"] == "events" and scope["method"] == "POST":
                events = json.loads(body)["events"]
                stored = await anyio.to_thread.run_sync(self.source.report_events, events)
                return await _answer(send, 200, {"stored": stored})
        except ReportRefusedError as exc:
            return await _answer(send, exc.status, {"detail": str(exc), "reason": exc.reason})
        except DesiredStateSourceError as exc:
            return await _answer(send, 503, {"detail": str(exc)})
        return await _answer(send, 405, {"detail": "method not allowed"})

    async def _desired_state(self, headers: dict[str, str], send: Send) -> None:
        self.requests.append(headers)
        etags = [
            tag.strip().removeprefix("W/").strip('"') for tag in headers.get("if-none-match", "").split(",")
        ]
        prefer = _PREFER_WAIT.search(headers.get("prefer", ""))
        wait = min(60, int(prefer.group(1))) if prefer and self.honour_wait else 0
        source = self.source
        etag = etags[0] if etags and etags[0] else None
        fetched = await anyio.to_thread.run_sync(lambda: source.fetch(etag=etag, wait=wait))
        extra = [(b"etag", f'"{fetched.etag}"'.encode())]
        if wait:
            extra.append((b"preference-applied", f"wait={wait}".encode()))
        if fetched.reconcile_requests:
            extra.append((b"starform-reconcile-request", ", ".join(fetched.reconcile_requests).encode()))
        if not hasattr(fetched, "body"):
            await send({"type": "http.response.start", "status": 304, "headers": extra})
            await send({"type": "http.response.body", "body": b""})
            return
        body = fetched.body + b" " * self.padding
        extra.extend([(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())])
        await send({"type": "http.response.start", "status": 200, "headers": extra})
        await send({"type": "http.response.body", "body": body})


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


@contextmanager
def serving(double: ProtocolDouble) -> Iterator[str]:
    """Serve ``double`` on 127.0.0.1 (a free port); yields the base URL; stops on exit."""
    thread = ServerThread(double)  # type: ignore[arg-type]
    url = thread.start()
    try:
        yield url
    finally:
        thread.stop()
