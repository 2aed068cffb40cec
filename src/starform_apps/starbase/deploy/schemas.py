"""Request and response bodies of push to deploy: installations, service sources, builds, logs,
webhook answers. Core values are validated again when the bodies are converted."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from starform_core.build import COMMAND_MAX, BuildRecord, LogPage, ServiceSource

__all__ = [
    "BuildIn",
    "BuildOut",
    "InstallationIn",
    "InstallationOut",
    "InstallationRegistered",
    "LogLineOut",
    "LogPageOut",
    "SourceIn",
    "SourceOut",
    "WebhookOut",
    "build_out",
    "log_page_out",
    "source_out",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class InstallationIn(_In):
    """Register a GitHub App installation of the workspace (its id and account, from GitHub)."""

    installation_id: int = Field(ge=1, le=2**63 - 1)
    account: str = Field(min_length=1, max_length=39, pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")


class InstallationOut(BaseModel):
    """An installation (its secret is never shown again after registration)."""

    installation_id: int
    workspace_id: UUID
    account: str
    state: Literal["pending", "active", "suspended", "deleted"]


class InstallationRegistered(BaseModel):
    """A registered installation with its webhook secret and URL (shown once: configure them as
    the webhook of the GitHub App installation)."""

    installation: InstallationOut
    webhook_secret: str
    webhook_path: str


class SourceIn(_In):
    """Build the service from ``branch`` of ``repository`` (a GitHub ``owner/name``)."""

    installation_id: int = Field(ge=1, le=2**63 - 1)
    repository: str = Field(min_length=3, max_length=140)
    branch: str = Field(min_length=1, max_length=255)
    auto_deploy: bool = True
    root_directory: str = Field(default="", max_length=1024)
    dockerfile: str | None = Field(default=None, max_length=1024)
    build_command: str | None = Field(default=None, max_length=COMMAND_MAX)
    pre_deploy_command: str | None = Field(default=None, max_length=COMMAND_MAX)
    start_command: str | None = Field(default=None, max_length=COMMAND_MAX)


class SourceOut(SourceIn):
    """A service's source."""

    model_config = ConfigDict(extra="ignore")
    service_id: UUID


class BuildIn(_In):
    """Build a commit of the service's source by hand."""

    commit_sha: str = Field(pattern=r"^[0-9a-f]{40}$")


class BuildOut(BaseModel):
    """One build of the pipeline."""

    id: UUID
    service_id: UUID
    state: str
    trigger: str
    repository: str
    branch: str
    commit_sha: str
    message: str
    image: str | None
    digest: str | None
    deployment_id: UUID | None
    generation: int | None
    failure_reason: str | None
    failure_message: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    live_at: datetime | None
    build_seconds: float | None


class LogLineOut(BaseModel):
    """One line of a build's log."""

    seq: int
    at: datetime
    stream: str
    text: str


class LogPageOut(BaseModel):
    """Log lines after a cursor: pass ``next_after`` back as ``after``; ``complete`` once the
    build is over and every line read."""

    lines: list[LogLineOut]
    next_after: int
    complete: bool


class WebhookOut(BaseModel):
    """What a delivery did."""

    delivery_id: str
    event: str
    outcome: Literal["queued", "ignored", "recorded", "duplicate"]
    builds: list[UUID] = Field(default_factory=list)
    cancelled: list[UUID] = Field(default_factory=list)


def source_out(source: ServiceSource) -> SourceOut:
    """A source body."""
    return SourceOut(
        service_id=source.service_id,  # type: ignore[arg-type]
        installation_id=source.installation_id,
        repository=source.repository,
        branch=source.branch,
        auto_deploy=source.auto_deploy,
        root_directory=source.root_directory,
        dockerfile=source.dockerfile,
        build_command=source.overrides.build_command,
        pre_deploy_command=source.overrides.pre_deploy_command,
        start_command=source.overrides.start_command,
    )


def build_out(build: BuildRecord) -> BuildOut:
    """A build body."""
    return BuildOut(
        id=build.build_id,  # type: ignore[arg-type]
        service_id=build.service_id,  # type: ignore[arg-type]
        state=build.state.value,
        trigger=build.trigger.value,
        repository=build.repository,
        branch=build.branch,
        commit_sha=build.commit_sha,
        message=build.message,
        image=build.image,
        digest=build.digest,
        deployment_id=build.deployment_id,  # type: ignore[arg-type]
        generation=build.generation,
        failure_reason=None if build.failure_reason is None else build.failure_reason.value,
        failure_message=build.failure_message,
        attempts=build.attempts,
        created_at=build.created_at,
        started_at=build.started_at,
        finished_at=build.finished_at,
        live_at=build.live_at,
        build_seconds=build.build_seconds,
    )


def log_page_out(page: LogPage) -> LogPageOut:
    """A log page body."""
    return LogPageOut(
        lines=[LogLineOut(seq=x.seq, at=x.at, stream=x.stream.value, text=x.text) for x in page.lines],
        next_after=page.next_after,
        complete=page.complete,
    )
