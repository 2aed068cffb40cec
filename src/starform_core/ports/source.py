"""The ports Shuttle talks to Starbase through: where it pulls its payload, where it reports.

Sized by role: :class:`DesiredStateSource` pulls (``shuttle plan`` needs only that);
:class:`ReportSink` takes what Shuttle reports; :class:`AgentApi` is both, what the agent's
composition root needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

__all__ = ["AgentApi", "DesiredStateSource", "Fetched", "NotModified", "ReportSink"]


@attrs.frozen
class Fetched:
    """A payload's canonical bytes and ETag.

    ``reconcile_requests`` are the ids Starbase asked to reconcile now for
    (``Starform-Reconcile-Request``); ``waited`` the wait Starbase applied (``Preference-Applied:
    wait=<n>``), ``None`` when it did not hold the request (it does not long-poll).
    """

    body: bytes = attrs.field(repr=False)
    etag: str
    reconcile_requests: tuple[str, ...] = ()
    waited: int | None = None


@attrs.frozen
class NotModified:
    """The payload is unchanged since the ETag Shuttle sent (fields as in :class:`Fetched`)."""

    etag: str
    reconcile_requests: tuple[str, ...] = ()
    waited: int | None = None


class DesiredStateSource(Protocol):
    """Starbase's payload, seen from Shuttle. Failures raise
    :class:`~starform_core.errors.DesiredStateSourceError`."""

    def fetch(self, *, etag: str | None, wait: int = 0) -> Fetched | NotModified:
        """Pull the cluster's payload, conditionally on ``etag``; with ``wait`` (1-60 seconds) ask
        Starbase to hold an unchanged answer until the payload changes or ``wait`` passes."""
        ...


class ReportSink(Protocol):
    """Where Shuttle's reports go; every report carries a stable id, so re-sending is harmless.

    A report refused for good raises :class:`~starform_core.errors.ReportRefusedError`; any other
    failure :class:`~starform_core.errors.DesiredStateSourceError` (send it again later).
    """

    def report_status(self, report: Mapping[str, Any]) -> None:
        """Send one status report (``report_id``, ``epoch``, ``applied_generation``, ``attempt``,
        ``services``); a re-sent ``report_id`` is stored once."""
        ...

    def report_events(self, events: Sequence[Mapping[str, Any]]) -> int:
        """Send a batch of events; returns how many were new (re-sent ``event_id``s are not)."""
        ...

    def report_drift(self, reports: Sequence[Mapping[str, Any]]) -> int:
        """Send a batch of drift reports (values waiting for adoption: ``report_id``,
        ``service_id``, ``object``, ``fields``); returns how many were new."""
        ...


class AgentApi(DesiredStateSource, ReportSink, Protocol):
    """Starbase's whole agent API: pull and report."""
