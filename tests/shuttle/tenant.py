"""Build a tenant in a real Starbase through its HTTP API: a cluster (with its agent token), a
workspace, a project pinned to the cluster, an environment and services with deployments."""

from __future__ import annotations

import uuid
from typing import Any

import attrs
import httpx

from starform_testkit.starbase import RunningStarbase

LB_NAMESPACE = "envoy-gateway-system"
LB_NAME = "envoy-lb"
LB_SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": LB_NAME, "namespace": LB_NAMESPACE},
    "spec": {"type": "LoadBalancer", "ports": [{"name": "https", "port": 443, "targetPort": 10443}]},
}


def image(n: int) -> str:
    """A digest-pinned image, distinct per ``n``."""
    return f"registry.example.com/team/app-{n}@sha256:{n % 256:02x}{'ab' * 31}"


def ok(response: httpx.Response, status: int = 200) -> Any:
    """Assert the status; the JSON body."""
    assert response.status_code == status, (response.request.url, response.status_code, response.text)
    return response.json() if response.content else None


@attrs.define
class Tenant:
    """Ids and tokens of one tenant on its own cluster."""

    sb: RunningStarbase
    http: httpx.Client
    operator: str
    owner: str
    cluster_id: str
    agent_token: str
    project_id: str
    environment_id: str
    service_ids: list[str] = attrs.field(factory=list)

    @property
    def owner_auth(self) -> dict[str, str]:
        return self.sb.auth(self.owner)

    @property
    def agent_auth(self) -> dict[str, str]:
        return self.sb.auth(self.agent_token)

    def add_service(self, name: str, *, kind: str = "web", n: int = 0) -> str:
        """Create a service and deploy an image to it; returns the service id."""
        body: dict[str, Any] = {"environment_id": self.environment_id, "name": name, "type": kind}
        if kind == "web":
            body["port"] = 8080
        service = ok(
            self.http.post(f"/v1/projects/{self.project_id}/services", headers=self.owner_auth, json=body),
            201,
        )
        self.deploy(service["id"], image(n))
        self.service_ids.append(service["id"])
        return str(service["id"])

    def deploy(self, service_id: str, image_ref: str) -> None:
        ok(
            self.http.post(
                f"/v1/services/{service_id}/deployments", headers=self.owner_auth, json={"image": image_ref}
            ),
            201,
        )

    def desired_generation(self) -> int:
        return int(self.cluster()["generation"])

    def applied_generation(self) -> int | None:
        value = self.cluster()["last_applied_generation"]
        return None if value is None else int(value)

    def cluster(self) -> dict[str, Any]:
        return dict(ok(self.http.get(f"/v1/clusters/{self.cluster_id}", headers=self.owner_auth)))

    def desired_state(self) -> bytes:
        response = self.http.get(f"/v1/clusters/{self.cluster_id}/desired-state", headers=self.agent_auth)
        ok(response)
        return response.content

    def cluster_events(self) -> list[dict[str, Any]]:
        """Every stored event of the cluster, cluster-wide ones included (all pages, as an operator)."""
        return self._pages(f"/v1/clusters/{self.cluster_id}/events", self.sb.auth(self.operator))

    def events(self, service_id: str) -> list[dict[str, Any]]:
        """Every stored event of a service (all pages)."""
        return self._pages(f"/v1/services/{service_id}/events", self.owner_auth)

    def _pages(self, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after = 0
        while True:
            page = ok(self.http.get(path, headers=headers, params={"after": after, "limit": 500}))
            found.extend(page["events"])
            if page["next_after"] is None:
                return found
            after = page["next_after"]


def make_tenant(sb: RunningStarbase, http: httpx.Client, *, services: int = 0) -> Tenant:
    """A new cluster, workspace, project and ``production`` environment, with ``services`` web
    and worker services (alternating), each deployed once."""
    tag = uuid.uuid4().hex[:8]
    operator = sb.user_token(f"ops-{tag}@example.com", operator=True)
    owner = sb.user_token(f"owner-{tag}@example.com")
    registered = ok(
        http.post(
            "/v1/clusters",
            headers=sb.auth(operator),
            json={
                "name": f"c-{tag}",
                "region": "fra1",
                "gateway_namespace": LB_NAMESPACE,
                "gateway_name": "starform-gateway",
                "lb_target_api_version": "v1",
                "lb_target_kind": "Service",
                "lb_target_namespace": LB_NAMESPACE,
                "lb_target_name": LB_NAME,
                "lb_size_unit": 2,
            },
        ),
        201,
    )
    auth = sb.auth(owner)
    workspace = ok(http.post("/v1/workspaces", headers=auth, json={"name": f"ws {tag}"}), 201)
    project = ok(
        http.post(
            f"/v1/workspaces/{workspace['id']}/projects",
            headers=auth,
            json={"name": f"shop-{tag}", "cluster_id": registered["cluster"]["id"], "tier": "pro"},
        ),
        201,
    )
    environment = ok(
        http.post(f"/v1/projects/{project['id']}/environments", headers=auth, json={"name": "production"}),
        201,
    )
    tenant = Tenant(
        sb=sb,
        http=http,
        operator=operator,
        owner=owner,
        cluster_id=registered["cluster"]["id"],
        agent_token=registered["agent_token"],
        project_id=project["id"],
        environment_id=environment["id"],
    )
    for n in range(services):
        tenant.add_service(f"svc-{n:03d}", kind="web" if n % 2 == 0 else "worker", n=n)
    return tenant
