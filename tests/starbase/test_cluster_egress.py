"""A cluster's private egress networks: stored, validated, patched, and carried in the payload."""

from __future__ import annotations

import httpx
from tests.starbase.world import build_world, ok

from starform_core.payload import parse_payload
from starform_testkit.starbase import RunningStarbase


def test_egress_networks_flow_from_the_api_into_the_payload(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    world = build_world(starbase, client)
    operator = world.h(world.operator)
    agent = world.h(world.agent_token)
    path = f"/v1/clusters/{world.cluster_id}"
    assert ok(client.get(path, headers=operator))["egress_allow"] == []
    before = ok(client.get(path, headers=operator))["generation"]

    refused = client.patch(path, headers=operator, json={"egress_allow": ["10.110.0.1/20"]})
    assert refused.status_code == 422
    assert "egress_allow" in refused.text
    assert ok(client.get(path, headers=operator))["generation"] == before

    changed = ok(
        client.patch(path, headers=operator, json={"egress_allow": ["10.110.0.0/20", "fd12:3456::/32"]})
    )
    assert changed["egress_allow"] == ["10.110.0.0/20", "fd12:3456::/32"]
    assert changed["generation"] == before + 1
    served = client.get(f"{path}/desired-state", headers=agent)
    assert served.status_code == 200
    assert parse_payload(served.content).cluster.egress_allow == ("10.110.0.0/20", "fd12:3456::/32")


def test_the_metrics_namespace_is_set_validated_and_removed(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    world = build_world(starbase, client)
    operator = world.h(world.operator)
    path = f"/v1/clusters/{world.cluster_id}"
    assert ok(client.get(path, headers=operator))["metrics_namespace"] is None
    assert client.patch(path, headers=operator, json={"metrics_namespace": "Monitoring"}).status_code == 422
    assert (
        ok(client.patch(path, headers=operator, json={"metrics_namespace": "monitoring"}))[
            "metrics_namespace"
        ]
        == "monitoring"
    )
    served = client.get(f"{path}/desired-state", headers=world.h(world.agent_token))
    assert parse_payload(served.content).cluster.metrics_namespace == "monitoring"
    cleared = ok(client.patch(path, headers=operator, json={"metrics_namespace": None}))
    assert cleared["metrics_namespace"] is None
    unrelated = ok(client.patch(path, headers=operator, json={"lb_size_unit": 3}))
    assert unrelated["metrics_namespace"] is None
