"""The usage port: where Shuttle's usage snapshots go (Starbase's billing ingestion)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["UsageSink"]


@runtime_checkable
class UsageSink(Protocol):
    """Takes usage snapshots; each carries a stable ``snapshot_id``, so re-sending is harmless.

    A snapshot refused for good raises :class:`~starform_core.errors.ReportRefusedError`; any
    other failure :class:`~starform_core.errors.DesiredStateSourceError` (send it again later).
    """

    def report_usage(self, snapshot: Mapping[str, Any]) -> bool:
        """Send one snapshot; True when it was new, False when Starbase already had it."""
        ...
