"""Adopt from the dashboard in a real headless browser: an out-of-band edit inside a template's
rules, on a service with the manual ``adopt`` policy, waits on the service page; Approve makes it
the desired state with a new generation, Reject lets enforce revert it (PostgreSQL, Starbase over
HTTP, the Kubernetes test server, Shuttle and chromium, the page never reloaded)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from tests.dashboard.browser import sign_in, text_of, wait_for

from starform_apps.demo import LocalStarform
from starform_apps.demo.local_starform import wait_until
from starform_apps.starbase.template_files import publish_shipped
from starform_apps.starbase.tokens import mint_user_token
from starform_core.access import Actor
from starform_core.kube.labels import LABEL_SERVICE_ID

T = TypeVar("T")
MEMORY = "Deployment:/spec/template/spec/containers/0/resources/limits/memory"
REPLICAS = "Deployment:/spec/replicas"


@pytest.fixture(scope="module")
def survival(world: LocalStarform) -> dict[str, str]:
    """A Minecraft server from the shipped template, drift policy ``adopt`` with manual approval."""
    publish_shipped(world.starbase.store, actor=Actor(label="dashboard-tests"))
    ws = world.call("POST", "/v1/workspaces", {"name": "players"}, expect=201)
    project = world.call(
        "POST",
        f"/v1/workspaces/{ws['id']}/projects",
        {"name": "worlds", "cluster_id": world.cluster_id, "tier": "pro"},
        expect=201,
    )
    env = world.call("POST", f"/v1/projects/{project['id']}/environments", {"name": "live"}, expect=201)
    group = world.call(
        "POST",
        f"/v1/projects/{project['id']}/var-groups",
        {"name": "eula", "entries": {"EULA": "TRUE"}},
        expect=201,
    )
    made = world.call(
        "POST",
        f"/v1/projects/{project['id']}/services/from-template",
        {
            "environment_id": env["id"],
            "name": "survival",
            "template": {"name": "minecraft-server", "version": 1},
            "changes": {"resources": {"memory_limit": "3Gi"}},
            "var_groups": [{"var_group_id": group["id"], "attach_order": 0}],
        },
        expect=201,
    )
    service_id: str = made["service"]["id"]
    world.call("PATCH", f"/v1/services/{service_id}", {"drift_mode": "adopt", "adoption_policy": "manual"})
    world.converge()
    return {"service": service_id, "viewer": _viewer(world, ws["id"], project["id"])}


@pytest.fixture
def server(survival: dict[str, str]) -> str:
    """The Minecraft server's id."""
    return survival["service"]


def _viewer(world: LocalStarform, workspace_id: str, project_id: str) -> str:
    """A token of a user who may read the project but not deploy to it."""
    email = "viewer@players.example"
    store = world.starbase.store
    token = mint_user_token(store, store, email, operator=False, name="viewer", actor=Actor(label="tests"))
    world.call(
        "PUT", f"/v1/workspaces/{workspace_id}/members", {"email": email, "role": "member"}, expect=204
    )
    world.call("PUT", f"/v1/projects/{project_id}/members", {"email": email, "role": "viewer"}, expect=204)
    return token


def _deployment(world: LocalStarform, service_id: str) -> dict[str, Any]:
    [found] = [
        d
        for d in world.kube.list("apps/v1", "Deployment")
        if d["metadata"].get("labels", {}).get(LABEL_SERVICE_ID) == service_id
    ]
    return found


def _kubectl_apply(world: LocalStarform, service_id: str, spec: dict[str, Any]) -> None:
    """``kubectl apply --server-side --force-conflicts`` of a few fields (an out-of-band edit)."""
    meta = _deployment(world, service_id)["metadata"]
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


def _until(world: LocalStarform, check: Callable[[], T | None], what: str) -> T:
    """Reconcile until ``check`` holds (Shuttle sends its drift reports after each reconcile)."""

    def probe() -> T | None:
        world.reconcile()
        return check()

    return wait_until(probe, timeout=30, what=what)


def _pending(world: LocalStarform, service_id: str, field: str) -> dict[str, Any] | None:
    adoptions: list[dict[str, Any]] = world.call("GET", f"/v1/services/{service_id}/adoptions")
    return next((x for x in adoptions if x["field"] == field and x["status"] == "pending"), None)


def _generation(world: LocalStarform) -> int:
    return int(world.call("GET", f"/v1/clusters/{world.cluster_id}")["generation"])


def _adoption_row(browser: WebDriver, adoption_id: str) -> str:
    """The ``data-status`` of the adoption's row on the page ("" when it is not shown)."""
    rows = browser.find_elements("css selector", f'#adoptions tr[data-adoption="{adoption_id}"]')
    return str(rows[0].get_attribute("data-status")) if rows else ""


def _open(browser: WebDriver, world: LocalStarform, service_id: str, *, token: str | None = None) -> None:
    sign_in(browser, world.base_url, token or world.token, then=f"/ui/services/{service_id}")
    wait_for(browser, lambda d: text_of(d, "#live") == "live")
    browser.execute_script("window.__sameDocument = 'yes'")


