"""The audit log: every change to intent, with its actor and the generation it produced."""

from __future__ import annotations

from typing import Protocol

from starform_core.records import AuditEntry

__all__ = ["AuditLog"]


class AuditLog(Protocol):
    """Read the audit log (the stores append to it inside each write)."""

    def audit_entries(self, *, cluster_id: str) -> list[AuditEntry]:
        """The audit entries of changes that touched a cluster, oldest first."""
        ...
