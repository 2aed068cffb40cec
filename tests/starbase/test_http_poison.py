"""Poison and limits: timestamps, depth, sizes, surrogates, huge numbers; every stored value reads back."""

from __future__ import annotations

import json
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.starbase.test_http_bad_input import snapshot
from tests.starbase.world import World, build_world, ok

from starform_apps.starbase import bounds
from starform_testkit.starbase import RunningStarbase


@pytest.fixture(scope="module")
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    return build_world(starbase, client)


def _status(w: World, **service: Any) -> dict[str, Any]:
    item = {"service_id": w.web_id, "health": "healthy", "generation": 1, "observed_at": _now(), **service}
    return {"applied_generation": 1, "services": [item]}


def _event(w: World, **event: Any) -> dict[str, Any]:
    return {"events": [{"event_id": uuid.uuid4().hex, "type": "Applied", "occurred_at": _now(), **event}]}


def _now() -> str:
    return datetime.now(UTC).isoformat()


@pytest.mark.parametrize(
    "when",
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "2999-01-01T00:00:00Z",
        "1999-12-31T23:59:59Z",
        "2025-05-06T07:08:09",  # no offset
    ],
)
def test_agent_timestamps_outside_the_window_are_refused(
    starbase: RunningStarbase, client: httpx.Client, world: World, when: str
) -> None:
    agent = world.h(world.agent_token)
    url = starbase.starbase.database_url
    before = snapshot(url)
    status = client.post(
        f"/v1/clusters/{world.cluster_id}/status", headers=agent, json=_status(world, observed_at=when)
    )
    event = client.post(
        f"/v1/clusters/{world.cluster_id}/events", headers=agent, json=_event(world, occurred_at=when)
    )
    assert (status.status_code, event.status_code) == (422, 422), (status.text, event.text)
    assert status.json()["detail"][0]["field"] == "services[0].observed_at"
    assert when not in status.text
    assert snapshot(url) == before


def test_reports_within_the_skew_window_are_stored_and_read_back(client: httpx.Client, world: World) -> None:
    agent = world.h(world.agent_token)
    ahead = (datetime.now(UTC) + timedelta(seconds=bounds.CLOCK_SKEW_SECONDS - 60)).isoformat()
    ok(
        client.post(
            f"/v1/clusters/{world.cluster_id}/status", headers=agent, json=_status(world, observed_at=ahead)
        ),
        201,
    )
    ok(
        client.post(
            f"/v1/clusters/{world.cluster_id}/events",
            headers=agent,
            json=_event(world, occurred_at="2001-02-03T04:05:06+14:00", service_id=world.web_id),
        )
    )
    owner = world.h(world.owner)
    assert ok(client.get(f"/v1/services/{world.web_id}/status", headers=owner))["health"] == "healthy"
    events = ok(client.get(f"/v1/services/{world.web_id}/events", headers=owner))["events"]
    assert any(e["occurred_at"].startswith("2001-02-02T14:05:06") for e in events)


def _attempt(**fields: Any) -> dict[str, Any]:
    return {"epoch": 1, "generation": 1, "outcome": "applied", **fields}


