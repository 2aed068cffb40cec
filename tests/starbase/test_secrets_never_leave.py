"""Secrets never leave their Secret (Starbase side), as a property: for random var-group values,
no value appears (plain, base64 at any alignment, JSON-escaped) in any answer but the agent's
payload, in any log line, metric or error, nor in stored events."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.starbase.logbuffer import LOG_BUFFER
from tests.starbase.world import World, build_world, ok

from starform_apps.starbase.logs import configure_logging
from starform_apps.starbase.redaction import redact_event_data
from starform_testkit.starbase import RunningStarbase

VALUES = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=16, max_size=80
)


def encodings(value: str) -> list[str]:
    """Every form the value could take in text: plain, JSON-escaped, base64 at each byte alignment."""
    raw = value.encode()
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\x00" * offset + raw).decode()
            start = -(-offset // 3) * 4
            end = ((offset + len(raw)) // 3) * 4
            if end - start >= 8:
                forms.add(text[start:end])
    return [form for form in forms if len(form) >= 8]


def leaks(value: str, text: str) -> list[str]:
    return [form for form in encodings(value) if form in text]


def test_the_encodings_find_a_planted_value() -> None:
    value = "correct horse battery staple!"
    for offset in range(3):
        planted = base64.b64encode(b"xy"[:offset] + value.encode()).decode()
        assert leaks(value, f"annotation: {planted}")
    assert leaks(value, json.dumps({"v": value}))


@pytest.fixture(scope="module")
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    return build_world(starbase, client)


def _header_safe(value: str) -> bytes:
    """The value as header bytes (UTF-8; control characters, which no header holds, as ``x``)."""
    return "".join("x" if ord(c) < 0x20 or c == "\x7f" else c for c in value).strip().encode() or b"x"


def _bad_requests(client: httpx.Client, w: World, value: str) -> list[httpx.Response]:
    """Requests that put the value where it does not belong: each must fail without quoting it."""
    owner = w.h(w.owner)
    wrong = f"{value} !"  # a space and a '!' make it invalid in any of these fields (and as a key)
    return [
        client.put(
            f"/v1/var-groups/{w.var_group_id}/entries", headers=owner, json={"entries": {"1BAD": value}}
        ),
        client.put(f"/v1/var-groups/{w.var_group_id}/entries", headers=owner, json={"entries": {wrong: "x"}}),
        client.put(
            f"/v1/var-groups/{w.var_group_id}/entries", headers=owner, json={"entries": {"K": value + "\x00"}}
        ),
        client.post(
            f"/v1/projects/{w.project_id}/var-groups",
            headers=owner,
            json={"name": "shared", "entries": {"A": value}},
        ),
        client.post(f"/v1/services/{w.web_id}/hostnames", headers=owner, json={"hostname": wrong}),
        client.patch(f"/v1/services/{w.web_id}", headers=owner, json={"cpu_request": wrong}),
        client.patch(f"/v1/services/{w.web_id}", headers=owner, json={"cron_time_zone": wrong}),
        client.post(f"/v1/services/{w.web_id}/deployments", headers=owner, json={"image": wrong}),
        client.get(
            f"/v1/projects/{w.project_id}", headers={"Authorization": b"Bearer " + _header_safe(value)}
        ),
        client.post("/v1/tokens", headers=owner, json={"name": "t", "role": wrong}),
    ]


def _reads(client: httpx.Client, sb: RunningStarbase, w: World) -> list[httpx.Response]:
    owner = w.h(w.owner)
    return [
        client.get(f"/v1/var-groups/{w.var_group_id}", headers=owner),
        client.get(f"/v1/projects/{w.project_id}/var-groups", headers=owner),
        client.get(f"/v1/services/{w.web_id}", headers=owner),
        client.get(f"/v1/projects/{w.project_id}/services", headers=owner),
        client.get(f"/v1/services/{w.web_id}/events?limit=500", headers=owner),
        client.get(f"/v1/clusters/{w.cluster_id}", headers=owner),
        client.get("/v1/tokens", headers=owner),
        client.get("/metrics", headers=sb.auth(sb.metrics_token)),
    ]


def _secret_event(w: World, value: str) -> dict:  # type: ignore[type-arg]
    encoded = base64.b64encode(value.encode()).decode()
    applied = json.dumps({"kind": "Secret", "data": {"KEY": encoded}})
    return {
        "event_id": uuid.uuid4().hex,
        "type": "DriftReverted",
        "occurred_at": "2026-01-01T00:00:00Z",
        "service_id": w.web_id,
        "data": {
            "object": f"Secret sf-x/vg-{uuid.uuid4().hex}",
            "action": "update",
            "fields": [
                {"path": "/data/KEY", "live": json.dumps(encoded), "desired": json.dumps(encoded)},
                {
                    "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
                    "live": applied,
                },
            ],
            "objects": [{"kind": "Secret", "data": {"KEY": encoded}, "stringData": {"K": value}}],
        },
    }


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(value=VALUES)
def test_var_values_never_leave_their_secret(
    starbase: RunningStarbase, client: httpx.Client, world: World, value: str
) -> None:
    configure_logging("info", stream=LOG_BUFFER)
    start = len(LOG_BUFFER.getvalue())
    owner = world.h(world.owner)
    ok(
        client.put(
            f"/v1/var-groups/{world.var_group_id}/entries", headers=owner, json={"entries": {"SECRET": value}}
        )
    )
    ok(
        client.post(
            f"/v1/projects/{world.project_id}/var-groups",
            headers=owner,
            json={"name": f"g-{uuid.uuid4().hex[:8]}", "entries": {"OTHER": value}},
        ),
        201,
    )
    answers = _bad_requests(client, world, value)
    assert all(400 <= a.status_code < 500 for a in answers), [
        (a.request.method, a.request.url.path, a.status_code) for a in answers
    ]
    agent = world.h(world.agent_token)
    ok(
        client.post(
            f"/v1/clusters/{world.cluster_id}/events",
            headers=agent,
            json={"events": [_secret_event(world, value)]},
        )
    )
    payload = client.get(f"/v1/clusters/{world.cluster_id}/desired-state", headers=agent)
    assert leaks(value, payload.text), "the agent's payload carries the value (the test sees it)"
    for answer in answers + _reads(client, starbase, world):
        assert not leaks(value, answer.text), (answer.request.url.path, answer.status_code)
    assert not leaks(value, LOG_BUFFER.getvalue()[start:])
    with psycopg.connect(starbase.starbase.database_url) as conn:
        stored = conn.execute("SELECT data::text, message FROM events").fetchall()
        audit = conn.execute(
            "SELECT coalesce(before::text, '') || coalesce(after::text, '') FROM audit_log"
        ).fetchall()
    assert not any(leaks(value, d + m) for d, m in stored)
    assert not any(leaks(value, row[0]) for row in audit)


def test_redaction_keeps_the_shape_of_an_event() -> None:
    data = {
        "object": "Secret ns/vg-1",
        "action": "update",
        "fields": [
            {"path": "/data/KEY", "live": '"c2VjcmV0"', "desired": '"b3RoZXI="', "manager": "kubectl"}
        ],
    }
    assert redact_event_data(data) == {
        "object": "Secret ns/vg-1",
        "action": "update",
        "fields": [
            {"path": "/data/KEY", "live": None, "desired": None, "manager": "kubectl", "redacted": True}
        ],
    }
    other = {
        "object": "Deployment ns/web",
        "fields": [{"path": "/spec/replicas", "live": "2", "desired": "3"}],
    }
    assert redact_event_data(other) == other
