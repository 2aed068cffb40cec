"""Seed 004's first acceptance criterion with templates: a service created from a template
converges to the desired Kubernetes objects (PostgreSQL, Starbase over HTTP, Shuttle, the
Kubernetes test server); a change outside the template's rules is refused with the rule named."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.e2e.templated import template_project, templated_world

from starform_apps.demo import LocalStarform
from starform_core.kube.labels import LABEL_SERVICE_ID

IMAGE_V2 = "docker.io/itzg/minecraft-server@sha256:" + "9e" * 32


@pytest.fixture(scope="module")
def world() -> Iterator[LocalStarform]:
    with templated_world() as opened:
        yield opened


@pytest.fixture(scope="module")
def project(world: LocalStarform) -> dict[str, str]:
    return template_project(
        world,
        workspace="games",
        project="minecraft",
        group="server",
        entries={"EULA": "TRUE", "DIFFICULTY": "hard"},
    )


def _create(
    world: LocalStarform, project: dict[str, str], name: str, changes: dict[str, Any]
) -> httpx.Response:
    return world.http.post(
        f"/v1/projects/{project['project']}/services/from-template",
        headers={"Authorization": f"Bearer {world.token}"},
        json={
            "environment_id": project["environment"],
            "name": name,
            "template": {"name": "minecraft-server", "version": 1},
            "changes": changes,
            "var_groups": [{"var_group_id": project["group"], "attach_order": 0}],
        },
    )


def _owned(world: LocalStarform, api_version: str, kind: str, service_id: str) -> list[dict[str, Any]]:
    return [
        obj
        for obj in world.kube.list(api_version, kind)
        if obj["metadata"].get("labels", {}).get(LABEL_SERVICE_ID) == service_id
    ]


def test_a_server_made_from_the_template_converges_to_its_objects(
    world: LocalStarform, project: dict[str, str]
) -> None:
    response = _create(
        world,
        project,
        "survival",
        {"resources": {"memory_limit": "3Gi"}, "volumes": {"data": {"size": "20Gi"}}},
    )
    assert response.status_code == 201, response.text
    service_id = response.json()["service"]["id"]
    world.converge()
    assert world.wait_healthy([service_id]) == {service_id: "healthy"}

    [deployment] = _owned(world, "apps/v1", "Deployment", service_id)
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"].startswith("docker.io/itzg/minecraft-server@sha256:")
    assert container["resources"]["limits"]["memory"] == "3Gi"
    assert container["resources"]["requests"]["memory"] == "2Gi"
    assert [p["containerPort"] for p in container["ports"]] == [25565]
    assert container["readinessProbe"]["tcpSocket"]["port"] == 25565
    assert [m["mountPath"] for m in container["volumeMounts"] if m["mountPath"] == "/data"] == ["/data"]
    assert deployment["spec"]["strategy"]["type"] == "Recreate", "one writer on a ReadWriteOnce world"
    assert deployment["spec"]["replicas"] == 1
    [claim] = _owned(world, "v1", "PersistentVolumeClaim", service_id)
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["status"]["phase"] == "Bound"
    [kube_service] = _owned(world, "v1", "Service", service_id)
    assert [(p["port"], p["protocol"]) for p in kube_service["spec"]["ports"]] == [(25565, "TCP")]
    assert not _owned(world, "gateway.networking.k8s.io/v1", "HTTPRoute", service_id)
    cluster = world.call("GET", f"/v1/clusters/{world.cluster_id}")
    assert cluster["last_applied_generation"] == cluster["generation"]


def test_a_change_outside_the_rules_is_refused_with_the_rule_named_and_nothing_reaches_the_cluster(
    world: LocalStarform, project: dict[str, str]
) -> None:
    before = world.call("GET", f"/v1/clusters/{world.cluster_id}")["generation"]
    response = _create(world, project, "greedy", {"resources": {"memory_limit": "32Gi"}})
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["msg"] == "/resources/memory_limit: at most 16Gi (template minecraft-server v1)"
    assert detail["field"] == "changes.resources.memory_limit"
    assert world.call("GET", f"/v1/clusters/{world.cluster_id}")["generation"] == before
    world.converge()
    names = {d["metadata"]["name"] for d in world.kube.list("apps/v1", "Deployment")}
    assert not any(name.startswith("greedy") for name in names)


def test_a_newer_version_is_offered_and_an_explicit_upgrade_rolls_the_new_image(
    world: LocalStarform, project: dict[str, str]
) -> None:
    made = _create(world, project, "creative", {"resources": {"memory_limit": "4Gi"}})
    assert made.status_code == 201, made.text
    service_id = made.json()["service"]["id"]
    world.converge()
    v1 = world.call("GET", "/v1/templates/minecraft-server/versions/1")
    v2 = {key: v1[key] for key in ("name", "title", "description", "allowed_mutations")}
    world.call(
        "POST", "/v1/templates", {**v2, "version": 2, "spec": {**v1["spec"], "image": IMAGE_V2}}, expect=201
    )
    world.converge()
    [before] = _owned(world, "apps/v1", "Deployment", service_id)
    assert not before["spec"]["template"]["spec"]["containers"][0]["image"].endswith("9e" * 32), (
        "never forced"
    )
    offers = world.call("GET", f"/v1/projects/{project['project']}/template-upgrades")
    assert service_id in {offer["service_id"] for offer in offers}
    upgraded = world.call("POST", f"/v1/services/{service_id}/template-upgrade", {})
    assert upgraded["template"]["version"] == 2
    world.converge()
    [after] = _owned(world, "apps/v1", "Deployment", service_id)
    [container] = after["spec"]["template"]["spec"]["containers"]
    assert container["image"] == IMAGE_V2
    assert container["resources"]["limits"]["memory"] == "4Gi", "the user's change survives the upgrade"
