"""The dashboard in a real headless browser (chromium through Selenium) against the demo's
platform: PostgreSQL, Starbase over HTTP, the Kubernetes test server and Shuttle."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.remote.webdriver import WebDriver
from tests.dashboard.browser import sign_in, text_of, wait_for

from starform_apps.demo import LocalStarform
from starform_apps.demo.walkthrough import DIGEST_V1, DIGEST_V2
from starform_core.kube.labels import LABEL_SERVICE_ID

DEMO_SERVICES = {
    "storefront": ("replicas", "2"),
    "mailer": ("replicas", "1"),
    "nightly-report": ("schedule", "30 2 * * * (Europe/Berlin)"),
    "storefront-staging": ("replicas", "1"),
}
"""The demo's services and their desired scale: replicas, or a cron job's schedule."""


def _workload(world: LocalStarform, service_id: str, kind: str = "Deployment") -> dict[str, Any]:
    api = "batch/v1" if kind == "CronJob" else "apps/v1"
    [found] = [
        o
        for o in world.kube.list(api, kind)
        if o["metadata"].get("labels", {}).get(LABEL_SERVICE_ID) == service_id
    ]
    return found


def _row(browser: WebDriver, field: str) -> dict[str, str]:
    css = f'#comparison tr[data-field="{field}"]'
    return {
        "desired": text_of(browser, f"{css} td.desired"),
        "observed": text_of(browser, f"{css} td.observed"),
        "state": text_of(browser, f"{css} td.state"),
    }


def _observed_scale(world: LocalStarform, service_id: str, field: str) -> str:
    """What the replicas (or schedule) row shows, from the live workload itself."""
    if field == "schedule":
        spec = _workload(world, service_id, "CronJob")["spec"]
        return f"{spec['schedule']} ({spec['timeZone']})"
    live = _workload(world, service_id)
    return f"{live['spec']['replicas']} ({live['status'].get('readyReplicas', 0)} ready)"


def _open_service(browser: WebDriver, world: LocalStarform, service_id: str) -> None:
    browser.get(f"{world.base_url}/ui/services/{service_id}")
    wait_for(browser, lambda d: text_of(d, "#live") == "live")


def test_signing_in_leads_to_the_page_asked_for_and_lists_the_demo_services(
    browser: WebDriver, world: LocalStarform, tenants: dict[str, Any]
) -> None:
    project_id = tenants["project"]["id"]
    sign_in(browser, world.base_url, world.token, then=f"/ui/projects/{project_id}")
    assert browser.current_url == f"{world.base_url}/ui/projects/{project_id}"
    rows = browser.find_elements("css selector", "tr[data-service-row]")
    names = sorted(r.get_attribute("data-service-row") for r in rows)
    assert names == ["mailer", "nightly-report", "storefront", "storefront"]
    assert {r.find_element("css selector", ".health").text for r in rows} == {"healthy"}
    cookies = {c["name"]: c for c in browser.get_cookies()}
    session = cookies["starform_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie") == "", "scripts cannot read the session"


def test_the_dashboard_shows_desired_next_to_observed_for_every_demo_service(
    browser: WebDriver, world: LocalStarform, tenants: dict[str, Any]
) -> None:
    sign_in(browser, world.base_url, world.token)
    generation = world.call("GET", f"/v1/clusters/{world.cluster_id}")["generation"]
    for name, scale in DEMO_SERVICES.items():
        service = tenants["services"][name]
        release = world.call("GET", f"/v1/services/{service['id']}")["release"]
        _open_service(browser, world, service["id"])
        assert text_of(browser, "h1") == service["name"]
        assert _row(browser, "generation") == {
            "desired": str(generation),
            "observed": str(generation),
            "state": "in sync",
        }, name
        assert _row(browser, "health") == {
            "desired": "healthy",
            "observed": "healthy: all objects current",
            "state": "in sync",
        }, name
        wait_for(browser, lambda d: _row(d, "image")["state"] != "—")
        assert _row(browser, "image") == {
            "desired": release["image"],
            "observed": release["image"],
            "state": "in sync",
        }, name
        field, desired = scale
        wait_for(browser, lambda d, field=field: _row(d, field)["state"] != "—")
        observed = _observed_scale(world, service["id"], field)
        assert _row(browser, field) == {"desired": desired, "observed": observed, "state": "in sync"}, name
        rows = browser.find_elements("css selector", "#comparison tbody tr")
        assert [r.get_attribute("data-field") for r in rows] == ["generation", "health", "image", field]
        assert text_of(browser, "#rollout") == f"rolled out: generation {generation} applied"
        if name != "storefront-staging":  # the staging storefront has no var groups
            spec = text_of(browser, "#desired-spec")
            assert "DATABASE_URL" in spec and "FEATURE_FLAGS" in spec, "var keys are shown"
        source = browser.page_source
        assert "demo-only" not in source and "checkout-v2" not in source, "var values never are"


def test_an_out_of_band_edit_appears_in_the_events_stream_without_a_reload(
    browser: WebDriver, world: LocalStarform, tenants: dict[str, Any]
) -> None:
    sign_in(browser, world.base_url, world.token)
    storefront = tenants["services"]["storefront"]["id"]
    _open_service(browser, world, storefront)
    browser.execute_script("window.__sameDocument = 'yes'")
    before = len(browser.find_elements("css selector", '#events li[data-type="DriftReverted"]'))
    deployment = _workload(world, storefront)
    container = deployment["spec"]["template"]["spec"]["containers"][0]["name"]
    world.kube.patch_as(
        "kubectl-edit",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": deployment["metadata"]["name"],
                "namespace": deployment["metadata"]["namespace"],
            },
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": container, "image": "docker.io/someone/debug@" + DIGEST_V2}]
                    }
                }
            },
        },
    )
    world.wait_cache(lambda objs: any("someone/debug" in str(o.get("spec")) for o in objs))
    world.reconcile()
    wait_for(
        browser,
        lambda d: len(d.find_elements("css selector", '#events li[data-type="DriftReverted"]')) > before,
    )
    newest = browser.find_element("css selector", '#events li[data-type="DriftReverted"]')
    assert deployment["metadata"]["name"] in newest.text
    assert browser.execute_script("return window.__sameDocument") == "yes", "no reload happened"
    wait_for(browser, lambda d: "changes will be reverted" in text_of(d, "#drift"))
    assert "someone/debug" not in str(_workload(world, storefront)["spec"]), "enforce reverted it"


def test_a_rollback_from_the_page_deploys_the_old_image_as_a_new_version(
    browser: WebDriver, world: LocalStarform, tenants: dict[str, Any]
) -> None:
    mailer = tenants["services"]["mailer"]["id"]
    v2 = world.call(
        "POST",
        f"/v1/services/{mailer}/deployments",
        {"image": f"registry.digitalocean.com/acme/mailer@{DIGEST_V2}"},
    )
    world.converge()
    sign_in(browser, world.base_url, world.token)
    _open_service(browser, world, mailer)
    assert text_of(browser, "#release") == f"version {v2['version']}: {v2['image']}"
    button = browser.find_element("css selector", 'button[data-action="rollback"][data-version="1"]')
    button.click()
    assert button.text == "Confirm rollback to 1", "a first click only asks"
    assert world.call("GET", f"/v1/services/{mailer}/deployments")[0]["version"] == v2["version"]
    button.click()
    wait_for(browser, lambda d: text_of(d, "#notice").startswith("Rolled back"))
    v1_image = f"registry.digitalocean.com/acme/mailer@{DIGEST_V1}"
    newest = world.call("GET", f"/v1/services/{mailer}/deployments")[0]
    assert (newest["version"], newest["image"]) == (v2["version"] + 1, v1_image)
    assert text_of(browser, "#notice") == f"Rolled back: version {newest['version']} deploys {v1_image}."
    wait_for(browser, lambda d: text_of(d, "#release") == f"version {newest['version']}: {v1_image}")
    world.converge()
    [container] = _workload(world, mailer)["spec"]["template"]["spec"]["containers"]
    assert container["image"] == v1_image


def test_the_image_row_says_differs_until_the_agent_runs_the_new_release(
    browser: WebDriver, world: LocalStarform, tenants: dict[str, Any]
) -> None:
    staging = tenants["services"]["storefront-staging"]["id"]
    [container] = _workload(world, staging)["spec"]["template"]["spec"]["containers"]
    running = container["image"]
    newer = world.call(
        "POST",
        f"/v1/services/{staging}/deployments",
        {"image": "registry.digitalocean.com/acme/storefront@sha256:" + "3c" * 32},
    )
    assert newer["image"] != running
    sign_in(browser, world.base_url, world.token)
    _open_service(browser, world, staging)
    wait_for(browser, lambda d: _row(d, "image")["state"] != "—")
    assert _row(browser, "image") == {"desired": newer["image"], "observed": running, "state": "differs"}
    assert "images app: " + running in text_of(browser, "#objects")
    world.converge()
    wait_for(browser, lambda d: _row(d, "image")["state"] == "in sync", timeout=30)
    assert _row(browser, "image")["observed"] == newer["image"]
