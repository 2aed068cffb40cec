"""A billing world inserted straight into PostgreSQL: clusters, a workspace, projects, services."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import attrs
import psycopg

SINCE = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
"""Projects of the world exist (and are on their first plan) from this instant."""


@attrs.define
class Tenant:
    """One project on one cluster, with an environment and its services."""

    cluster_id: str
    workspace_id: str
    project_id: str
    environment: str
    services: list[str]


def _cluster(conn: psycopg.Connection[tuple[object, ...]], name: str) -> str:
    cluster_id = str(uuid.uuid4())
    conn.execute("INSERT INTO regions (name) VALUES ('fra1') ON CONFLICT DO NOTHING")
    conn.execute(
        "INSERT INTO clusters (id, name, region, gateway_namespace, gateway_name, storage_class,"
        " agent_token_hash) VALUES (%s, %s, 'fra1', 'gw', 'gw', 'sc', %s)",
        (cluster_id, name, hashlib.sha256(cluster_id.encode()).digest()),
    )
    return cluster_id


def make_tenant(
    url: str,
    *,
    services: int = 2,
    tier: str = "hobby",
    cluster_id: str | None = None,
    workspace_id: str | None = None,
    since: dt.datetime = SINCE,
    owner_email: str | None = None,
) -> Tenant:
    """Insert a project (on a new cluster unless given) whose plan started at ``since``."""
    tag = uuid.uuid4().hex[:8]
    with psycopg.connect(url, autocommit=True) as conn:
        cluster_id = cluster_id or _cluster(conn, f"c-{tag}")
        if workspace_id is None:
            workspace_id = str(uuid.uuid4())
            conn.execute("INSERT INTO workspaces (id, name) VALUES (%s, %s)", (workspace_id, f"ws {tag}"))
            if owner_email:
                user_id = str(uuid.uuid4())
                conn.execute("INSERT INTO users (id, email) VALUES (%s, %s)", (user_id, owner_email))
                conn.execute(
                    "INSERT INTO workspace_members (workspace_id, user_id, role) VALUES (%s, %s, 'owner')",
                    (workspace_id, user_id),
                )
        project_id, env_id = str(uuid.uuid4()), str(uuid.uuid4())
        conn.execute(
            "INSERT INTO projects (id, workspace_id, cluster_id, name, tier) VALUES (%s, %s, %s, %s, %s)",
            (project_id, workspace_id, cluster_id, f"project-{tag}", tier),
        )
        conn.execute(
            "UPDATE billing_plan_periods SET during = tstzrange(%s, NULL) WHERE project_id = %s",
            (since, project_id),
        )
        conn.execute(
            "INSERT INTO environments (id, project_id, name) VALUES (%s, %s, 'production')",
            (env_id, project_id),
        )
        ids = []
        for index in range(services):
            service_id = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO services (id, project_id, environment_id, name, type, state, cpu_request,"
                " memory_request) VALUES (%s, %s, %s, %s, 'worker', 'active', '250m', '512Mi')",
                (service_id, project_id, env_id, f"svc-{index}"),
            )
            ids.append(service_id)
    return Tenant(cluster_id, workspace_id, project_id, "production", ids)


def change_tier(url: str, project_id: str, tier: str, at: dt.datetime) -> None:
    """Change a project's tier as of ``at`` (the trigger records it; the test moves it in time)."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("UPDATE projects SET tier = %s WHERE id = %s", (tier, project_id))
        conn.execute(
            "UPDATE billing_plan_periods SET during = tstzrange(lower(during), %s)"
            " WHERE project_id = %s AND NOT upper_inf(during) AND upper(during) = now()",
            (at, project_id),
        )
        conn.execute(
            "UPDATE billing_plan_periods SET during = tstzrange(%s, NULL)"
            " WHERE project_id = %s AND upper_inf(during)",
            (at, project_id),
        )
