"""The desired-state source port: where Shuttle gets its payload and sends what it observes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

__all__ = ["DesiredStateSource", "Fetched", "NotModified"]


@attrs.frozen
class Fetched:
    """A payload's canonical bytes and ETag."""

    body: bytes = attrs.field(repr=False)
    etag: str


@attrs.frozen
class NotModified:
    """The payload is unchanged since the ETag Shuttle sent."""

    etag: str


class DesiredStateSource(Protocol):
    """Starbase, seen from Shuttle. Failures raise :class:`~starform_core.errors.DesiredStateSourceError`."""

    def fetch(self, *, etag: str | None) -> Fetched | NotModified:
        """Pull the cluster's payload, conditionally on ``etag``."""
        ...

    def report_status(self, *, applied_generation: int | None, services: Sequence[Mapping[str, Any]]) -> None:
        """Send observed per-service status and the generation applied."""
        ...

    def report_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Send a batch of events (idempotent by each event's ``event_id``)."""
        ...
