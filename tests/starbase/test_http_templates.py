"""The template API over a real socket on real PostgreSQL: publish, create from, offer, upgrade."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from tests.starbase.world import World, build_world, ok

from starform_apps.starbase.template_files import publish_shipped, shipped_templates
from starform_core.access import Actor
from starform_core.templates import template_to_json
from starform_testkit.starbase import RunningStarbase

NEW_IMAGE = "docker.io/itzg/minecraft-server@sha256:" + "9e" * 32
APP_IMAGE = "registry.example.com/team/app@sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    publish_shipped(starbase.starbase.store, actor=Actor(label="test"))
    w = build_world(starbase, client)
    eula = client.post(
        f"/v1/projects/{w.project_id}/var-groups",
        headers=w.h(w.owner),
        json={"name": "minecraft", "entries": {"EULA": "TRUE", "MEMORY": "1536M"}},
    )
    w.extra["eula_group"] = ok(eula, 201)["id"]
    w.extra["base_url"] = starbase.base_url
    return w


def _minecraft(
    w: World, name: str, changes: dict[str, Any] | None = None, *, token: str | None = None, **body: Any
) -> httpx.Response:
    """Create a Minecraft server from the shipped template (in staging, with the EULA attached)."""
    payload: dict[str, Any] = {
        "environment_id": w.staging_id,
        "name": name,
        "template": {"name": "minecraft-server"},
        "changes": changes or {},
        "var_groups": [{"var_group_id": w.extra["eula_group"], "attach_order": 0}],
        **body,
    }
    return httpx.post(
        f"{w.extra['base_url']}/v1/projects/{w.project_id}/services/from-template",
        headers=w.h(token or w.owner),
        json=payload,
        timeout=30,
    )


def _generation(client: httpx.Client, w: World) -> int:
    return int(ok(client.get(f"/v1/clusters/{w.cluster_id}", headers=w.h(w.owner)))["generation"])


def _template_body(name: str, version: int, **edits: Any) -> dict[str, Any]:
    base = next(t for t in shipped_templates() if t.name == name)
    data = copy.deepcopy(template_to_json(base))
    data["version"] = version
    for path, value in edits.items():
        node = data
        *parents, last = path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return data


def test_the_catalogue_lists_the_shipped_templates_and_loading_them_again_changes_nothing(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    again = publish_shipped(starbase.starbase.store, actor=Actor(label="test"))
    assert {(r.name, r.result) for r in again} == {
        ("cron-job", "unchanged"),
        ("minecraft-server", "unchanged"),
        ("web-app", "unchanged"),
        ("worker", "unchanged"),
    }
    listed = ok(client.get("/v1/templates", headers=world.h(world.owner)))
    assert [x["name"] for x in listed] == ["cron-job", "minecraft-server", "web-app", "worker"]
    minecraft = ok(client.get("/v1/templates/minecraft-server", headers=world.h(world.owner)))
    assert minecraft["spec"]["volumes"]["data"]["size"] == "10Gi"
    assert minecraft["spec"]["port"] == 25565
    assert minecraft["digest"].startswith("sha256:")
    assert client.get("/v1/templates/no-such", headers=world.h(world.owner)).status_code == 404


def test_creating_from_a_template_stores_the_spec_the_release_and_the_template(
    client: httpx.Client, world: World
) -> None:
    w = world
    before = _generation(client, w)
    made = ok(_minecraft(w, "survival", {"resources": {"memory_limit": "4Gi"}}), 201)
    service = made["service"]
    assert made["template"] == {"name": "minecraft-server", "version": 1}
    assert (service["type"], service["port"], service["public"], service["replicas"]) == (
        "worker",
        25565,
        False,
        1,
    )
    assert service["memory_limit"] == "4Gi"
    assert [(v["name"], v["mount_path"], v["size"]) for v in service["volumes"]] == [
        ("data", "/data", "10Gi")
    ]
    assert service["release"]["image"].startswith("docker.io/itzg/minecraft-server@sha256:")
    stored = ok(client.get(f"/v1/services/{service['id']}", headers=w.h(w.owner)))
    assert stored["release"]["version"] == 1
    assert stored["volumes"][0]["size"] == "10Gi"
    assert stored["var_groups"] == [{"var_group_id": w.extra["eula_group"], "attach_order": 0}]
    assert _generation(client, w) == before + 1, "one write, one generation"
    link = ok(client.get(f"/v1/services/{service['id']}/template", headers=w.h(w.owner)))
    assert (link["template"], link["upgrade_available"]) == (
        {"name": "minecraft-server", "version": 1},
        False,
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"resources": {"memory_limit": "32Gi"}},
            "changes.resources.memory_limit",
            "/resources/memory_limit: at most 16Gi (template minecraft-server v1)",
        ),
        (
            {"volumes": {"data": {"size": "5Gi"}}},
            "changes.volumes.data.size",
            "/volumes/data/size: at least 10Gi: the world grows, never shrinks"
            " (template minecraft-server v1)",
        ),
        (
            {"port": 80},
            "changes.port",
            "/port: is not a field the template lets you change (template minecraft-server v1)",
        ),
        (
            {"replicas": 2},
            "changes.replicas",
            "/replicas: must be one of 0, 1: one server per world (template minecraft-server v1)",
        ),
        ({"type": "web"}, "changes.type", "/type: is fixed by the template"),
    ],
)
def test_a_change_outside_the_rules_is_a_422_naming_the_rule_and_writes_nothing(
    client: httpx.Client, world: World, changes: dict[str, Any], field: str, message: str
) -> None:
    before = _generation(client, world)
    response = _minecraft(world, f"bad-{uuid.uuid4().hex[:6]}", changes)
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert (detail["field"], detail["msg"]) == (field, message)
    assert _generation(client, world) == before


def test_a_secret_pasted_into_a_change_is_never_echoed(client: httpx.Client, world: World) -> None:
    secret = "sk_live_" + uuid.uuid4().hex
    for changes in (
        {"resources": {"memory_limit": secret}},
        {"image": secret},
        {"volumes": {"data": {"size": secret}}},
    ):
        response = _minecraft(world, "leaky", changes)
        assert response.status_code == 422
        assert secret not in response.text


def test_the_required_var_keys_must_be_attached(client: httpx.Client, world: World) -> None:
    before = _generation(client, world)
    response = _minecraft(world, "no-eula", var_groups=[])
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["msg"] == "/var_keys/EULA: is required by the template: attach a var group that sets it"
    assert _generation(client, world) == before
    names = [
        s["name"]
        for s in ok(client.get(f"/v1/projects/{world.project_id}/services", headers=world.h(world.owner)))
    ]
    assert "no-eula" not in names


def test_roles_a_viewer_cannot_create_and_a_protected_environment_needs_admin(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    w = world
    for role in ("viewer", "developer"):
        email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
        token = starbase.user_token(email)
        ok(
            client.put(
                f"/v1/workspaces/{w.workspace_id}/members",
                headers=w.h(w.owner),
                json={"email": email, "role": "member"},
            ),
            204,
        )
        ok(
            client.put(
                f"/v1/projects/{w.project_id}/members",
                headers=w.h(w.owner),
                json={"email": email, "role": role},
            ),
            204,
        )
        w.extra[role] = token
    assert _minecraft(w, "by-viewer", token=w.extra["viewer"]).status_code == 403
    protected = _minecraft(w, "prod-mc", environment_id=w.production_id, token=w.extra["developer"])
    assert protected.status_code == 403
    assert "protected" in protected.json()["detail"]
    assert _minecraft(w, "by-dev", token=w.extra["developer"]).status_code == 201


def test_publishing_is_for_operators_and_versions_never_change(client: httpx.Client, world: World) -> None:
    w = world
    body = _template_body("worker", 2, **{"spec/replicas": 2})
    assert client.post("/v1/templates", headers=w.h(w.owner), json=body).status_code == 403
    first = ok(client.post("/v1/templates", headers=w.h(w.operator), json=body), 201)
    assert (first["version"], first["spec"]["replicas"], first["published_by"]) == (
        2,
        2,
        first["published_by"],
    )
    again = client.post("/v1/templates", headers=w.h(w.operator), json=body)
    assert again.status_code == 200
    assert again.json()["digest"] == first["digest"]
    changed = client.post("/v1/templates", headers=w.h(w.operator), json={**body, "title": "Other"})
    assert changed.status_code == 409
    assert "never changes" in changed.json()["detail"]
    older = client.post(
        "/v1/templates", headers=w.h(w.operator), json={**_template_body("worker", 1), "title": "x"}
    )
    assert older.status_code == 409
    versions = ok(client.get("/v1/templates/worker/versions", headers=w.h(w.owner)))
    assert [v["version"] for v in versions] == [2, 1]


def test_an_invalid_template_is_a_422_naming_the_pointer(client: httpx.Client, world: World) -> None:
    w = world
    cases = [
        (
            {
                "allowed_mutations/properties/resources": {
                    "properties": {"cpu_limit": {"maxQuantity": "lots"}}
                }
            },
            "allowed_mutations.properties.resources.properties.cpu_limit.maxQuantity",
        ),
        (
            {"allowed_mutations/properties/image": {"format": "uri"}},
            "allowed_mutations.properties.image.format",
        ),
        (
            {"allowed_mutations/properties/image": {"$ref": "https://example.com/schema"}},
            "allowed_mutations.properties.image.$ref",
        ),
        ({"spec/port": None}, "spec.port"),
        ({"spec/resources/cpu_limit": "100m"}, "spec.resources.cpu_limit"),
    ]
    for edits, field in cases:
        body = _template_body("minecraft-server", 50, **edits)
        if body["spec"].get("port", 0) is None:
            del body["spec"]["port"]
            body["spec"]["type"] = "web"
        response = client.post("/v1/templates", headers=w.h(w.operator), json=body)
        assert response.status_code == 422, (edits, response.text)
        assert response.json()["detail"][0]["field"] == field, response.text


def test_a_newer_version_is_offered_never_forced_and_an_upgrade_keeps_the_customisations(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    w = world
    made = ok(_minecraft(w, "creative", {"resources": {"memory_limit": "6Gi"}}), 201)["service"]
    v2 = _template_body("minecraft-server", 2, **{"spec/image": NEW_IMAGE, "spec/resources/cpu_limit": "3"})
    ok(client.post("/v1/templates", headers=w.h(w.operator), json=v2), 201)
    untouched = ok(client.get(f"/v1/services/{made['id']}", headers=w.h(w.owner)))
    assert untouched["release"]["version"] == 1, "a new version is never applied on its own"
    assert untouched["cpu_limit"] == "2"
    offers = ok(client.get(f"/v1/projects/{w.project_id}/template-upgrades", headers=w.h(w.owner)))
    offered = {o["service_id"]: o for o in offers}
    assert offered[made["id"]]["latest_version"] == 2
    assert offered[made["id"]]["upgrade_available"] is True
    upgraded = ok(client.post(f"/v1/services/{made['id']}/template-upgrade", headers=w.h(w.owner), json={}))
    assert upgraded["template"] == {"name": "minecraft-server", "version": 2}
    assert upgraded["spec"]["resources"]["memory_limit"] == "6Gi", "the user's change is kept"
    assert upgraded["spec"]["resources"]["cpu_limit"] == "3", "the new version's value where not customised"
    assert (upgraded["service"]["release"]["version"], upgraded["service"]["release"]["image"]) == (
        2,
        NEW_IMAGE,
    )
    offers = ok(client.get(f"/v1/projects/{w.project_id}/template-upgrades", headers=w.h(w.owner)))
    assert made["id"] not in {o["service_id"] for o in offers}
    again = client.post(
        f"/v1/services/{made['id']}/template-upgrade", headers=w.h(w.owner), json={"version": 2}
    )
    assert again.status_code == 409
    audit = starbase.starbase.store.audit_entries(cluster_id=w.cluster_id)
    upgrade = [e for e in audit if e.action == "service.template_upgrade" and e.target_id == made["id"]]
    assert len(upgrade) == 1
    assert upgrade[0].before is not None and upgrade[0].before["template"]["version"] == 1
    assert upgrade[0].after is not None and upgrade[0].after["spec"]["image"] == NEW_IMAGE


def test_an_upgrade_whose_rules_refuse_the_current_values_is_refused_naming_the_rule(
    client: httpx.Client, world: World
) -> None:
    w = world
    created = ok(_minecraft(w, "hardcore", {"resources": {"memory_limit": "12Gi"}}), 201)
    made, made_from = created["service"], created["template"]
    versions = ok(client.get("/v1/templates/minecraft-server/versions", headers=w.h(w.owner)))
    assert made_from == {"name": "minecraft-server", "version": versions[0]["version"]}, "the latest"
    upgrade = made_from["version"] + 1  # whatever the tests before this one published
    rules = _template_body("minecraft-server", upgrade)["allowed_mutations"]
    rules["properties"]["resources"]["properties"]["memory_limit"] = {
        "minQuantity": "1Gi",
        "maxQuantity": "8Gi",
    }
    ok(
        client.post(
            "/v1/templates",
            headers=w.h(w.operator),
            json=_template_body("minecraft-server", upgrade, allowed_mutations=rules),
        ),
        201,
    )
    before = _generation(client, w)
    response = client.post(
        f"/v1/services/{made['id']}/template-upgrade", headers=w.h(w.owner), json={"version": upgrade}
    )
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["msg"] == f"/resources/memory_limit: at most 8Gi (template minecraft-server v{upgrade})"
    assert detail["field"] == "spec.resources.memory_limit"
    assert _generation(client, w) == before
    link = ok(client.get(f"/v1/services/{made['id']}/template", headers=w.h(w.owner)))
    assert link["template"] == made_from, "a refused upgrade changes nothing"
    assert ok(client.get(f"/v1/services/{made['id']}", headers=w.h(w.owner)))["memory_limit"] == "12Gi"


def test_creation_and_publication_are_in_the_audit_log(starbase: RunningStarbase, world: World) -> None:
    entries = starbase.starbase.store.audit_entries(cluster_id=world.cluster_id)
    created = [e for e in entries if e.action == "service.create" and e.after and "template" in e.after]
    assert created and all(e.after and e.after["template"]["name"] == "minecraft-server" for e in created)
    assert all(e.after and "TRUE" not in json.dumps(e.after) for e in created), "no var value in the audit"


def test_a_published_row_cannot_be_changed_even_by_sql(starbase: RunningStarbase) -> None:
    with psycopg.connect(starbase.starbase.database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE templates SET title = 'x' WHERE name = 'worker'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM templates WHERE name = 'worker'")
