"""Reusing the services of the last payload parsed, when their JSON is unchanged.

Consecutive payloads of a cluster differ in a few services: a deploy changes one release, a var
group edit touches none. :class:`ServiceReuse` remembers the :class:`Service` values the last
successful parse built, keyed by the SHA-256 of each service's JSON (compact, in the order the
text had it), and hands the same frozen value back when the next payload holds exactly that JSON;
every other service is structured and validated as always. Everything above a service (projects,
their cross-service rules, the document's) is built afresh on every parse.

Only data read by the strict JSON reader is keyed (plain dicts, lists, strings, numbers,
booleans and ``None``: its compact JSON is one text per value). What is remembered is exactly the
services of the last successful parse (a failed parse leaves it as it was), so memory is bounded
by one payload.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final, TypeVar

from starform_core.model.service import Service

__all__ = ["ServiceReuse", "reused_service"]

T = TypeVar("T")
_Round = tuple[dict[bytes, Service], dict[bytes, Service]]
_COMPACT: Final = json.JSONEncoder(separators=(",", ":"), check_circular=False)
"""One encoder for every key (``json.dumps`` with options builds one per call)."""
_ACTIVE: ContextVar[_Round | None] = ContextVar("starform_service_reuse", default=None)


class ServiceReuse:
    """The services of the last payload parsed through :meth:`structure`, by JSON digest."""

    def __init__(self) -> None:
        self._last: dict[bytes, Service] = {}

    def structure(self, build: Callable[[], T]) -> T:
        """``build()``, with every service it structures from unchanged JSON taken from the last
        successful call; on success, its services become the ones remembered."""
        seen: dict[bytes, Service] = {}
        token = _ACTIVE.set((self._last, seen))
        try:
            result = build()
        finally:
            _ACTIVE.reset(token)
        self._last = seen
        return result

    def forget(self) -> None:
        """Remember nothing: the next parse structures every service."""
        self._last = {}

    def __len__(self) -> int:
        return len(self._last)


def reused_service(data: Any, structure: Callable[[Any], Service]) -> Service:
    """The service ``data`` describes: the remembered one when a :meth:`ServiceReuse.structure`
    call is active and knows this exact JSON, else ``structure(data)``."""
    active = _ACTIVE.get()
    if active is None or type(data) is not dict:
        return structure(data)
    last, seen = active
    key = hashlib.sha256(_COMPACT.encode(data).encode()).digest()
    service = last.get(key)
    if service is None:
        service = structure(data)
    seen[key] = service
    return service
