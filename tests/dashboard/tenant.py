"""A small tenant for the dashboard's HTTP tests, and helpers to post agent events and sign in."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from tests.starbase.world import World, ok

SECRET_VALUE = "s3cr3t-never-on-a-page"
"""The value of the tenant's one var entry: no page may show it."""


def post_events(client: httpx.Client, world: World, *events: dict[str, Any]) -> list[str]:
    """Post events for the staging web service as the cluster's agent; returns their ids."""
    now = datetime.now(UTC).isoformat()
    bodies = [
        {
            "event_id": f"ev-{uuid.uuid4().hex}",
            "type": "Applied",
            "reason": "",
            "message": "",
            "service_id": world.web_id,
            "data": {},
            "occurred_at": now,
            **event,
        }
        for event in events
    ]
    posted = ok(
        client.post(
            f"/v1/clusters/{world.cluster_id}/events",
            headers=world.h(world.agent_token),
            json={"events": bodies},
        )
    )
    assert posted["stored"] == len(bodies)
    return [b["event_id"] for b in bodies]


@contextmanager
def signed_in(base_url: str, token: str) -> Iterator[httpx.Client]:
    """A client with a dashboard session for ``token``, closed on exit."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post(
            "/ui/login", data={"token": token, "next": "/ui/"}, headers={"Origin": base_url}
        )
        assert response.status_code == 303, response.text
        yield client


def csrf_of(page: str) -> str:
    """The CSRF token a page was rendered with."""
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', page)
    assert found is not None
    return found.group(1)
