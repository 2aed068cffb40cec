"""Build a small tenant through the HTTP API: cluster, workspace, project, environments, services."""

from __future__ import annotations

import uuid

import attrs
import httpx

from starform_testkit.starbase import RunningStarbase

DIGEST = "sha256:" + "ab" * 32
IMAGE = f"registry.example.com/team/app@{DIGEST}"
IMAGE_2 = f"registry.example.com/team/app@sha256:{'cd' * 32}"


def ok(response: httpx.Response, status: int = 200) -> dict:  # type: ignore[type-arg]
    """Assert the status and return the JSON body."""
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else {}


@attrs.define
class World:
    """Ids and tokens of one tenant on one cluster."""

    cluster_id: str
    agent_token: str
    operator: str
    owner: str
    workspace_id: str
    project_id: str
    staging_id: str
    production_id: str
    web_id: str
    prod_web_id: str
    var_group_id: str
    extra: dict[str, str] = attrs.field(factory=dict)

    def h(self, token: str) -> dict[str, str]:
        """Authorization header."""
        return {"Authorization": f"Bearer {token}"}


def register_cluster(sb: RunningStarbase, client: httpx.Client, operator: str) -> tuple[str, str]:
    """Register a cluster; returns (cluster_id, agent_token)."""
    name = f"c-{uuid.uuid4().hex[:10]}"
    body = ok(
        client.post(
            "/v1/clusters",
            headers=sb.auth(operator),
            json={
                "name": name,
                "region": "fra1",
                "gateway_namespace": "envoy-gateway-system",
                "gateway_name": "starform-gateway",
                "lb_target_api_version": "v1",
                "lb_target_kind": "Service",
                "lb_target_namespace": "envoy-gateway-system",
                "lb_target_name": "envoy-lb",
                "lb_size_unit": 2,
            },
        ),
        201,
    )
    return body["cluster"]["id"], body["agent_token"]


def build_world(sb: RunningStarbase, client: httpx.Client) -> World:
    """A workspace with one project, a staging and a protected production environment."""
    tag = uuid.uuid4().hex[:8]
    operator = sb.user_token(f"ops-{tag}@example.com", operator=True)
    owner = sb.user_token(f"owner-{tag}@example.com")
    cluster_id, agent_token = register_cluster(sb, client, operator)
    auth = sb.auth(owner)
    ws = ok(client.post("/v1/workspaces", headers=auth, json={"name": f"ws {tag}"}), 201)
    project = ok(
        client.post(
            f"/v1/workspaces/{ws['id']}/projects",
            headers=auth,
            json={"name": "shop", "cluster_id": cluster_id, "tier": "pro"},
        ),
        201,
    )
    pid = project["id"]
    staging = ok(
        client.post(f"/v1/projects/{pid}/environments", headers=auth, json={"name": "staging"}),
        201,
    )
    production = ok(
        client.post(
            f"/v1/projects/{pid}/environments",
            headers=auth,
            json={"name": "production", "protected": True},
        ),
        201,
    )
    web = ok(
        client.post(
            f"/v1/projects/{pid}/services",
            headers=auth,
            json={"environment_id": staging["id"], "name": "web", "type": "web", "port": 8080},
        ),
        201,
    )
    prod_web = ok(
        client.post(
            f"/v1/projects/{pid}/services",
            headers=auth,
            json={"environment_id": production["id"], "name": "web", "type": "web", "port": 8080},
        ),
        201,
    )
    group = ok(
        client.post(
            f"/v1/projects/{pid}/var-groups",
            headers=auth,
            json={"name": "shared", "entries": {"LOG_LEVEL": "debug"}},
        ),
        201,
    )
    return World(
        cluster_id=cluster_id,
        agent_token=agent_token,
        operator=operator,
        owner=owner,
        workspace_id=ws["id"],
        project_id=pid,
        staging_id=staging["id"],
        production_id=production["id"],
        web_id=web["id"],
        prod_web_id=prod_web["id"],
        var_group_id=group["id"],
    )
