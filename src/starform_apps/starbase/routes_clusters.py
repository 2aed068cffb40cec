"""Clusters: operators register them (the agent token is shown once) and tune their settings."""

from __future__ import annotations

import uuid
from typing import Annotated
from uuid import UUID

import attrs
from fastapi import APIRouter, Depends

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import CurrentUser, actor_of, require_operator, store_of
from starform_apps.starbase.convert import agent_view, cluster_out
from starform_apps.starbase.http_errors import ERROR_RESPONSES
from starform_apps.starbase.tokens import AGENT_PREFIX, hash_token, new_token
from starform_core.payload.rows import ClusterRow
from starform_core.ports.store import Store

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["clusters"], responses=ERROR_RESPONSES)
StoreDep = Annotated[Store, Depends(store_of)]


def _out(store: Store, row: ClusterRow) -> s.ClusterOut:
    applied, at = store.last_applied(row.cluster_id)
    return cluster_out(
        row,
        last_applied_generation=applied,
        last_applied_at=at,
        **agent_view(store.agent_state(row.cluster_id)),
    )


@router.post("/clusters", status_code=201, response_model=s.ClusterRegistered)
def register_cluster(body: s.ClusterIn, user: CurrentUser, store: StoreDep) -> s.ClusterRegistered:
    """Register a cluster (operators); the answer carries its agent token, shown only once."""
    require_operator(user)
    token = new_token(AGENT_PREFIX)
    row = store.register_cluster(
        ClusterRow(cluster_id=str(uuid.uuid4()), generation=1, **body.model_dump()),
        agent_token_hash=hash_token(token),
        actor=actor_of(user),
    )
    return s.ClusterRegistered(cluster=_out(store, row), agent_token=token)


@router.get("/clusters", response_model=list[s.ClusterOut])
def list_clusters(user: CurrentUser, store: StoreDep) -> list[s.ClusterOut]:
    """Every cluster (to choose where a project is pinned)."""
    return [_out(store, row) for row in store.list_clusters()]


@router.get("/clusters/{cluster_id}", response_model=s.ClusterOut)
def get_cluster(cluster_id: UUID, user: CurrentUser, store: StoreDep) -> s.ClusterOut:
    """One cluster's settings, desired generation and last applied generation."""
    return _out(store, store.get_cluster(str(cluster_id)))


@router.patch("/clusters/{cluster_id}", response_model=s.ClusterOut)
def update_cluster(
    cluster_id: UUID, body: s.ClusterPatch, user: CurrentUser, store: StoreDep
) -> s.ClusterOut:
    """Change cluster settings such as the load-balancer size unit (operators)."""
    require_operator(user)
    current = store.get_cluster(str(cluster_id))
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "metrics_namespace" in body.model_fields_set and body.metrics_namespace is None:
        changes["metrics_namespace"] = None  # an explicit null removes the scraper
    row = store.update_cluster(attrs.evolve(current, **changes), actor=actor_of(user))
    return _out(store, row)


@router.post("/clusters/{cluster_id}/new-epoch", response_model=s.NewEpochOut)
def new_epoch(cluster_id: UUID, user: CurrentUser, store: StoreDep) -> s.NewEpochOut:
    """Start a new epoch of the cluster's history (operators), after a restore of the database.

    Agents accept the new epoch's payload even where its generation is lower than what they
    applied, and apply it from scratch; a payload of an older epoch stays refused.
    """
    require_operator(user)
    epoch = store.new_epoch(str(cluster_id), actor=actor_of(user))
    return s.NewEpochOut(epoch=epoch, generation=store.cluster_version(str(cluster_id))[1])
