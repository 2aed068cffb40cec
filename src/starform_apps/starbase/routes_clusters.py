"""Clusters: operators register them (the agent token is shown once), tune their settings, start
a new epoch after a restore, and read what the cluster's agent reported."""

from __future__ import annotations

import uuid
from typing import Annotated
from uuid import UUID

import attrs
from fastapi import APIRouter, Query

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import CurrentUser, actor_of, require_operator
from starform_apps.starbase.convert import agent_view, cluster_out, event_out
from starform_apps.starbase.http_errors import ERROR_RESPONSES
from starform_apps.starbase.ports import ClustersDep, DashboardDep
from starform_apps.starbase.tokens import AGENT_PREFIX, hash_token, new_token
from starform_core.payload.rows import ClusterRow
from starform_core.ports import DashboardReads

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["clusters"], responses=ERROR_RESPONSES)


def _out(dashboard: DashboardReads, row: ClusterRow) -> s.ClusterOut:
    applied, at = dashboard.last_applied(row.cluster_id)
    return cluster_out(
        row,
        last_applied_generation=applied,
        last_applied_at=at,
        **agent_view(dashboard.agent_state(row.cluster_id)),
    )


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


@router.post("/clusters/{cluster_id}/new-epoch", response_model=s.NewEpochOut)
def new_epoch(cluster_id: UUID, user: CurrentUser, clusters: ClustersDep) -> s.NewEpochOut:
    """Start a new epoch of the cluster's history (operators), after a restore of the database.

    Agents accept the new epoch's payload even where its generation is lower than what they
    applied, and apply it from scratch; a payload of an older epoch stays refused.
    """
    require_operator(user)
    epoch = clusters.new_epoch(str(cluster_id), actor=actor_of(user))
    return s.NewEpochOut(epoch=epoch, generation=clusters.get_cluster(str(cluster_id)).generation)


@router.get("/clusters/{cluster_id}/events", response_model=s.EventsPageOut)
def cluster_events(
    cluster_id: UUID,
    user: CurrentUser,
    dashboard: DashboardDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> s.EventsPageOut:
    """Every event the cluster's agent reported, cluster-wide ones included (operators)."""
    require_operator(user)
    page = dashboard.cluster_events(str(cluster_id), after=after, limit=limit)
    return s.EventsPageOut(events=[event_out(e) for e in page.events], next_after=page.next_after)
