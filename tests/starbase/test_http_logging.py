"""One JSON log line per request, with the route template and status, and never a secret."""

from __future__ import annotations

import json
import uuid

import httpx
from tests.starbase.logbuffer import LOG_BUFFER
from tests.starbase.world import build_world, ok

from starform_apps.starbase.logs import configure_logging
from starform_testkit.starbase import RunningStarbase


def test_request_lines_are_json_and_carry_no_secrets(starbase: RunningStarbase, client: httpx.Client) -> None:
    configure_logging("info", stream=LOG_BUFFER)  # other tests (the CLI) may reconfigure
    w = build_world(starbase, client)
    secret = f"value-{uuid.uuid4().hex}"
    start = len(LOG_BUFFER.getvalue())
    ok(
        client.put(
            f"/v1/var-groups/{w.var_group_id}/entries",
            headers=w.h(w.owner),
            json={"entries": {"SECRET": secret}},
        )
    )
    assert (
        client.get(f"/v1/clusters/{w.cluster_id}/desired-state", headers=w.h(w.agent_token)).status_code
        == 200
    )
    assert client.get(f"/v1/services/{uuid.uuid4()}?token={secret}", headers=w.h(w.owner)).status_code == 404
    lines = [json.loads(line) for line in LOG_BUFFER.getvalue()[start:].splitlines() if line]
    lines = [line for line in lines if line.get("event") == "request"]
    routes = [(line["method"], line["route"], line["status"]) for line in lines]
    assert ("PUT", "/v1/var-groups/{var_group_id}/entries", 200) in routes
    assert ("GET", "/v1/clusters/{cluster_id}/desired-state", 200) in routes
    assert ("GET", "/v1/services/{service_id}", 404) in routes
    assert all(line["event"] == "request" and "duration_ms" in line for line in lines)
    text = LOG_BUFFER.getvalue()
    for forbidden in (secret, w.owner, w.agent_token, w.operator):
        assert forbidden not in text
