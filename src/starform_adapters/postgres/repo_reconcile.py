"""Reconcile requests on PostgreSQL: recorded, listed, marked served (each change NOTIFYs)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from starform_adapters.postgres.repository import Repository
from starform_core.errors import StoreNotFoundError, ValidationError
from starform_core.ports.reconcile import MAX_SERVED_PER_REPORT
from starform_core.records import ReconcileRequest

__all__ = ["ReconcileRepository"]

_INSERT = (
    "INSERT INTO reconcile_requests (id, cluster_id, service_id, requested_by) VALUES (%s, %s, %s, %s)"
    " RETURNING id, cluster_id, service_id, requested_by, requested_at, served_at"
)
_OF_SERVICE = (
    "SELECT id, cluster_id, service_id, requested_by, requested_at, served_at FROM reconcile_requests"
    " WHERE service_id = %s ORDER BY requested_at DESC, id LIMIT %s"
)


def _request(record: Sequence[Any]) -> ReconcileRequest:
    return ReconcileRequest(
        request_id=str(record[0]),
        cluster_id=str(record[1]),
        service_id=None if record[2] is None else str(record[2]),
        requested_by=record[3],
        requested_at=record[4],
        served_at=record[5],
    )


class ReconcileRepository(Repository):
    """The ``reconcile_requests`` table (migration 0008)."""

    def request_reconcile(
        self, cluster_id: str, *, service_id: str | None = None, requested_by: str
    ) -> ReconcileRequest:
        """Record a pending request; the service, if named, must be on the cluster."""
        with self._tx() as cur:
            if cur.execute("SELECT 1 FROM clusters WHERE id = %s", (cluster_id,)).fetchone() is None:
                raise StoreNotFoundError("cluster not found")
            if service_id is not None:
                on_cluster = cur.execute(
                    "SELECT 1 FROM services s JOIN projects p ON p.id = s.project_id"
                    " WHERE s.id = %s AND p.cluster_id = %s",
                    (service_id, cluster_id),
                ).fetchone()
                if on_cluster is None:
                    raise StoreNotFoundError("service not found")
            record = cur.execute(
                _INSERT, (str(uuid.uuid4()), cluster_id, service_id, requested_by)
            ).fetchone()
        assert record is not None  # INSERT ... RETURNING always returns the row
        return _request(record)

    def service_reconcile_requests(self, service_id: str, *, limit: int = 50) -> list[ReconcileRequest]:
        """The service's most recent requests, newest first."""
        with self._read() as cur:
            records = cur.execute(_OF_SERVICE, (service_id, max(1, min(limit, 500)))).fetchall()
        return [_request(record) for record in records]

    def mark_reconciles_served(self, cluster_id: str, request_ids: Sequence[str]) -> int:
        """Set ``served_at`` on the cluster's pending requests among ``request_ids``."""
        if len(request_ids) > MAX_SERVED_PER_REPORT:
            raise ValidationError(
                "served_reconcile_requests", f"at most {MAX_SERVED_PER_REPORT} ids per report"
            )
        if not request_ids:
            return 0
        with self._tx() as cur:
            cur.execute(
                "UPDATE reconcile_requests SET served_at = greatest(now(), requested_at)"
                " WHERE cluster_id = %s AND id = ANY(%s::uuid[]) AND served_at IS NULL",
                (cluster_id, sorted(set(request_ids))),
            )
            return cur.rowcount
