""" "Reconcile now" from the dashboard, in a real headless browser, against a Shuttle running its
own loop with the default 30 s poll interval and the long-poll notification channel (PostgreSQL,
Starbase over HTTP, the Kubernetes test server, chromium).

A Deployment is deleted out of band while Shuttle's Deployment watch is down (the test server
kills the watches and throttles every new Deployment watch with ``429``, which Shuttle resumes
from the same version: no relist), so Shuttle's cache still holds it, no watch event wakes the
loop, and the next periodic reconcile would see nothing to repair. Only the fresh listing a
reconcile request makes finds it gone. Issue 18 asks that the button repairs it in under 2 s:
the one timing assertion here, measured with a monotonic clock from the click to the object
being back on the API server, and printed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from tests.dashboard.browser import sign_in, text_of, wait_for

from starform_apps.demo import LocalStarform
from starform_core.kube.labels import LABEL_SERVICE_ID
from starform_testkit.kube_testserver import KubeTestServer

REPAIR_BOUND_SECONDS = 2.0
"""Issue 18: "Reconcile now" repairs an out-of-band delete in under 2 s (the poll is 30 s)."""
_DEPLOYMENT_WATCH = r"^/apis/apps/v1/(namespaces/[^/]+/)?deployments$"


@pytest.fixture(scope="module")
def agent(world: LocalStarform, tenants: dict[str, Any]) -> LocalStarform:
    """The demo's world with Shuttle's own loop running (nothing else reconciles from here on)."""
    assert world.shuttle is not None
    assert (world.shuttle.config.interval, world.shuttle.config.long_poll_wait) == (30.0, 30)
    world.shuttle.run_in_thread()
    return world


@pytest.fixture
def deployment_watch_down(agent: LocalStarform) -> Iterator[KubeTestServer]:
    """Shuttle's Deployment watch ended, and every new one refused with ``429`` until the end."""
    kube = agent.kube
    kube.inject("throttle", verbs={"watch"}, path_pattern=_DEPLOYMENT_WATCH)
    kube.clear_request_log()
    kube.kill_watches()  # a watch requested before the fault belongs to the epoch killed here
    kube.wait_for(
        lambda: [
            r
            for r in kube.requests.records()
            if r.verb == "watch" and r.resource == "deployments" and r.fault
        ],
        timeout=20,
        message="Shuttle's Deployment watch refused again",
    )
    try:
        yield kube
    finally:
        kube.clear_faults()


def _deployment(world: LocalStarform, service_id: str) -> dict[str, Any] | None:
    found = [
        o
        for o in world.kube.list("apps/v1", "Deployment")
        if o["metadata"].get("labels", {}).get(LABEL_SERVICE_ID) == service_id
    ]
    return found[0] if found else None


def _cached_uids(world: LocalStarform) -> set[str]:
    assert world.shuttle is not None
    return {
        o["metadata"]["uid"] for o in world.shuttle.cluster.live_objects() if o.get("kind") == "Deployment"
    }


def test_reconcile_now_from_the_page_repairs_an_out_of_band_delete_in_under_two_seconds(
    browser: WebDriver,
    agent: LocalStarform,
    tenants: dict[str, Any],
    deployment_watch_down: KubeTestServer,
    record_property: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world, kube = agent, deployment_watch_down
    mailer = tenants["services"]["mailer"]["id"]
    sign_in(browser, world.base_url, world.token, then=f"/ui/services/{mailer}")
    wait_for(browser, lambda d: text_of(d, "#live") == "live")
    browser.execute_script("window.__sameDocument = 'yes'")
    old = _deployment(world, mailer)
    assert old is not None
    meta = old["metadata"]
    kube.delete("apps/v1", "Deployment", meta["name"], namespace=meta["namespace"])
    assert _deployment(world, mailer) is None
    assert meta["uid"] in _cached_uids(world), "the watch is down: Shuttle's cache still holds it"
    served_before = world.call("GET", f"/v1/services/{mailer}/reconcile-requests")

    button = browser.find_element("id", "reconcile-now")
    started = time.monotonic()
    button.click()
    back = kube.wait_for(
        lambda: _deployment(world, mailer), timeout=15, interval=0.002, message="the Deployment back"
    )
    elapsed = time.monotonic() - started

    record_property("reconcile_now_repair_seconds", round(elapsed, 3))
    with capsys.disabled():
        print(f"\nreconcile now: the deleted Deployment was back {elapsed:.3f} s after the click")
    assert elapsed < REPAIR_BOUND_SECONDS, f"repaired in {elapsed:.3f} s"
    assert back["metadata"]["uid"] != meta["uid"], "recreated: a new object"
    assert (back["metadata"]["name"], back["metadata"]["namespace"]) == (meta["name"], meta["namespace"])
    assert not [
        r
        for r in kube.requests.records()
        if r.verb == "watch" and r.resource == "deployments" and r.status == 200
    ], "no Deployment watch was open: the reconcile request's relist found it"

    requests = world.call("GET", f"/v1/services/{mailer}/reconcile-requests")
    [mine] = [r for r in requests if r["id"] not in {s["id"] for s in served_before}]
    assert mine["service_id"] == mailer and mine["requested_by"]
    wait_for(browser, lambda d: text_of(d, "#notice").startswith("Reconciled"))
    served = world.call("GET", f"/v1/services/{mailer}/reconcile-requests")
    [mine] = [r for r in served if r["id"] == mine["id"]]
    assert mine["served_at"] is not None
    assert text_of(browser, "#notice").startswith("Reconciled: the agent served the request at")
    new_uid = back["metadata"]["uid"]
    wait_for(browser, lambda d: d.find_elements("css selector", f'#objects tr[data-uid="{new_uid}"]'))
    assert browser.execute_script("return window.__sameDocument") == "yes", "no reload happened"
