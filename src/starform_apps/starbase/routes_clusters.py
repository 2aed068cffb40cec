"""Clusters: operators register them (the agent token is shown once) and tune their settings."""

from __future__ import annotations

import uuid
from uuid import UUID

import attrs
from fastapi import APIRouter

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import CurrentUser, actor_of, require_operator
from starform_apps.starbase.convert import cluster_out
from starform_apps.starbase.http_errors import ERROR_RESPONSES
from starform_apps.starbase.ports import ClustersDep, DashboardDep
from starform_apps.starbase.tokens import AGENT_PREFIX, hash_token, new_token
from starform_core.payload.rows import ClusterRow
from starform_core.ports import DashboardReads

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["clusters"], responses=ERROR_RESPONSES)


def _out(dashboard: DashboardReads, row: ClusterRow) -> s.ClusterOut:
    applied, at = dashboard.last_applied(row.cluster_id)
    return cluster_out(row, last_applied_generation=applied, last_applied_at=at)


@router.post("/clusters", status_code=201, response_model=s.ClusterRegistered)
def register_cluster(
    body: s.ClusterIn, user: CurrentUser, clusters: ClustersDep, dashboard: DashboardDep
) -> s.ClusterRegistered:
    """Register a cluster (operators); the answer carries its agent token, shown only once."""
    require_operator(user)
    token = new_token(AGENT_PREFIX)
    row = clusters.register_cluster(
        ClusterRow(cluster_id=str(uuid.uuid4()), generation=1, **body.model_dump()),
        agent_token_hash=hash_token(token),
        actor=actor_of(user),
    )
    return s.ClusterRegistered(cluster=_out(dashboard, row), agent_token=token)


@router.get("/clusters", response_model=list[s.ClusterOut])
def list_clusters(user: CurrentUser, clusters: ClustersDep, dashboard: DashboardDep) -> list[s.ClusterOut]:
    """Every cluster (to choose where a project is pinned)."""
    return [_out(dashboard, row) for row in clusters.list_clusters()]


@router.get("/clusters/{cluster_id}", response_model=s.ClusterOut)
def get_cluster(
    cluster_id: UUID, user: CurrentUser, clusters: ClustersDep, dashboard: DashboardDep
) -> s.ClusterOut:
    """One cluster's settings, desired generation and last applied generation."""
    return _out(dashboard, clusters.get_cluster(str(cluster_id)))


@router.patch("/clusters/{cluster_id}", response_model=s.ClusterOut)
def update_cluster(
    cluster_id: UUID, body: s.ClusterPatch, user: CurrentUser, clusters: ClustersDep, dashboard: DashboardDep
) -> s.ClusterOut:
    """Change cluster settings such as the load-balancer size unit (operators)."""
    require_operator(user)
    current = clusters.get_cluster(str(cluster_id))
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "metrics_namespace" in body.model_fields_set and body.metrics_namespace is None:
        changes["metrics_namespace"] = None  # an explicit null removes the scraper
    row = clusters.update_cluster(attrs.evolve(current, **changes), actor=actor_of(user))
    return _out(dashboard, row)
