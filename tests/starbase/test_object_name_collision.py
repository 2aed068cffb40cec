"""Starbase refuses a service whose Kubernetes object names would collide with another's."""

from __future__ import annotations

import httpx
from tests.starbase.world import build_world, ok

from starform_testkit.starbase import RunningStarbase


def test_a_service_whose_objects_would_collide_is_refused_and_nothing_is_written(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    world = build_world(starbase, client)
    auth = world.h(world.owner)
    pid = world.project_id
    b_c = ok(client.post(f"/v1/projects/{pid}/environments", headers=auth, json={"name": "b-c"}), 201)
    c = ok(client.post(f"/v1/projects/{pid}/environments", headers=auth, json={"name": "c"}), 201)
    ok(
        client.post(
            f"/v1/projects/{pid}/services",
            headers=auth,
            json={"environment_id": b_c["id"], "name": "a", "type": "worker"},
        ),
        201,
    )
    generation = ok(client.get(f"/v1/clusters/{world.cluster_id}", headers=auth))["generation"]
    refused = client.post(
        f"/v1/projects/{pid}/services",
        headers=auth,
        json={"environment_id": c["id"], "name": "a-b", "type": "worker"},
    )
    assert refused.status_code == 422
    assert "a-b-c" in refused.text
    services = ok(client.get(f"/v1/projects/{pid}/services", headers=auth))
    assert "a-b" not in {s["name"] for s in services}
    assert ok(client.get(f"/v1/clusters/{world.cluster_id}", headers=auth))["generation"] == generation
