"""Seed 004's Adopt and the observed cache by UID, end to end (PostgreSQL, Starbase over HTTP,
Shuttle, the Kubernetes test server).

An out-of-band edit inside the template's rules is adopted (``auto``) or approved (``manual``)
and becomes the desired state with a new generation; outside the rules it is reverted; a PATCH
outside the rules is refused with the rule named; an object deleted out of band and recreated
is seen under a new UID with a ``ResourceDeletedExternally`` event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from tests.e2e.templated import template_project, templated_world

from starform_apps.demo import LocalStarform
from starform_apps.demo.local_starform import wait_until
from starform_core.kube.labels import LABEL_SERVICE_ID

T = TypeVar("T")
MEMORY = "/spec/template/spec/containers/0/resources/limits/memory"


@pytest.fixture(scope="module")
def world() -> Iterator[LocalStarform]:
    with templated_world() as opened:
        yield opened


@pytest.fixture(scope="module")
def project(world: LocalStarform) -> dict[str, str]:
    return template_project(
        world, workspace="adopters", project="worlds", group="eula", entries={"EULA": "TRUE"}
    )


def _server(world: LocalStarform, project: dict[str, str], name: str, policy: str) -> str:
    made = world.call(
        "POST",
        f"/v1/projects/{project['project']}/services/from-template",
        {
            "environment_id": project["environment"],
            "name": name,
            "template": {"name": "minecraft-server", "version": 1},
            "changes": {"resources": {"memory_limit": "3Gi"}},
            "var_groups": [{"var_group_id": project["group"], "attach_order": 0}],
        },
        expect=201,
    )
    service_id: str = made["service"]["id"]
    world.call("PATCH", f"/v1/services/{service_id}", {"drift_mode": "adopt", "adoption_policy": policy})
    world.converge()
    return service_id


def _deployment(world: LocalStarform, service_id: str) -> dict[str, Any]:
    [found] = [
        d
        for d in world.kube.list("apps/v1", "Deployment")
        if d["metadata"].get("labels", {}).get(LABEL_SERVICE_ID) == service_id
    ]
    return found


def _kubectl(world: LocalStarform, deployment: dict[str, Any], spec: dict[str, Any]) -> None:
    """``kubectl apply --server-side --force-conflicts`` of a few fields (an out-of-band edit)."""
    meta = deployment["metadata"]
    world.kube.apply_as(
        "kubectl",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "spec": spec,
        },
        force=True,
    )


def _memory(limit: str) -> dict[str, Any]:
    return {
        "template": {"spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": limit}}}]}}
    }


def _until(world: LocalStarform, check: Callable[[], T | None], what: str) -> T:
    """Reconcile until ``check`` holds (reports are sent at the end of each reconcile)."""

    def probe() -> T | None:
        world.reconcile()
        return check()

    return wait_until(probe, timeout=30, what=what)


def _adoptions(world: LocalStarform, service_id: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = world.call("GET", f"/v1/services/{service_id}/adoptions")
    return result


def _events(world: LocalStarform, service_id: str) -> list[dict[str, Any]]:
    page = world.call("GET", f"/v1/services/{service_id}/events?limit=500")
    events: list[dict[str, Any]] = page["events"]
    return events


def _generation(world: LocalStarform) -> int:
    return int(world.call("GET", f"/v1/clusters/{world.cluster_id}")["generation"])


def test_an_edit_inside_the_rules_is_adopted_automatically_with_a_new_generation(
    world: LocalStarform, project: dict[str, str]
) -> None:
    service_id = _server(world, project, "auto", "auto")
    before = _generation(world)
    _kubectl(world, _deployment(world, service_id), _memory("4Gi"))

    adopted = _until(
        world,
        lambda: next((x for x in _adoptions(world, service_id) if x["status"] == "adopted"), None),
        "the edit adopted",
    )
    assert adopted["field"] == "Deployment:" + MEMORY
    assert adopted["spec_field"] == "/resources/memory_limit"
    assert (adopted["live"], adopted["desired"]) == ('"4Gi"', '"3Gi"')
    assert adopted["decided_by"] == "starbase" and adopted["within_rules"] is True
    assert adopted["generation"] > before
    assert world.call("GET", f"/v1/services/{service_id}")["memory_limit"] == "4Gi"
    world.converge()
    limits = _deployment(world, service_id)["spec"]["template"]["spec"]["containers"][0]["resources"][
        "limits"
    ]
    assert limits["memory"] == "4Gi", "adopted, never reverted"
    types = [e["type"] for e in _events(world, service_id)]
    assert "AdoptionPending" in types and "AdoptionAdopted" in types


def test_an_edit_outside_the_rules_is_rejected_naming_the_rule_and_reverted_once(
    world: LocalStarform, project: dict[str, str]
) -> None:
    service_id = _server(world, project, "strict", "auto")
    _kubectl(world, _deployment(world, service_id), _memory("20Gi"))

    def reverted() -> dict[str, Any] | None:
        found = [x for x in _adoptions(world, service_id) if x["live"] == '"20Gi"']
        live = _deployment(world, service_id)["spec"]["template"]["spec"]["containers"][0]["resources"]
        return (
            found[0]
            if found and found[0]["status"] == "reverted" and live["limits"]["memory"] == "3Gi"
            else None
        )

    adoption = _until(world, reverted, "the edit reverted")
    assert adoption["within_rules"] is False
    [problem] = adoption["problems"]
    assert problem["pointer"] == "/resources/memory_limit"
    assert (problem["rule"], problem["template"]) == ("maxQuantity", "minecraft-server v1")
    [rejected] = [e for e in _events(world, service_id) if e["type"] == "AdoptionRejected"]
    assert "maxQuantity rule, template minecraft-server v1" in rejected["message"]
    assert world.call("GET", f"/v1/services/{service_id}")["memory_limit"] == "3Gi"
    payload = world.starbase.store.cluster_rows(world.cluster_id)
    assert not [r for r in payload.reverts if r.service_id == service_id], "reverted once: the entry left"


def test_a_manual_edit_waits_for_approval_then_becomes_desired(
    world: LocalStarform, project: dict[str, str]
) -> None:
    service_id = _server(world, project, "manual", "manual")
    _kubectl(world, _deployment(world, service_id), {"replicas": 0})
    pending = _until(
        world,
        lambda: next((x for x in _adoptions(world, service_id) if x["status"] == "pending"), None),
        "a pending adoption",
    )
    assert (pending["field"], pending["live"], pending["desired"]) == ("Deployment:/spec/replicas", "0", "1")
    world.converge()
    assert _deployment(world, service_id)["spec"]["replicas"] == 0, "kept live while it waits"
    before = _generation(world)

    approved = world.call("POST", f"/v1/adoptions/{pending['id']}/approve", expect=200)
    assert approved["status"] == "adopted" and approved["generation"] == before + 1 == _generation(world)
    assert world.call("GET", f"/v1/services/{service_id}")["replicas"] == 0
    again = world.http.post(
        f"/v1/adoptions/{pending['id']}/reject", headers={"Authorization": f"Bearer {world.token}"}
    )
    assert again.status_code == 409
    assert "not pending" in again.text


def test_a_patch_outside_the_rules_is_refused_with_the_rule_named(
    world: LocalStarform, project: dict[str, str]
) -> None:
    service_id = _server(world, project, "patched", "manual")
    before = _generation(world)
    response = world.http.patch(
        f"/v1/services/{service_id}",
        headers={"Authorization": f"Bearer {world.token}"},
        json={"memory_limit": "32Gi"},
    )
    assert response.status_code == 422
    assert "at most 16Gi (template minecraft-server v1)" in response.text
    assert _generation(world) == before
    inside = world.call("PATCH", f"/v1/services/{service_id}", {"memory_limit": "8Gi"})
    assert inside["memory_limit"] == "8Gi"


def test_an_object_deleted_out_of_band_is_seen_again_under_a_new_uid(
    world: LocalStarform, project: dict[str, str]
) -> None:
    service_id = _server(world, project, "phoenix", "manual")

    def deployment_row() -> dict[str, Any] | None:
        objects = world.call("GET", f"/v1/services/{service_id}/objects")
        rows = [o for o in objects if o["kind"] == "Deployment" and o["current"]]
        return rows[0] if rows else None

    first = _until(world, deployment_row, "the Deployment in the observed cache")
    assert first["uid"] == _deployment(world, service_id)["metadata"]["uid"]
    assert first["present"] and not first["stale"]
    meta = _deployment(world, service_id)["metadata"]
    world.kube.delete("apps/v1", "Deployment", meta["name"], namespace=meta["namespace"])

    def recreated() -> dict[str, Any] | None:
        row = deployment_row()
        return row if row is not None and row["uid"] != first["uid"] else None

    second = _until(world, recreated, "the recreated Deployment under a new UID")
    assert second["uid"] == _deployment(world, service_id)["metadata"]["uid"]
    objects = world.call("GET", f"/v1/services/{service_id}/objects")
    assert {o["uid"]: o["current"] for o in objects if o["kind"] == "Deployment"} == {
        first["uid"]: False,
        second["uid"]: True,
    }
    [event] = [e for e in _events(world, service_id) if e["type"] == "ResourceDeletedExternally"]
    assert (event["data"]["old_uid"], event["data"]["uid"]) == (first["uid"], second["uid"])
