"""A Starbase with push to deploy against the real registry, and helpers that speak GitHub."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import uuid
from typing import Any

import attrs
import httpx
from tests.registry.kit.backends import Backend
from tests.starbase.world import World, ok

from starform_core.gitpush import sign_body
from starform_core.secrets_values import SecretValue
from starform_testkit.starbase import RunningStarbase


@attrs.define
class RecordingJobs:
    """The job queue as the routes see it, recording what they hand over and passing it on to
    ``forward`` (procrastinate, in the queue tests)."""

    calls: list[tuple[str, dt.datetime]] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)
    forward: Any = None

    def run_build(self, build_id: str, *, at: dt.datetime) -> None:
        """Remember the hand-over (and pass it on to the real queue when one is set)."""
        with self.lock:
            self.calls.append((build_id, at))
        if self.forward is not None:
            self.forward.run_build(build_id, at=at)


@attrs.define
class GitHub:
    """One GitHub App installation of a workspace, registered in Starbase, sending deliveries."""

    client: httpx.Client
    installation_id: int
    secret: str
    account: str

    def deliver(
        self,
        event: str,
        payload: dict[str, Any] | bytes,
        *,
        delivery: str | None = None,
        secret: str | None = None,
        signature: str | None = None,
        installation_id: int | None = None,
    ) -> httpx.Response:
        """POST a delivery signed as GitHub would (or with the given signature/secret)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature or sign_body(SecretValue(secret or self.secret), body),
        }
        target = installation_id or self.installation_id
        return self.client.post(
            f"/v1/webhooks/github?installation_id={target}", content=body, headers=headers
        )

    def installation_payload(self, action: str) -> dict[str, Any]:
        """An ``installation`` event body."""
        return {
            "action": action,
            "installation": {"id": self.installation_id, "account": {"login": self.account}},
        }

    def push_payload(
        self, repository: str, branch: str, commit: str, *, message: str = "change"
    ) -> dict[str, Any]:
        """A ``push`` event body."""
        return {
            "ref": f"refs/heads/{branch}",
            "before": "0" * 40,
            "after": commit,
            "deleted": False,
            "repository": {"full_name": repository, "id": 1},
            "installation": {"id": self.installation_id},
            "head_commit": {"id": commit, "message": f"{message}\n\nbody"},
            "commits": [{"id": commit}],
        }

    def push(self, repository: str, branch: str, commit: str | None = None, **kwargs: Any) -> httpx.Response:
        """Deliver a push of ``commit`` (a fresh one when not given)."""
        return self.deliver(
            "push", self.push_payload(repository, branch, commit or secrets.token_hex(20)), **kwargs
        )


def connect(sb: RunningStarbase, client: httpx.Client, world: World, *, activate: bool = True) -> GitHub:
    """Register an installation of the world's workspace (activated by GitHub's ``created``)."""
    installation_id = secrets.randbelow(2**40) + 1
    account = f"acme-{uuid.uuid4().hex[:8]}"
    body = ok(
        client.post(
            f"/v1/workspaces/{world.workspace_id}/github-installations",
            headers=sb.auth(world.owner),
            json={"installation_id": installation_id, "account": account},
        ),
        201,
    )
    assert body["webhook_path"] == f"/v1/webhooks/github?installation_id={installation_id}"
    github = GitHub(client, installation_id, body["webhook_secret"], account)
    if activate:
        ok(github.deliver("installation", github.installation_payload("created")), 202)
    return github


def set_source(
    sb: RunningStarbase, client: httpx.Client, world: World, github: GitHub, service_id: str, **fields: Any
) -> dict[str, Any]:
    """Connect a service to a repository branch."""
    body = {"installation_id": github.installation_id, "repository": "acme/web", "branch": "main", **fields}
    return ok(client.put(f"/v1/services/{service_id}/source", headers=sb.auth(world.owner), json=body))


def registry_reader(backend: Backend) -> Any:
    """A reader of the backend (the registry port)."""
    return backend.client()[0]
