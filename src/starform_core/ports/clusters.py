"""Clusters as operators manage them: registration (with the agent token's hash) and settings.

A registration, a settings change or a new epoch is audited; a settings change bumps the
cluster's generation.
Errors: :class:`~starform_core.errors.StoreNotFoundError` for an unknown cluster,
:class:`~starform_core.errors.StoreConflictError` for a taken name or a changed region,
:class:`~starform_core.errors.ValidationError` for settings the payload would refuse.
"""

from __future__ import annotations

from typing import Protocol

from starform_core.access import Actor
from starform_core.payload.rows import ClusterRow

__all__ = ["ClusterStore"]


class ClusterStore(Protocol):
    """Register clusters, change their settings, read them."""

    def register_cluster(self, cluster: ClusterRow, *, agent_token_hash: bytes, actor: Actor) -> ClusterRow:
        """Register a cluster (its region is created if new) at ``cluster.generation``."""
        ...

    def update_cluster(self, cluster: ClusterRow, *, actor: Actor) -> ClusterRow:
        """Change a cluster's settings (not its id or generation); bumps the generation."""
        ...

    def get_cluster(self, cluster_id: str) -> ClusterRow:
        """One cluster with its current generation."""
        ...

    def list_clusters(self) -> list[ClusterRow]:
        """Every cluster."""
        ...

    def new_epoch(self, cluster_id: str, *, actor: Actor) -> int:
        """Start a new epoch of the cluster's history (after a restore); returns it.

        The new epoch is above the current one and every epoch an agent reported, and not before
        now (Unix milliseconds); the last applied generation is forgotten (it belonged to the
        old epoch). Audited as ``cluster.new_epoch``.
        """
        ...
