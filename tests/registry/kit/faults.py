"""Fault injection in front of a real registry: an httpx transport that answers some requests
itself (a 429, a 503, a tampered body) and forwards every other one to the registry."""

from __future__ import annotations

import json
from collections.abc import Callable

import attrs
import httpx

Rule = Callable[[httpx.Request], bool]


def error_body(code: str, message: str) -> bytes:
    """A distribution error document."""
    return json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()


@attrs.define
class Fault:
    """Answer up to ``times`` matching requests with ``status``/``headers``/``body``, or rewrite the
    registry's real answer with ``rewrite``."""

    matches: Rule
    times: int = 1
    status: int = 503
    headers: dict[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    rewrite: Callable[[httpx.Response], httpx.Response] | None = None


class FaultyTransport(httpx.BaseTransport):
    """Forwards to a real transport, except where a fault applies. ``seen`` logs every request."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.faults: list[Fault] = []
        self.seen: list[tuple[str, str]] = []

    def add(self, fault: Fault) -> Fault:
        """Arm a fault."""
        self.faults.append(fault)
        return fault

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        fault = next((f for f in self.faults if f.times > 0 and f.matches(request)), None)
        if fault is None:
            return self._inner.handle_request(request)
        fault.times -= 1
        if fault.rewrite is not None:
            real = self._inner.handle_request(request)
            real.read()
            real.request = request
            return fault.rewrite(real)
        return httpx.Response(fault.status, headers=fault.headers, content=fault.body, request=request)

    def close(self) -> None:
        self._inner.close()


def path_contains(fragment: str, *, method: str | None = None) -> Rule:
    """A rule matching requests whose path contains ``fragment`` (and of ``method``)."""
    return lambda request: fragment in request.url.path and (method is None or request.method == method)