def test_approving_a_pending_adoption_on_the_page_makes_it_desired_with_a_new_generation(
    browser: WebDriver, world: LocalStarform, server: str
) -> None:
    _open(browser, world, server)
    assert "limit 3Gi" in text_of(browser, "#desired-spec")
    _kubectl_apply(
        world,
        server,
        {"template": {"spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "4Gi"}}}]}}},
    )
    pending = _until(world, lambda: _pending(world, server, MEMORY), "a pending adoption of the memory limit")
    assert (pending["live"], pending["desired"], pending["within_rules"]) == ('"4Gi"', '"3Gi"', True)

    wait_for(browser, lambda d: _adoption_row(d, pending["id"]) == "pending")  # live: no reload
    row = browser.find_element("css selector", f'#adoptions tr[data-adoption="{pending["id"]}"]')
    assert "/resources/memory_limit" in row.text and '"4Gi"' in row.text and "kubectl" in row.text
    assert "within the template's rules" in row.text
    memory = '#comparison tr[data-field="resources/memory_limit"]'
    assert (text_of(browser, f"{memory} td.desired"), text_of(browser, f"{memory} td.state")) == (
        '"3Gi"',
        "differs",
    )
    assert text_of(browser, f"{memory} td.observed") == '"4Gi" (changed out of band, pending)'

    world.converge()
    assert (
        _deployment(world, server)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"][
            "memory"
        ]
        == "4Gi"
    ), "kept live while it waits"
    before = _generation(world)

    row.find_element("css selector", 'button[data-action="approve"]').click()
    wait_for(browser, lambda d: text_of(d, "#notice").startswith("Adopted"))
    assert text_of(browser, "#notice") == "Adopted: the live value is now the desired state."
    [decided] = [x for x in world.call("GET", f"/v1/services/{server}/adoptions") if x["id"] == pending["id"]]
    assert decided["status"] == "adopted" and decided["decided_by"]
    assert decided["generation"] == before + 1 == _generation(world), "a new generation"
    assert world.call("GET", f"/v1/services/{server}")["memory_limit"] == "4Gi"
    audit = world.call("GET", f"/v1/services/{server}/events?limit=500")["events"]
    assert "AdoptionAdopted" in [e["type"] for e in audit]

    wait_for(browser, lambda d: _adoption_row(d, pending["id"]) == "adopted")
    decided_row = browser.find_element("css selector", f'#adoptions tr[data-adoption="{pending["id"]}"]')
    assert f"adopted by {decided['decided_by']}" in decided_row.text
    assert not decided_row.find_elements("css selector", "button"), "a decided adoption has no buttons"
    wait_for(browser, lambda d: "limit 4Gi" in text_of(d, "#desired-spec"))
    assert text_of(browser, '#comparison tr[data-field="generation"] td.desired') == str(before + 1)
    assert browser.execute_script("return window.__sameDocument") == "yes", "no reload happened"

    world.converge()
    limits = _deployment(world, server)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["memory"] == "4Gi", "adopted, never reverted"


def test_rejecting_a_pending_adoption_on_the_page_lets_enforce_revert_it(
    browser: WebDriver, world: LocalStarform, server: str, survival: dict[str, str]
) -> None:
    desired = world.call("GET", f"/v1/services/{server}")["replicas"]
    _kubectl_apply(world, server, {"replicas": 0})
    pending = _until(world, lambda: _pending(world, server, REPLICAS), "a pending adoption of the replicas")
    assert (pending["live"], pending["desired"]) == ("0", str(desired))

    _open(browser, world, server, token=survival["viewer"])  # a viewer sees it, gets no buttons
    wait_for(browser, lambda d: _adoption_row(d, pending["id"]) == "pending")
    row = browser.find_element("css selector", f'#adoptions tr[data-adoption="{pending["id"]}"]')
    assert not row.find_elements("css selector", "button")
    assert "pending: deciding needs the deploy role" in row.text

    _open(browser, world, server)
    wait_for(browser, lambda d: _adoption_row(d, pending["id"]) == "pending")
    row = browser.find_element("css selector", f'#adoptions tr[data-adoption="{pending["id"]}"]')
    replicas = '#comparison tr[data-field="replicas"]'
    wait_for(browser, lambda d: text_of(d, f"{replicas} td.observed") == "0 (changed out of band, pending)")
    assert (text_of(browser, f"{replicas} td.desired"), text_of(browser, f"{replicas} td.state")) == (
        str(desired),
        "differs",
    )

    row.find_element("css selector", 'button[data-action="reject"]').click()
    wait_for(browser, lambda d: text_of(d, "#notice").startswith("Rejected"))
    assert text_of(browser, "#notice") == "Rejected: enforce reverts it."
    [decided] = [x for x in world.call("GET", f"/v1/services/{server}/adoptions") if x["id"] == pending["id"]]
    assert decided["status"] == "rejected"
    assert world.call("GET", f"/v1/services/{server}")["replicas"] == desired, "the desired spec is kept"
    wait_for(browser, lambda d: _adoption_row(d, pending["id"]) == "rejected")

    _until(world, lambda: _deployment(world, server)["spec"]["replicas"] == desired, "the edit reverted")
    reverted = world.call("GET", f"/v1/services/{server}/adoptions")
    assert [x["status"] for x in reverted if x["id"] == pending["id"]] in (["rejected"], ["reverted"])
    assert not _pending(world, server, REPLICAS), "a rejected value is not reported pending again"
    assert browser.execute_script("return window.__sameDocument") == "yes", "no reload happened"
