"""Releases: deploy a new version of a service, list its versions, roll back to one."""

from __future__ import annotations

import uuid
from uuid import UUID

from fastapi import APIRouter, Request

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import Caller, CurrentUser, actor_of
from starform_apps.starbase.convert import deployment_out, under_body_names
from starform_apps.starbase.deploy.ports import DeployMetricsDep, RegistryDep
from starform_apps.starbase.deploy.resolve import pin_image
from starform_apps.starbase.http_errors import ERROR_RESPONSES
from starform_apps.starbase.ports import ReleasesDep
from starform_apps.starbase.ratelimit import Quota, RateLimits
from starform_apps.starbase.roles import Action
from starform_apps.starbase.service_access import ServiceAccess, ServiceAccessDep
from starform_apps.starbase.tier_checks import service_fits_tier
from starform_core.model.workload import Release
from starform_core.payload.rows import ServiceRow
from starform_core.ports import ReleaseStore
from starform_core.records import NewDeployment

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["services"], responses=ERROR_RESPONSES)


def _charge_deploy(request: Request, service: ServiceRow) -> None:
    """Deploys (and rollbacks) of one service share a budget (``STARBASE_RATE_LIMIT_DEPLOY``)."""
    limits: RateLimits = request.app.state.rate_limits
    limits.charge(Quota.DEPLOY, service.service_id)


def _fits_tier(access: ServiceAccess, service: ServiceRow) -> None:
    """A deploy starts the service's pods: refuse one whose spec no longer fits its tier."""
    tier = access.tenancy.get_project(service.project_id).tier
    service_fits_tier(tier, service, access.services.list_volumes(service.service_id), under="service.")


def _deploy(
    releases: ReleaseStore,
    user: Caller,
    service: ServiceRow,
    image: str,
    command: tuple[str, ...] | None,
    args: tuple[str, ...] | None,
) -> s.DeploymentOut:
    Release(version=1, image=image, command=command, args=args)
    row = releases.create_deployment(
        NewDeployment(
            deployment_id=str(uuid.uuid4()),
            service_id=service.service_id,
            image=image,
            command=command,
            args=args,
        ),
        actor=actor_of(user),
    )
    return deployment_out(row)


@router.post("/services/{service_id}/deployments", status_code=201, response_model=s.DeploymentOut)
def deploy(
    service_id: UUID,
    body: s.DeploymentIn,
    request: Request,
    user: CurrentUser,
    access: ServiceAccessDep,
    releases: ReleasesDep,
    registry: RegistryDep,
    deploy_metrics: DeployMetricsDep,
) -> s.DeploymentOut:
    """Deploy a new version (Developer; Admin when the environment is protected).

    An image given by tag is resolved to its digest through the image registry (``422`` naming
    the tag or repository when it cannot be); the deployment stores the digest-pinned reference.
    A service whose spec does not fit its project's tier is not deployed (``422`` naming
    ``service.<field>``).
    """
    service = access.authorized(user, service_id, Action.DEPLOY)
    _charge_deploy(request, service)
    _fits_tier(access, service)
    command = None if body.command is None else tuple(body.command)
    args = None if body.args is None else tuple(body.args)
    image = pin_image(body.image, registry, deploy_metrics)
    return under_body_names(lambda: _deploy(releases, user, service, image, command, args))


@router.get("/services/{service_id}/deployments", response_model=list[s.DeploymentOut])
def list_deployments(
    service_id: UUID, user: CurrentUser, access: ServiceAccessDep, releases: ReleasesDep
) -> list[s.DeploymentOut]:
    """A service's deployments, newest first."""
    service = access.authorized(user, service_id, Action.PROJECT_READ)
    return [deployment_out(d) for d in releases.list_deployments(service.service_id)]


@router.post("/services/{service_id}/rollback", status_code=201, response_model=s.DeploymentOut)
def rollback(
    service_id: UUID,
    body: s.RollbackIn,
    request: Request,
    user: CurrentUser,
    access: ServiceAccessDep,
    releases: ReleasesDep,
) -> s.DeploymentOut:
    """Redeploy a previous version's image as a new version (same rules as a deploy)."""
    service = access.authorized(user, service_id, Action.DEPLOY)
    _charge_deploy(request, service)
    _fits_tier(access, service)
    previous = releases.get_deployment(service.service_id, body.version)
    return under_body_names(
        lambda: _deploy(releases, user, service, previous.image, previous.command, previous.args)
    )
