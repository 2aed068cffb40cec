"""What a cluster's agent needs from Starbase's store: its desired state, its token, its reports.

Every write that changes a cluster's desired state bumps the cluster's generation in the same
transaction (see the other role ports); these reads see one consistent snapshot. Only
:meth:`DesiredStateReader.cluster_rows` ever returns secret values (as
:class:`~starform_core.secrets_values.SecretValue`).

Errors: :class:`~starform_core.errors.StoreNotFoundError` for an unknown cluster,
:class:`~starform_core.errors.AgentReportRefusedError` (a
:class:`~starform_core.errors.StoreConflictError`) for a report Starbase does not believe,
:class:`~starform_core.errors.ValidationError` for a report naming another cluster's service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from starform_core.payload.rows import ClusterRows, RowMemo
from starform_core.ports.adoptions import DriftReport, ObjectReport
from starform_core.records import AgentView, EventRecord, ObservedStatus

__all__ = ["AgentStore", "DesiredStateReader"]


class DesiredStateReader(Protocol):
    """A cluster's desired state: the cheap generation read and the rows behind the payload."""

    def cluster_generation(self, cluster_id: str) -> int:
        """The cluster's current desired-state generation (a cheap read)."""
        ...

    def cluster_version(self, cluster_id: str) -> tuple[int, int]:
        """The cluster's current ``(epoch, generation)`` (a cheap read; the payload cache's key)."""
        ...

    def cluster_rows(self, cluster_id: str, *, memo: RowMemo | None = None) -> ClusterRows:
        """Every row of the cluster's desired state, read in one consistent snapshot.

        ``memo`` (held by the caller, the same one for each read of the cluster): rows whose
        records did not change since the previous read are returned as the same objects."""
        ...


class AgentStore(DesiredStateReader, Protocol):
    """The agent endpoints: authenticate the cluster's token, pull, report status and events."""

    def cluster_token_hash(self, cluster_id: str) -> bytes:
        """The SHA-256 of the cluster's agent token."""
        ...

    def agent_view(self, cluster_id: str) -> AgentView:
        """The cluster's version, agent token hash and pending reconcile requests (one cheap read)."""
        ...

    def record_status(
        self,
        cluster_id: str,
        *,
        applied_generation: int,
        statuses: Sequence[ObservedStatus],
        agent: str = "",
        report_key: str | None = None,
        epoch: int | None = None,
        attempt: Mapping[str, Any] | None = None,
        reported_at: datetime | None = None,
        objects: Sequence[ObjectReport] | None = None,
    ) -> str:
        """Store an agent report; returns its id.

        ``report_key`` is the agent's own id of the report: a re-sent report is stored once (the
        first id is returned). ``attempt`` is the last apply attempt (``generation``, ``outcome``,
        counts). A report Starbase does not believe (another epoch, a generation above the
        desired one: see :func:`~starform_core.reporting.judge_report`) is recorded as refused
        and raises :class:`~starform_core.errors.AgentReportRefusedError`; a status of a service
        of another cluster raises ``ValidationError``; statuses of deleted services are skipped.
        The last applied generation moves only forward within an epoch. ``objects`` are the
        managed objects by UID (an identity under a new UID records ``ResourceDeletedExternally``;
        objects not listed are no longer present; ``None``: the agent does not list objects).
        """
        ...

    def record_drift(self, cluster_id: str, reports: Sequence[DriftReport]) -> int:
        """Record drift reports (``adopt`` policy) as adoptions; returns how many were new.

        Under ``auto`` a value inside the template's rules is adopted at once; a value outside
        the rules is rejected at once (the payload then makes the agent revert it).
        """
        ...

    def append_events(self, cluster_id: str, events: Sequence[EventRecord]) -> int:
        """Append events, skipping ids already stored; returns how many were new."""
        ...