@pytest.mark.parametrize(
    ("field", "extra"),
    [
        ("reported_at", {"reported_at": "2999-01-01T00:00:00Z"}),
        ("reported_at", {"reported_at": "2025-05-06T07:08:09"}),
        ("epoch", {"epoch": "5"}),
        ("epoch", {"epoch": 2**53}),
        ("attempt.generation", {"attempt": _attempt(generation=True)}),
        ("attempt.counts.held", {"attempt": _attempt(counts={"held": 10**8})}),
        ("attempt.counts", {"attempt": _attempt(counts={f"k{i}": 1 for i in range(21)})}),
        (
            "attempt.objects",
            {"attempt": _attempt(objects=[{"object": "x", "kind": "Pod", "state": "held"}] * 51)},
        ),
        ("attempt.outcome", {"attempt": _attempt(outcome="perfect")}),
        ("rejected_payload.detail", {"rejected_payload": {"reason": "invalid", "detail": "x" * 501}}),
        ("report_id", {"report_id": "r" * 201}),
    ],
)
def test_the_attempt_and_epoch_of_a_report_are_bounded(
    starbase: RunningStarbase, client: httpx.Client, world: World, field: str, extra: dict[str, Any]
) -> None:
    url = starbase.starbase.database_url
    before = snapshot(url)
    answer = client.post(
        f"/v1/clusters/{world.cluster_id}/status",
        headers=world.h(world.agent_token),
        json={**_status(world), **extra},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["field"].startswith(field), answer.text
    assert snapshot(url) == before


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_deep_and_large_report_data_is_refused(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    agent = world.h(world.agent_token)
    path = f"/v1/clusters/{world.cluster_id}"
    for body in (
        _status(world, status=_nested(256)),
        _event(world, data=_nested(256)),
        _status(world, status=_nested(bounds.MAX_REPORT_JSON_DEPTH + 1)),
        _event(world, data={"blob": "x" * (bounds.MAX_REPORT_JSON_BYTES + 1)}),
    ):
        target = f"{path}/status" if "services" in body else f"{path}/events"
        answer = client.post(target, headers=agent, json=body)
        assert answer.status_code in (400, 422), answer.text
        assert str(bounds.MAX_JSON_DEPTH) in answer.text or "at most" in answer.text
    deepest = _status(world, service_id=world.prod_web_id, status=_nested(bounds.MAX_REPORT_JSON_DEPTH))
    ok(client.post(f"{path}/status", headers=agent, json=deepest), 201)
    assert ok(client.get(f"/v1/services/{world.prod_web_id}/status", headers=world.h(world.owner)))["status"]


def test_a_hundred_thousand_brackets_are_a_400(client: httpx.Client, world: World) -> None:
    answer = client.post(
        f"/v1/projects/{world.project_id}/services",
        headers={**world.h(world.owner), "Content-Type": "application/json"},
        content=b"[" * 100_000,
    )
    assert answer.status_code == 400
    assert "nested" in answer.json()["detail"]


def _raw_post(
    base_url: str, path: str, headers: dict[str, str], declared: int, send: int
) -> tuple[int, float]:
    """POST declaring ``declared`` bytes but sending only ``send``; the status and how long it took."""
    parts = urlsplit(base_url)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        head = [f"POST {path} HTTP/1.1", f"Host: {parts.hostname}", f"Content-Length: {declared}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + b"x" * send)
        answer = sock.recv(65536).decode(errors="replace")
    return int(answer.split(" ", 2)[1]), time.monotonic() - started


def test_an_unauthenticated_200_mb_post_is_answered_unread(starbase: RunningStarbase, world: World) -> None:
    """The answer comes before the body: the server never waits for (or buffers) 200 MB."""
    path = f"/v1/projects/{world.project_id}/var-groups"
    status, took = _raw_post(
        starbase.base_url, path, {"Content-Type": "application/json"}, 200 * 1024**2, 1024
    )
    assert status == 401
    assert took < 10
    status, _ = _raw_post(
        starbase.base_url,
        path,
        {"Authorization": "Bearer sbu_nope", "Content-Type": "application/json"},
        200 * 1024**2,
        1024,
    )
    assert status == 413, "a token, checked or not, does not make a 200 MB body acceptable"


def test_a_chunked_body_is_cut_off_at_the_limit(client: httpx.Client, world: World) -> None:
    sent = 0

    def chunks() -> Any:
        nonlocal sent
        for _ in range(64):
            sent += 256 * 1024
            yield b" " * (256 * 1024)

    answer = client.post(
        f"/v1/projects/{world.project_id}/var-groups",
        headers={**world.h(world.owner), "Content-Type": "application/json"},
        content=chunks(),
    )
    assert answer.status_code == 413
    assert str(bounds.MAX_BODY_BYTES) in answer.json()["detail"]


def test_var_values_are_bounded_by_what_a_secret_holds(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    owner = world.h(world.owner)
    url = starbase.starbase.database_url
    path = f"/v1/var-groups/{world.var_group_id}/entries"
    before = snapshot(url)
    huge = client.put(path, headers=owner, json={"entries": {"BIG": "x" * (50 * 1024**2)}})
    assert huge.status_code == 413
    over = client.put(path, headers=owner, json={"entries": {"BIG": "x" * (bounds.MAX_VAR_GROUP_BYTES + 1)}})
    assert over.status_code == 422, over.text
    assert str(bounds.MAX_VAR_GROUP_BYTES) in over.text
    assert snapshot(url) == before
    half = "y" * (bounds.MAX_VAR_GROUP_BYTES // 2)
    ok(client.put(path, headers=owner, json={"entries": {"HALF_A": half}}))
    before = snapshot(url)
    second = client.put(path, headers=owner, json={"entries": {"HALF_B": half}})
    assert second.status_code == 422, "the whole group, old and new entries, must fit in one Secret"
    assert "Kubernetes Secret" in second.text
    assert snapshot(url) == before
    ok(client.delete(f"/v1/var-groups/{world.var_group_id}/entries/HALF_A", headers=owner), 204)


def test_a_twenty_megabyte_agent_status_is_refused(client: httpx.Client, world: World) -> None:
    body = _status(world, reason="r", status={"blob": "z" * (20 * 1024**2)})
    answer = client.post(
        f"/v1/clusters/{world.cluster_id}/status", headers=world.h(world.agent_token), json=body
    )
    assert answer.status_code == 413
    assert str(bounds.MAX_AGENT_BODY_BYTES) in answer.text


SURROGATE_BODIES = {
    "var value": ("put", "/v1/var-groups/{var_group_id}/entries", '{"entries": {"KEY": "\\ud800"}}'),
    "var key": ("put", "/v1/var-groups/{var_group_id}/entries", '{"entries": {"K\\udfff": "v"}}'),
    "command": (
        "post",
        "/v1/services/{web_id}/deployments",
        '{"image": "registry.example.com/a/b@sha256:' + "ab" * 32 + '", "command": ["\\ud800"]}',
    ),
    "event message": ("post", "/v1/clusters/{cluster_id}/events", None),
}


@pytest.mark.parametrize("name", sorted(SURROGATE_BODIES))
def test_surrogates_are_a_422_not_a_500(
    starbase: RunningStarbase, client: httpx.Client, world: World, name: str
) -> None:
    method, template, raw = SURROGATE_BODIES[name]
    path = template.format(var_group_id=world.var_group_id, web_id=world.web_id, cluster_id=world.cluster_id)
    token = world.agent_token if "clusters" in path else world.owner
    if raw is None:
        raw = json.dumps(_event(world, message="\ud800"))
    before = snapshot(starbase.starbase.database_url)
    answer = getattr(client, method)(
        path, headers={**world.h(token), "Content-Type": "application/json"}, content=raw.encode()
    )
    assert answer.status_code == 422, answer.text
    assert "surrogate" in answer.text
    assert snapshot(starbase.starbase.database_url) == before


@pytest.mark.parametrize("quantity", ["1e9999999999", "1e999999", "99999999999999999999999", "1e19"])
def test_huge_quantities_are_a_422(client: httpx.Client, world: World, quantity: str) -> None:
    answer = client.patch(
        f"/v1/services/{world.web_id}", headers=world.h(world.owner), json={"cpu_request": quantity}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["field"] == "cpu_request"
    assert quantity not in answer.text


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"name": "a", "name": "b"}', "repeats a key"),
        (b'{"name": NaN}', "NaN"),
        (b'{"name": Infinity}', "Infinity"),
        (b'{"replicas": ' + b"9" * 5000 + b"}", "digits"),
        (b'{"name": "a"', "not valid JSON"),
        (b"\xff\xfe", "UTF-8"),
    ],
)
def test_malformed_json_is_a_400(client: httpx.Client, world: World, raw: bytes, why: str) -> None:
    answer = client.post(
        f"/v1/projects/{world.project_id}/var-groups",
        headers={**world.h(world.owner), "Content-Type": "application/json"},
        content=raw,
    )
    assert answer.status_code == 400, answer.text
    assert why in answer.json()["detail"]


ECHOES = {
    "hostname": (
        "post",
        "/v1/services/{web_id}/hostnames",
        {"hostname": "Not-A-Host.example"},
        "Not-A-Host.example",
    ),
    "quantity": ("patch", "/v1/services/{web_id}", {"memory_request": "lots-of-ram"}, "lots-of-ram"),
    "cron": ("patch", "/v1/services/{web_id}", {"cron_schedule": "every-tuesday"}, "every-tuesday"),
    "time zone": ("patch", "/v1/services/{web_id}", {"cron_time_zone": "Mars/Olympus"}, "Mars/Olympus"),
    "var key": (
        "put",
        "/v1/var-groups/{var_group_id}/entries",
        {"entries": {"1SECRETKEY": "v"}},
        "1SECRETKEY",
    ),
    "email": (
        "put",
        "/v1/workspaces/{workspace_id}/members",
        {"email": "no-at-sign", "role": "member"},
        "no-at-sign",
    ),
    "image": (
        "post",
        "/v1/services/{web_id}/deployments",
        {"image": "nginx:latest-and-greatest"},
        "nginx:latest",
    ),
    "cidr": ("patch", "/v1/clusters/{cluster_id}", {"egress_allow": ["10.1.2.3/8"]}, "10.1.2.3"),
}


@pytest.mark.parametrize("name", sorted(ECHOES))
def test_422s_never_echo_the_submitted_value(client: httpx.Client, world: World, name: str) -> None:
    method, template, body, value = ECHOES[name]
    path = template.format(
        web_id=world.web_id,
        var_group_id=world.var_group_id,
        workspace_id=world.workspace_id,
        cluster_id=world.cluster_id,
    )
    token = world.operator if "clusters" in path else world.owner
    answer = getattr(client, method)(path, headers=world.h(token), json=body)
    assert answer.status_code == 422, answer.text
    assert value not in answer.text
    assert answer.json()["detail"][0]["msg"]


def test_lists_are_bounded(starbase: RunningStarbase, client: httpx.Client) -> None:
    """A service takes at most 20 volumes; the 21st is a 422 naming the limit and writes nothing."""
    w = build_world(starbase, client)
    owner = w.h(w.owner)
    path = f"/v1/services/{w.web_id}/volumes"
    for index in range(bounds.MAX_VOLUMES_PER_SERVICE):
        body = {"name": f"v{index}", "mount_path": f"/v{index}", "size": "1Gi"}
        ok(client.post(path, headers=owner, json=body), 201)
    before = snapshot(starbase.starbase.database_url)
    extra = client.post(path, headers=owner, json={"name": "one-more", "mount_path": "/more", "size": "1Gi"})
    assert extra.status_code == 422
    assert f"at most {bounds.MAX_VOLUMES_PER_SERVICE}" in extra.text
    assert snapshot(starbase.starbase.database_url) == before


def test_a_projects_var_groups_are_bounded_together(starbase: RunningStarbase, client: httpx.Client) -> None:
    """Eight nearly full groups fit (8 MiB per project); the ninth would not: 422, nothing written."""
    w = build_world(starbase, client)
    owner = w.h(w.owner)
    value = "v" * 1_000_000
    for index in range(bounds.MAX_PROJECT_VAR_BYTES // 1_000_010):
        body = {"name": f"big-{index}", "entries": {"VALUE": value}}
        ok(client.post(f"/v1/projects/{w.project_id}/var-groups", headers=owner, json=body), 201)
    before = snapshot(starbase.starbase.database_url)
    more = client.post(
        f"/v1/projects/{w.project_id}/var-groups",
        headers=owner,
        json={"name": "one-more", "entries": {"V": value}},
    )
    assert more.status_code == 422, more.text
    assert str(bounds.MAX_PROJECT_VAR_BYTES) in more.text
    assert snapshot(starbase.starbase.database_url) == before
