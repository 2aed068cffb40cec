"""The demo world with the shipped templates published and Shuttle started (template e2e tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starform_apps.demo import LocalStarform, open_local_starform
from starform_apps.starbase.template_files import publish_shipped
from starform_core.access import Actor


@contextmanager
def templated_world() -> Iterator[LocalStarform]:
    """PostgreSQL, Starbase over HTTP, the Kubernetes test server, the shipped templates, Shuttle."""
    with open_local_starform() as opened:
        opened.register_cluster()
        publish_shipped(opened.starbase.store, actor=Actor(label="e2e"))
        opened.start_shuttle()
        yield opened


def template_project(
    world: LocalStarform, *, workspace: str, project: str, group: str, entries: dict[str, str]
) -> dict[str, str]:
    """A workspace and a pro-tier project on the world's cluster with a ``live`` environment and
    one var group of ``entries``: the ids of the project, the environment and the group."""
    ws = world.call("POST", "/v1/workspaces", {"name": workspace}, expect=201)
    made = world.call(
        "POST",
        f"/v1/workspaces/{ws['id']}/projects",
        {"name": project, "cluster_id": world.cluster_id, "tier": "pro"},
        expect=201,
    )
    env = world.call("POST", f"/v1/projects/{made['id']}/environments", {"name": "live"}, expect=201)
    var_group = world.call(
        "POST", f"/v1/projects/{made['id']}/var-groups", {"name": group, "entries": entries}, expect=201
    )
    return {"project": made["id"], "environment": env["id"], "group": var_group["id"]}
