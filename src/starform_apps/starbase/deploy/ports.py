"""Push to deploy's ports on the app (kept beside :class:`~..ports.StarbasePorts`): the Git
integration and builds stores, the image registry (resolving tags for hand deploys) and the
job queue that runs builds. A route declares them with the ``*Dep`` aliases."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Protocol

import attrs
from fastapi import Depends, Request

from starform_apps.starbase.deploy.metrics import DeployMetrics
from starform_apps.starbase.http_errors import HttpError
from starform_core.ports import BuildStore, GitIntegrationStore
from starform_core.ports.registry import ImageRegistry

__all__ = [
    "BuildJobs",
    "BuildsDep",
    "DeployMetricsDep",
    "DeployPorts",
    "DeployPortsDep",
    "GitDep",
    "RegistryDep",
    "builds_port",
    "deploy_ports_of",
    "git_port",
    "registry_port",
]


class BuildJobs(Protocol):
    """Where builds are handed to workers (the job queue)."""

    def run_build(self, build_id: str, *, at: dt.datetime) -> None:
        """Have a worker run the build at ``at`` or later (one pending job per build)."""
        ...


@attrs.frozen
class DeployPorts:
    """What push to deploy needs: ``registry`` is ``None`` when no registry is configured (then
    only digest-pinned images can be deployed by hand); ``jobs`` is ``None`` when no queue is
    (builds then wait in the database until a sweep hands them to one)."""

    git: GitIntegrationStore
    builds: BuildStore
    registry: ImageRegistry | None = None
    jobs: BuildJobs | None = None


def deploy_ports_of(request: Request) -> DeployPorts:
    """The app's push-to-deploy ports (set by ``create_app``; ``404`` when it was given none)."""
    ports: DeployPorts | None = request.app.state.deploy_ports
    if ports is None:
        raise HttpError(404, "push to deploy is not configured on this Starbase")
    return ports


def registry_port(request: Request) -> ImageRegistry | None:
    """The image registry (``None`` when none is configured)."""
    ports: DeployPorts | None = request.app.state.deploy_ports
    return None if ports is None else ports.registry


def git_port(request: Request) -> GitIntegrationStore:
    """The Git integration role: installations, sources, deliveries."""
    return deploy_ports_of(request).git


def builds_port(request: Request) -> BuildStore:
    """The builds role."""
    return deploy_ports_of(request).builds


def _metrics(request: Request) -> DeployMetrics:
    metrics: DeployMetrics = request.app.state.deploy_metrics
    return metrics


DeployPortsDep = Annotated[DeployPorts, Depends(deploy_ports_of)]
GitDep = Annotated[GitIntegrationStore, Depends(git_port)]
BuildsDep = Annotated[BuildStore, Depends(builds_port)]
RegistryDep = Annotated[ImageRegistry | None, Depends(registry_port)]
DeployMetricsDep = Annotated[DeployMetrics, Depends(_metrics)]
