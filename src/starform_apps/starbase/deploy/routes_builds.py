"""Push to deploy's people API: register GitHub installations, connect services to a branch,
build by hand, read builds and follow their logs."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
from collections.abc import AsyncIterator
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from starform_apps.starbase.auth import CurrentUser, actor_of, authorize_workspace
from starform_apps.starbase.deploy import schemas as d
from starform_apps.starbase.deploy.ports import BuildsDep, DeployPortsDep, GitDep
from starform_apps.starbase.http_errors import ERROR_RESPONSES
from starform_apps.starbase.ports import TenancyDep
from starform_apps.starbase.roles import Action
from starform_apps.starbase.service_access import ServiceAccessDep
from starform_core.build import BuildOverrides, Installation, ServiceSource
from starform_core.ports import BuildStore
from starform_core.secrets_values import SecretValue

__all__ = ["FOLLOW_POLL_SECONDS", "FOLLOW_SECONDS_MAX", "router"]

router = APIRouter(prefix="/v1", tags=["builds"], responses=ERROR_RESPONSES)
FOLLOW_SECONDS_MAX = 600
"""The longest a log-following request stays open (the client then follows on from its cursor)."""
FOLLOW_POLL_SECONDS = 0.5
"""How often a following request looks for new lines."""


@router.post(
    "/workspaces/{workspace_id}/github-installations",
    status_code=201,
    response_model=d.InstallationRegistered,
)
def register_installation(
    workspace_id: UUID, body: d.InstallationIn, user: CurrentUser, tenancy: TenancyDep, git: GitDep
) -> d.InstallationRegistered:
    """Register a GitHub App installation (workspace Owner/Admin); answers its webhook secret once."""
    authorize_workspace(tenancy, user, str(workspace_id), Action.INTEGRATION_MANAGE)
    installation = Installation(body.installation_id, str(workspace_id), body.account)
    secret = SecretValue(secrets.token_urlsafe(32))
    git.register_installation(installation, secret, actor=actor_of(user))
    return d.InstallationRegistered(
        installation=d.InstallationOut(
            installation_id=installation.installation_id,
            workspace_id=workspace_id,
            account=installation.account,
            state="pending",
        ),
        webhook_secret=secret.reveal(),
        webhook_path=f"/v1/webhooks/github?installation_id={installation.installation_id}",
    )


@router.put("/services/{service_id}/source", response_model=d.SourceOut)
def set_source(
    service_id: UUID, body: d.SourceIn, user: CurrentUser, access: ServiceAccessDep, git: GitDep
) -> d.SourceOut:
    """Connect the service to a branch of a repository (project Developer and up)."""
    service = access.authorized(user, service_id, Action.SERVICE_WRITE)
    source = ServiceSource(
        service_id=service.service_id,
        installation_id=body.installation_id,
        repository=body.repository,
        branch=body.branch,
        auto_deploy=body.auto_deploy,
        root_directory=body.root_directory,
        dockerfile=body.dockerfile,
        overrides=BuildOverrides(
            build_command=body.build_command,
            pre_deploy_command=body.pre_deploy_command,
            start_command=body.start_command,
        ),
    )
    return d.source_out(git.set_service_source(source, actor=actor_of(user)))


@router.get("/services/{service_id}/source", response_model=d.SourceOut)
def get_source(service_id: UUID, user: CurrentUser, access: ServiceAccessDep, git: GitDep) -> d.SourceOut:
    """The service's source."""
    service = access.authorized(user, service_id, Action.PROJECT_READ)
    return d.source_out(git.get_service_source(service.service_id))


@router.post("/services/{service_id}/builds", status_code=201, response_model=d.BuildOut)
def build_by_hand(
    service_id: UUID, body: d.BuildIn, user: CurrentUser, access: ServiceAccessDep, ports: DeployPortsDep
) -> d.BuildOut:
    """Build (and deploy) a commit of the service's source now (Deploy rights)."""
    service = access.authorized(user, service_id, Action.DEPLOY)
    now = dt.datetime.now(dt.UTC)
    result = ports.builds.queue_build(service.service_id, body.commit_sha, now=now, actor=actor_of(user))
    build_id = result.queued[0]
    if ports.jobs is not None:
        ports.jobs.run_build(build_id, at=now)
    return d.build_out(ports.builds.get_build(build_id))


@router.get("/services/{service_id}/builds", response_model=list[d.BuildOut])
def list_builds(
    service_id: UUID,
    user: CurrentUser,
    access: ServiceAccessDep,
    builds: BuildsDep,
    limit: int = Query(default=50, ge=1, le=200),
) -> list[d.BuildOut]:
    """The service's builds, newest first."""
    service = access.authorized(user, service_id, Action.PROJECT_READ)
    return [d.build_out(b) for b in builds.list_builds(service.service_id, limit=limit)]


def _authorized_build(builds: BuildStore, access: ServiceAccessDep, user: CurrentUser, build_id: UUID) -> str:
    build = builds.get_build(str(build_id))
    access.authorized(user, build.service_id, Action.PROJECT_READ, what="build")
    return build.build_id


@router.get("/builds/{build_id}", response_model=d.BuildOut)
def get_build(build_id: UUID, user: CurrentUser, access: ServiceAccessDep, builds: BuildsDep) -> d.BuildOut:
    """One build."""
    return d.build_out(builds.get_build(_authorized_build(builds, access, user, build_id)))


async def _follow(
    builds: BuildStore, build_id: str, after: int, limit: int, seconds: float
) -> AsyncIterator[bytes]:
    """NDJSON log lines as they are stored, then a last ``{"next_after", "complete"}`` line."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    cursor = after
    while True:
        page = await run_in_threadpool(builds.read_logs, build_id, after=cursor, limit=limit)
        for line in d.log_page_out(page).lines:
            yield (line.model_dump_json() + "\n").encode()
        cursor = page.next_after
        if page.complete or (not page.lines and loop.time() >= deadline):
            yield (json.dumps({"next_after": cursor, "complete": page.complete}) + "\n").encode()
            return
        if not page.lines:
            await asyncio.sleep(FOLLOW_POLL_SECONDS)


@router.get("/builds/{build_id}/logs", response_model=d.LogPageOut)
def build_logs(
    build_id: UUID,
    user: CurrentUser,
    access: ServiceAccessDep,
    builds: BuildsDep,
    after: int = Query(default=0, ge=0, le=2**31 - 1),
    limit: int = Query(default=500, ge=1, le=5000),
    follow: bool = False,
    follow_seconds: int = Query(default=60, ge=1, le=FOLLOW_SECONDS_MAX),
) -> d.LogPageOut | StreamingResponse:
    """A page of the build's log after ``after``; with ``follow=true``, the lines streamed as
    NDJSON while the build runs (for at most ``follow_seconds``), ending with the cursor."""
    found = _authorized_build(builds, access, user, build_id)
    if follow:
        stream = _follow(builds, found, after, limit, float(follow_seconds))
        return StreamingResponse(stream, media_type="application/x-ndjson")
    return d.log_page_out(builds.read_logs(found, after=after, limit=limit))
