"""The demo's push-to-deploy chapter: a signed GitHub push webhook, the build's states, and the
new digest rolled out by Shuttle. The registry and the build service are the shipped doubles
(in memory: the demo starts no registry process); Starbase, the worker's runner and Shuttle are
the real ones."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import uuid
from typing import Any

from starform_adapters.build import BuildScript, SimulatedBuildService
from starform_adapters.registry import InMemoryRegistry
from starform_apps.demo.local_starform import DemoError, LocalStarform
from starform_apps.demo.timeline import Timeline
from starform_apps.starbase.deploy.runner import BuildRunner, RunnerConfig
from starform_core.build import BuildState
from starform_core.gitpush import DEBOUNCE, sign_body
from starform_core.kube.labels import LABEL_SERVICE_ID
from starform_core.secrets_values import SecretValue

__all__ = ["push_to_deploy"]

_SCRIPT = BuildScript(queue_seconds=0.05, build_seconds=0.4, push_seconds=0.05, output_lines=4)


def _deliver(
    world: LocalStarform, installation: int, secret: SecretValue, event: str, payload: dict[str, Any]
) -> Any:
    body = json.dumps(payload).encode()
    response = world.http.post(
        f"/v1/webhooks/github?installation_id={installation}",
        content=body,
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign_body(secret, body),
            "Content-Type": "application/json",
        },
    )
    if response.status_code != 202:
        raise DemoError(f"webhook {event}: HTTP {response.status_code} {response.text[:300]}")
    return response.json()


def _connect(world: LocalStarform, workspace_id: str, service_id: str) -> tuple[int, SecretValue]:
    installation = secrets.randbelow(2**31) + 1
    registered = world.call(
        "POST",
        f"/v1/workspaces/{workspace_id}/github-installations",
        {"installation_id": installation, "account": "acme"},
        expect=201,
    )
    secret = SecretValue(registered["webhook_secret"])
    created = {"action": "created", "installation": {"id": installation, "account": {"login": "acme"}}}
    _deliver(world, installation, secret, "installation", created)
    world.call(
        "PUT",
        f"/v1/services/{service_id}/source",
        {"installation_id": installation, "repository": "acme/storefront", "branch": "main"},
    )
    return installation, secret


def _runner(
    world: LocalStarform, registry: InMemoryRegistry, timeline: Timeline, build_id: str
) -> BuildRunner:
    store = world.starbase.store
    seen: list[BuildState] = [BuildState.QUEUED]
    idle = threading.Event()

    def pause(seconds: float) -> bool:
        state = store.get_build(build_id).state
        if state is not seen[-1]:
            seen.append(state)
            timeline.step(f"build {state.value}", f"build {build_id[:8]}")
        return not idle.wait(seconds)

    def past_debounce() -> dt.datetime:
        return dt.datetime.now(dt.UTC) + DEBOUNCE + dt.timedelta(seconds=1)

    return BuildRunner(
        builds=store,
        git=store,
        service=SimulatedBuildService(
            registry.client(), clock=lambda: dt.datetime.now(dt.UTC), script=_SCRIPT
        ),
        registry=registry.client(),
        config=RunnerConfig(registry=registry.host, poll_seconds=0.05),
        owner="demo-worker",
        clock=past_debounce,
        pause=pause,
    )


def push_to_deploy(world: LocalStarform, timeline: Timeline, workspace_id: str, service_id: str) -> None:
    """Tell the chapter: push → build → registry → deployment → rolled out."""
    installation, secret = _connect(world, workspace_id, service_id)
    timeline.step("GitHub connected", f"installation {installation}: acme/storefront@main builds storefront")
    commit = secrets.token_hex(20)
    push = {
        "ref": "refs/heads/main",
        "after": commit,
        "repository": {"full_name": "acme/storefront"},
        "installation": {"id": installation},
        "head_commit": {"message": "Checkout: one-click pay"},
    }
    queued = _deliver(world, installation, secret, "push", push)
    (build_id,) = queued["builds"]
    timeline.step("signed push webhook", f"commit {commit[:12]} → build {build_id[:8]} queued (5 s debounce)")
    registry = InMemoryRegistry(host="registry.starform.test")
    result = _runner(world, registry, timeline, build_id).run(build_id)
    build = world.call("GET", f"/v1/builds/{build_id}")
    if result.outcome != "deployed":
        raise DemoError(f"the build did not deploy: {result.outcome} {build.get('failure_message')}")
    digest = str(build["digest"])
    timeline.step("build deploying", f"tag resolved to {digest[:19]}..., generation {build['generation']}")
    timeline.step("reconcile", f"generation {world.reconcile().generation}")
    world.reconcile()
    running = [
        container["image"]
        for obj in world.kube.list("apps/v1", "Deployment")
        if (obj["metadata"].get("labels") or {}).get(LABEL_SERVICE_ID) == service_id
        for container in obj["spec"]["template"]["spec"]["containers"]
    ]
    if not running or not all(image.endswith(digest) for image in running):
        raise DemoError(f"the cluster does not run the built digest: {running}")
    timeline.step("storefront rolled out", f"the cluster's Deployment runs ...@{digest[:19]}...")
    live = world.call("GET", f"/v1/builds/{build_id}")
    timeline.step(
        f"build {live['state']}",
        f"storefront runs {digest[:19]}... ({live['build_seconds']:.1f} s of builder time)",
    )
