"""The tier's caps are checked when Starbase accepts a change, over a real socket on real PostgreSQL.

Each refused write is a 422 naming the field, the value, the tier and the cap, and stores
nothing: the service, its volumes, the project and the cluster's generation are as before.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from tests.starbase.world import IMAGE, ok, register_cluster

from starform_apps.starbase.template_files import publish_shipped, shipped_templates
from starform_core.access import Actor
from starform_core.templates import template_to_json
from starform_testkit.starbase import RunningStarbase


class Tenant:
    """A project on a cluster with one environment, and the calls the tests make."""

    def __init__(self, sb: RunningStarbase, client: httpx.Client, tier: str) -> None:
        tag = uuid.uuid4().hex[:8]
        self.client = client
        self.sb = sb
        operator = sb.user_token(f"ops-{tag}@example.com", operator=True)
        self.operator = sb.auth(operator)
        self.owner = sb.auth(sb.user_token(f"owner-{tag}@example.com"))
        self.cluster_id, self.agent_token = register_cluster(sb, client, operator)
        ws = ok(client.post("/v1/workspaces", headers=self.owner, json={"name": f"ws {tag}"}), 201)
        project = {"name": "shop", "cluster_id": self.cluster_id, "tier": tier}
        self.project_id = ok(
            client.post(f"/v1/workspaces/{ws['id']}/projects", headers=self.owner, json=project), 201
        )["id"]
        env = {"name": "staging"}
        self.env_id = ok(
            client.post(f"/v1/projects/{self.project_id}/environments", headers=self.owner, json=env), 201
        )["id"]

    def create(self, name: str, **spec: Any) -> httpx.Response:
        body = {"environment_id": self.env_id, "name": name, "type": "worker", **spec}
        return self.client.post(f"/v1/projects/{self.project_id}/services", headers=self.owner, json=body)

    def service(self, service_id: str) -> dict[str, Any]:
        return ok(self.client.get(f"/v1/services/{service_id}", headers=self.owner))

    def services(self) -> list[dict[str, Any]]:
        return ok(self.client.get(f"/v1/projects/{self.project_id}/services", headers=self.owner))  # type: ignore[return-value]

    def generation(self) -> int:
        return int(ok(self.client.get(f"/v1/clusters/{self.cluster_id}", headers=self.owner))["generation"])

    def add_volume(self, service_id: str, name: str, size: str) -> httpx.Response:
        body = {"name": name, "mount_path": f"/{name}", "size": size}
        return self.client.post(f"/v1/services/{service_id}/volumes", headers=self.owner, json=body)

    def set_tier(self, tier: str) -> httpx.Response:
        return self.client.patch(f"/v1/projects/{self.project_id}", headers=self.owner, json={"tier": tier})


def refusal(response: httpx.Response) -> tuple[list[str | int], str]:
    """The one refused field's location and message of a 422."""
    assert response.status_code == 422, (response.status_code, response.text)
    [detail] = response.json()["detail"]
    return detail["loc"], detail["msg"]


@pytest.fixture(scope="module")
def free(starbase: RunningStarbase, client: httpx.Client) -> Tenant:
    return Tenant(starbase, client, "free")


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"cpu_request": "500m", "cpu_limit": "2"}, "cpu_limit", ["2 is above", "free", "cpu maximum of 1"]),
        ({"cpu_request": "1500m"}, "cpu_request", ["1500m", "free", "maximum of 1"]),
        ({"memory_request": "1536Mi"}, "memory_request", ["1536Mi", "memory maximum of 1Gi"]),
        ({"memory_limit": "2Gi"}, "memory_limit", ["2Gi", "free", "1Gi"]),
    ],
)
def test_a_service_over_the_tiers_container_cap_is_refused_and_not_stored(
    free: Tenant, spec: dict[str, str], field: str, words: list[str]
) -> None:
    before = (free.generation(), len(free.services()))
    loc, message = refusal(free.create(f"w-{uuid.uuid4().hex[:6]}", **spec))
    assert loc == ["body", field]
    for word in words:
        assert word in message
    assert (free.generation(), len(free.services())) == before


def test_a_service_at_the_caps_in_another_spelling_is_accepted(free: Tenant) -> None:
    made = ok(free.create("at-cap", cpu_request="1000m", cpu_limit="1", memory_limit="1024Mi"), 201)
    assert (made["cpu_limit"], made["memory_limit"]) == ("1", "1024Mi")


def test_a_patch_over_the_cap_is_refused_and_the_service_keeps_its_spec(free: Tenant) -> None:
    made = ok(free.create("patched", memory_limit="512Mi"), 201)
    before = free.generation()
    response = free.client.patch(
        f"/v1/services/{made['id']}", headers=free.owner, json={"memory_limit": "3Gi"}
    )
    loc, message = refusal(response)
    assert loc == ["body", "memory_limit"]
    assert "3Gi is above the free tier's per-container memory maximum of 1Gi" in message
    assert free.service(made["id"])["memory_limit"] == "512Mi"
    assert free.generation() == before
    patched = free.client.patch(
        f"/v1/services/{made['id']}", headers=free.owner, json={"memory_limit": "1Gi"}
    )
    assert ok(patched)["memory_limit"] == "1Gi"


