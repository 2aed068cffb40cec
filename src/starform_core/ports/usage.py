"""The usage port: where Shuttle's usage snapshots go (Starbase's billing ingestion)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = ["UsageReceipt", "UsageSink"]


@attrs.frozen
class UsageReceipt:
    """Starbase's answer to a snapshot: ``new`` (False: it had it already, a retry) and the
    reasons of the samples it did not bill (one per sample, e.g. ``project_not_on_cluster``)."""

    new: bool
    rejected: tuple[str, ...] = ()


@runtime_checkable
class UsageSink(Protocol):
    """Takes usage snapshots; each carries a stable ``snapshot_id``, so re-sending is harmless.

    A snapshot refused for good raises :class:`~starform_core.errors.ReportRefusedError`; any
    other failure :class:`~starform_core.errors.DesiredStateSourceError` (send it again later).
    """

    def report_usage(self, snapshot: Mapping[str, Any]) -> UsageReceipt:
        """Send one snapshot; what Starbase made of it."""
        ...
