"""The log of HTTP requests the server answered, with counting helpers for assertions."""

from __future__ import annotations

import threading
from collections.abc import Callable

import attrs

__all__ = ["READ_VERBS", "WRITE_VERBS", "RequestLog", "RequestRecord"]

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
"""Verbs that change state (dry-run requests included; see :attr:`RequestRecord.dry_run`)."""

READ_VERBS = frozenset({"get", "list", "watch"})
"""Verbs that only read."""


@attrs.frozen
class RequestRecord:
    """One answered request, in Kubernetes audit terms."""

    method: str
    path: str
    query: dict[str, str]
    verb: str
    status: int
    resource: str = attrs.field(default="", kw_only=True)
    group: str = attrs.field(default="", kw_only=True)
    namespace: str = attrs.field(default="", kw_only=True)
    name: str = attrs.field(default="", kw_only=True)
    subresource: str = attrs.field(default="", kw_only=True)
    field_manager: str = attrs.field(default="", kw_only=True)
    content_type: str = attrs.field(default="", kw_only=True)
    user_agent: str = attrs.field(default="", kw_only=True)
    dry_run: bool = attrs.field(default=False, kw_only=True)
    fault: str = attrs.field(default="", kw_only=True)
    audit_id: str = attrs.field(default="", kw_only=True)
    """The request's ``Audit-ID`` header (a client's correlation id; kube-apiserver audits it)."""

    @property
    def is_write(self) -> bool:
        """Whether the verb changes state."""
        return self.verb in WRITE_VERBS


class RequestLog:
    """A thread-safe, append-only list of :class:`RequestRecord`."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:
        """Record one request."""
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        """Forget every recorded request."""
        with self._lock:
            self._records.clear()

    def records(self) -> list[RequestRecord]:
        """A snapshot of every recorded request, oldest first."""
        with self._lock:
            return list(self._records)

    def filter(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        field_manager: str | None = None,
        status: int | None = None,
        predicate: Callable[[RequestRecord], bool] | None = None,
    ) -> list[RequestRecord]:
        """The records matching every given criterion (``None`` means "any")."""
        wanted = {
            "verb": verb,
            "resource": resource,
            "namespace": namespace,
            "name": name,
            "field_manager": field_manager,
            "status": status,
        }
        out = []
        for record in self.records():
            if any(v is not None and getattr(record, k) != v for k, v in wanted.items()):
                continue
            if predicate is not None and not predicate(record):
                continue
            out.append(record)
        return out

    def count(self, **criteria: str | int | None) -> int:
        """How many records match (same keyword criteria as :meth:`filter`)."""
        return len(self.filter(**criteria))  # type: ignore[arg-type]

    def writes(self, *, include_dry_run: bool = True) -> list[RequestRecord]:
        """Every state-changing request (create, update, patch, delete, deletecollection)."""
        return [r for r in self.records() if r.is_write and (include_dry_run or not r.dry_run)]

    def lists(self) -> list[RequestRecord]:
        """Every LIST request (watches excluded)."""
        return [r for r in self.records() if r.verb == "list"]

    def watches(self) -> list[RequestRecord]:
        """Every WATCH request."""
        return [r for r in self.records() if r.verb == "watch"]