def test_volumes_are_held_to_the_per_volume_cap_and_the_projects_claim_quota(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    tenant = Tenant(starbase, client, "free")
    web = ok(tenant.create("db"), 201)["id"]
    other = ok(tenant.create("cache"), 201)["id"]
    loc, message = refusal(tenant.add_volume(web, "big", "6Gi"))
    assert loc == ["body", "size"]
    assert "6Gi is above the free tier's per-volume maximum of 5Gi" in message
    ok(tenant.add_volume(web, "data", "3Gi"), 201)
    loc, message = refusal(tenant.add_volume(other, "more", "3Gi"))
    assert loc == ["body", "size"]
    assert "would total 6Gi, above the free tier's storage quota of 5Gi" in message
    ok(tenant.add_volume(other, "small", "1Gi"), 201)
    before = tenant.generation()
    loc, message = refusal(tenant.add_volume(other, "third", "100Mi"))
    assert "3 volumes, above the free tier's quota of 2" in message
    assert [v["name"] for v in tenant.service(other)["volumes"]] == ["small"]
    assert tenant.generation() == before


def test_a_service_from_a_template_over_the_tier_is_refused_naming_the_changes_field(
    starbase: RunningStarbase, free: Tenant
) -> None:
    publish_shipped(starbase.starbase.store, actor=Actor(label="test"))
    before = (free.generation(), len(free.services()))
    body = {
        "environment_id": free.env_id,
        "name": "game",
        "template": {"name": "minecraft-server"},
        "changes": {
            "resources": {
                "cpu_request": "500m",
                "cpu_limit": "1",
                "memory_request": "1Gi",
                "memory_limit": "1Gi",
            }
        },
    }
    path = f"/v1/projects/{free.project_id}/services/from-template"
    loc, message = refusal(free.client.post(path, headers=free.owner, json=body))
    assert loc == ["body", "changes", "volumes", "data", "size"]
    assert "10Gi is above the free tier's per-volume maximum of 5Gi (service game)" in message
    body["changes"] = {}
    loc, message = refusal(free.client.post(path, headers=free.owner, json=body))
    assert loc == ["body", "changes", "resources", "cpu_limit"]
    assert "2 is above the free tier's per-container cpu maximum of 1 (service game)" in message
    assert (free.generation(), len(free.services())) == before


def test_a_tier_change_the_services_do_not_fit_is_refused_naming_service_field_and_cap(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    tenant = Tenant(starbase, client, "hobby")
    big = ok(tenant.create("big", cpu_request="250m", cpu_limit="2"), 201)["id"]
    before = tenant.generation()
    loc, message = refusal(tenant.set_tier("free"))
    assert loc == ["body", "tier"]
    assert "cpu_limit: 2 is above the free tier's per-container cpu maximum of 1 (service big)" in message
    assert ok(client.get(f"/v1/projects/{tenant.project_id}", headers=tenant.owner))["tier"] == "hobby"
    assert tenant.generation() == before
    ok(client.patch(f"/v1/services/{big}", headers=tenant.owner, json={"cpu_limit": "1"}))
    ok(tenant.add_volume(big, "data", "10Gi"), 201)
    loc, message = refusal(tenant.set_tier("free"))
    assert "volumes.data.size: 10Gi is above the free tier's per-volume maximum of 5Gi" in message


def test_a_tier_change_that_fits_is_stored_and_renders_the_new_limits(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    tenant = Tenant(starbase, client, "hobby")
    ok(tenant.create("small"), 201)
    before = tenant.generation()
    assert ok(tenant.set_tier("free"))["tier"] == "free"
    assert ok(client.get(f"/v1/projects/{tenant.project_id}", headers=tenant.owner))["tier"] == "free"
    assert tenant.generation() == before + 1
    assert ok(tenant.set_tier("free"))["tier"] == "free"
    assert tenant.generation() == before + 1, "the same tier again changes nothing"
    with psycopg.connect(starbase.starbase.database_url, autocommit=True) as conn:
        periods = conn.execute(
            "SELECT tier, upper_inf(during) FROM billing_plan_periods WHERE project_id = %s"
            " ORDER BY lower(during)",
            (tenant.project_id,),
        ).fetchall()
    assert periods == [("hobby", False), ("free", True)], "billing follows the tier change"
    ok(tenant.set_tier("pro"))
    ok(tenant.create("bigger", cpu_request="4", memory_request="16Gi"), 201)


def test_a_tier_change_needs_a_workspace_owner_or_admin(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    tenant = Tenant(starbase, client, "hobby")
    scoped = ok(
        client.post(
            "/v1/tokens",
            headers=tenant.owner,
            json={"name": "ci", "project_id": tenant.project_id, "role": "admin"},
        ),
        201,
    )["secret"]
    response = client.patch(
        f"/v1/projects/{tenant.project_id}", headers=starbase.auth(scoped), json={"tier": "pro"}
    )
    assert response.status_code == 403, response.text
    assert ok(client.get(f"/v1/projects/{tenant.project_id}", headers=tenant.owner))["tier"] == "hobby"
    assert (
        client.patch(
            f"/v1/projects/{tenant.project_id}", headers=tenant.owner, json={"tier": "gold"}
        ).status_code
        == 422
    )


def test_a_deploy_of_a_service_stored_over_its_tier_is_refused(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    tenant = Tenant(starbase, client, "free")
    service = ok(tenant.create("legacy"), 201)["id"]
    # A spec stored before Starbase checked tiers (or written past the API) can still be over.
    with psycopg.connect(starbase.starbase.database_url, autocommit=True) as conn:
        conn.execute("UPDATE services SET cpu_limit = '3' WHERE id = %s", (service,))
    response = client.post(f"/v1/services/{service}/deployments", headers=tenant.owner, json={"image": IMAGE})
    loc, message = refusal(response)
    assert loc == ["body", "service", "cpu_limit"]
    assert "3 is above the free tier's per-container cpu maximum of 1 (service legacy)" in message
    assert ok(client.get(f"/v1/services/{service}/deployments", headers=tenant.owner)) == []


def test_a_template_upgrade_over_the_tier_is_refused_and_the_service_stays_on_its_version(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    tenant = Tenant(starbase, client, "hobby")
    name = f"tier-worker-{uuid.uuid4().hex[:6]}"
    worker = template_to_json(next(t for t in shipped_templates() if t.name == "worker"))
    for version, cpu_limit in ((1, "500m"), (2, "4")):
        document = {**worker, "name": name, "version": version}
        document["spec"] = {
            **worker["spec"],
            "resources": {**worker["spec"]["resources"], "cpu_limit": cpu_limit},
        }
        ok(client.post("/v1/templates", headers=tenant.operator, json=document), 201)
    body = {"environment_id": tenant.env_id, "name": "jobs", "template": {"name": name, "version": 1}}
    path = f"/v1/projects/{tenant.project_id}/services/from-template"
    service = ok(client.post(path, headers=tenant.owner, json=body), 201)["service"]["id"]
    before = tenant.generation()
    upgraded = client.post(f"/v1/services/{service}/template-upgrade", headers=tenant.owner, json={})
    loc, message = refusal(upgraded)
    assert loc == ["body", "spec", "resources", "cpu_limit"]
    assert "4 is above the hobby tier's per-container cpu maximum of 2 (service jobs)" in message
    link = ok(client.get(f"/v1/services/{service}/template", headers=tenant.owner))
    assert link["template"]["version"] == 1
    assert tenant.service(service)["cpu_limit"] == "500m"
    assert tenant.generation() == before
    ok(tenant.set_tier("pro"))
    assert ok(client.post(f"/v1/services/{service}/template-upgrade", headers=tenant.owner, json={}))[
        "template"
    ] == {"name": name, "version": 2}


def _report_cpu_limit(client: httpx.Client, tenant: Tenant, agent: str, service_id: str, live: str) -> None:
    report = {
        "report_id": str(uuid.uuid4()),
        "service_id": service_id,
        "object": {"kind": "Deployment", "namespace": "sf-shop", "name": "web-staging", "uid": "uid-1"},
        "fields": [
            {
                "path": "/spec/template/spec/containers/0/resources/limits/cpu",
                "live": json.dumps(live),
                "desired": None,
                "manager": "kubectl",
            }
        ],
        "epoch": 0,
        "generation": 1,
        "reported_at": datetime.now(UTC).isoformat(),
    }
    path = f"/v1/clusters/{tenant.cluster_id}/drift-reports"
    assert ok(client.post(path, headers=starbase_auth(agent), json={"reports": [report]}))["adoptions"] == 1


def starbase_auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_out_of_band_value_over_the_tier_is_never_adopted(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    tenant = Tenant(starbase, client, "pro")
    service = ok(tenant.create("edited", drift_mode="adopt"), 201)["id"]
    _report_cpu_limit(client, tenant, tenant.agent_token, service, "16")
    [refused] = ok(client.get(f"/v1/services/{service}/adoptions", headers=tenant.owner))
    assert (refused["status"], refused["within_rules"]) == ("rejected", False)
    [problem] = refused["problems"]
    assert problem["rule"] == "tier"
    assert "16 is above the pro tier's per-container cpu maximum of 8" in problem["reason"]
    _report_cpu_limit(client, tenant, tenant.agent_token, service, "4")
    pending = next(
        a
        for a in ok(client.get(f"/v1/services/{service}/adoptions", headers=tenant.owner))
        if a["status"] == "pending"
    )
    ok(tenant.set_tier("hobby"))
    before = tenant.generation()
    approved = client.post(f"/v1/adoptions/{pending['id']}/approve", headers=tenant.owner)
    loc, message = refusal(approved)
    assert loc == ["body", "/resources/cpu_limit"], "as approvals name template rules: the spec pointer"
    assert "4 is above the hobby tier's per-container cpu maximum of 2" in message
    assert tenant.service(service)["cpu_limit"] is None
    assert tenant.generation() == before
