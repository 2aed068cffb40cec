"""Templates: the catalogue, services made from a template, and upgrades offered (never forced).

Anyone with an API token reads the catalogue; only platform operators publish (a template's
rules are guardrails over what tenants may run, so tenants do not write their own). Creating a
service from a template needs project Developer (deploying its image, Admin in a protected
environment); a change outside the template's rules is a 422 naming the field's JSON pointer,
the rule and the template. A newer version is listed as an offer and applied only when asked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response

from starform_apps.starbase import schemas as s
from starform_apps.starbase import schemas_templates as t
from starform_apps.starbase.auth import CurrentUser, actor_of, authorize_project
from starform_apps.starbase.capacity import room_for_service
from starform_apps.starbase.convert import deployment_out, service_out, under_body_names, volume_out
from starform_apps.starbase.http_errors import ERROR_RESPONSES, HttpError
from starform_apps.starbase.ports import EnvironmentsDep, ServicesDep, TemplatesDep, TenancyDep
from starform_apps.starbase.ratelimit import Quota, RateLimits
from starform_apps.starbase.roles import Action
from starform_apps.starbase.service_access import ServiceAccessDep
from starform_apps.starbase.tier_checks import service_fits_tier, volumes_fit_tier
from starform_core.errors import StoreNotFoundError, TemplateError, TierLimitError, ValidationError
from starform_core.model.enums import Tier
from starform_core.payload.rows import DeploymentRow, ServiceRow, ServiceVarGroupRow
from starform_core.ports import ServiceStore
from starform_core.ports.templates import TemplatedService, TemplateLink, TemplateRecord
from starform_core.templates import (
    ServiceSpec,
    SpecRows,
    TemplateRef,
    instantiate,
    spec_rows,
    spec_to_json,
    template_from_json,
    template_to_json,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["templates"], responses=ERROR_RESPONSES)

T = TypeVar("T")
TemplateName = Annotated[str, Path(min_length=1, max_length=40)]
TemplateVersion = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _under(where: str, run: Callable[[], T]) -> T:
    """Run ``run``; a :class:`TemplateError` becomes a 422 at ``where`` plus its pointer.

    The message keeps the pointer, the rule and the template (``/resources/cpu_limit: at most 2
    (template web-app v3)``).
    """
    try:
        return run()
    except TemplateError as exc:
        steps = [part.replace("~1", "/").replace("~0", "~") for part in exc.pointer.split("/")[1:]]
        raise ValidationError(".".join(part for part in [where, *steps] if part) or "body", str(exc)) from exc


def _template_out(record: TemplateRecord) -> t.TemplateOut:
    data = template_to_json(record.template)
    return t.TemplateOut(
        **data,
        digest=record.template.digest,
        published_by=record.published_by,
        created_at=record.created_at,
    )


def _ref_out(ref: TemplateRef) -> t.TemplateRefOut:
    return t.TemplateRefOut(name=ref.name, version=ref.version)


def _link_out(link: TemplateLink) -> t.TemplateLinkOut:
    return t.TemplateLinkOut(
        service_id=link.service_id,  # type: ignore[arg-type]
        service_name=link.service_name,
        environment_id=link.environment_id,  # type: ignore[arg-type]
        template=_ref_out(link.template),
        latest_version=link.latest_version,
        upgrade_available=link.upgrade_available,
    )


def _service_body(row: ServiceRow, rows: SpecRows, attachments: list[s.AttachmentOut]) -> s.ServiceOut:
    """The created service as ``GET /v1/services/{id}`` shows it (its first release is version 1)."""
    new = rows.deployment
    release = None
    if new is not None:
        first = DeploymentRow(new.deployment_id, row.service_id, 1, new.image, new.command, new.args)
        release = deployment_out(first)
    return service_out(
        row,
        release=release,
        hostnames=[h.hostname for h in rows.hostnames],
        volumes=[volume_out(v) for v in rows.volumes],
        var_groups=attachments,
    )


@router.get("/templates", response_model=list[t.TemplateSummaryOut])
def list_templates(user: CurrentUser, templates: TemplatesDep) -> list[t.TemplateSummaryOut]:
    """The template catalogue: each template's latest title and description and its versions."""
    return [
        t.TemplateSummaryOut(
            name=x.name,
            latest_version=x.latest_version,
            title=x.title,
            description=x.description,
            versions=list(x.versions),
        )
        for x in templates.list_templates()
    ]


@router.get("/templates/{name}", response_model=t.TemplateOut)
def get_template(name: TemplateName, user: CurrentUser, templates: TemplatesDep) -> t.TemplateOut:
    """A template's latest version: its spec and allowed mutations."""
    return _template_out(templates.get_template(name))


@router.get("/templates/{name}/versions", response_model=list[t.TemplateOut])
def list_versions(name: TemplateName, user: CurrentUser, templates: TemplatesDep) -> list[t.TemplateOut]:
    """Every version of a template, newest first."""
    return [_template_out(record) for record in templates.list_template_versions(name)]


@router.get("/templates/{name}/versions/{version}", response_model=t.TemplateOut)
def get_version(
    name: TemplateName, version: TemplateVersion, user: CurrentUser, templates: TemplatesDep
) -> t.TemplateOut:
    """One version of a template."""
    return _template_out(templates.get_template(name, version))


@router.post("/templates", status_code=201, response_model=t.TemplateOut)
def publish_template(
    body: t.TemplateIn, response: Response, user: CurrentUser, templates: TemplatesDep
) -> t.TemplateOut:
    """Publish a template version (operators): 201, or 200 when the same content is already published."""
    if not user.is_operator:
        raise HttpError(403, "only platform operators publish templates (with an unscoped token)")
    template = _under("", lambda: template_from_json(body.model_dump()))
    outcome = templates.publish_template(template, actor=actor_of(user))
    if not outcome.created:
        response.status_code = 200
    return _template_out(outcome.record)


def _fits_tier(tier: Tier, services: ServiceStore, rows: SpecRows) -> None:
    """Refuse a spec over the tier's caps, naming the field as the template's changes do."""
    try:
        service_fits_tier(tier, rows.service)
        volumes_fit_tier(tier, services, rows.service, rows.volumes)
    except TierLimitError as exc:
        where = exc.field if exc.field.startswith("volumes") else f"resources.{exc.field}"
        raise TierLimitError(f"changes.{where}", exc.reason) from exc


def _attachments(service_id: str, links: list[t.VarGroupLinkIn]) -> tuple[ServiceVarGroupRow, ...]:
    groups = [str(link.var_group_id) for link in links]
    orders = [link.attach_order for link in links]
    if len(set(groups)) != len(groups) or len(set(orders)) != len(orders):
        raise ValidationError("var_groups", "each var group attaches once, each attach_order is used once")
    return tuple(
        ServiceVarGroupRow(service_id=service_id, var_group_id=g, attach_order=o)
        for g, o in zip(groups, orders, strict=True)
    )


@router.post(
    "/projects/{project_id}/services/from-template", status_code=201, response_model=t.TemplatedServiceOut
)
def create_from_template(
    project_id: UUID,
    body: t.TemplatedServiceIn,
    user: CurrentUser,
    tenancy: TenancyDep,
    environments: EnvironmentsDep,
    services: ServicesDep,
    templates: TemplatesDep,
) -> t.TemplatedServiceOut:
    """Create a service from a template with the user's changes, inside the template's rules and
    the project's tier."""
    project = tenancy.get_project(str(project_id))
    authorize_project(tenancy, user, project, Action.SERVICE_WRITE)
    environment = environments.get_environment(str(body.environment_id))
    if environment.project_id != project.project_id:
        raise StoreNotFoundError("environment not found")
    template = templates.get_template(body.template.name, body.template.version).template
    spec: ServiceSpec = _under("changes", lambda: instantiate(template, body.changes))
    if spec.image is not None:
        authorize_project(tenancy, user, project, Action.DEPLOY, environment=environment)
    room_for_service(services, project.project_id)
    service_id = str(uuid.uuid4())
    identity = ServiceRow(
        service_id=service_id,
        project_id=project.project_id,
        environment_id=environment.environment_id,
        name=body.name,
        type=spec.type,
        state=spec.state,
    )
    rows = spec_rows(spec, identity, new_id=lambda: str(uuid.uuid4()))
    _fits_tier(project.tier, services, rows)
    links = _attachments(service_id, body.var_groups)
    request = TemplatedService(
        rows=rows, template=template.ref, attachments=links, required_var_keys=spec.required_var_keys
    )
    row = under_body_names(
        lambda: _under(
            "var_groups", lambda: templates.create_templated_service(request, actor=actor_of(user))
        )
    )
    attached = [s.AttachmentOut(var_group_id=x.var_group_id, attach_order=x.attach_order) for x in links]  # type: ignore[arg-type]
    return t.TemplatedServiceOut(
        service=_service_body(row, rows, attached), template=_ref_out(template.ref), spec=spec_to_json(spec)
    )


@router.get("/services/{service_id}/template", response_model=t.TemplateLinkOut)
def service_template(
    service_id: UUID, user: CurrentUser, access: ServiceAccessDep, templates: TemplatesDep
) -> t.TemplateLinkOut:
    """The template a service was made from and whether a newer version is offered (404: none)."""
    service = access.authorized(user, service_id, Action.PROJECT_READ)
    link = templates.template_link(service.service_id)
    if link is None:
        raise HttpError(404, "template not found")
    return _link_out(link)


@router.get("/projects/{project_id}/template-upgrades", response_model=list[t.TemplateLinkOut])
def upgrade_offers(
    project_id: UUID, user: CurrentUser, tenancy: TenancyDep, templates: TemplatesDep
) -> list[t.TemplateLinkOut]:
    """The project's services whose template has a newer version (offered, never applied alone)."""
    project = tenancy.get_project(str(project_id))
    authorize_project(tenancy, user, project, Action.PROJECT_READ)
    return [_link_out(link) for link in templates.upgrade_offers(project.project_id)]


@router.post("/services/{service_id}/template-upgrade", response_model=t.TemplatedServiceOut)
def upgrade_service(
    service_id: UUID,
    body: t.TemplateUpgradeIn,
    request: Request,
    user: CurrentUser,
    access: ServiceAccessDep,
    templates: TemplatesDep,
) -> t.TemplatedServiceOut:
    """Move a service to a newer version of its template (default: the latest), keeping its changes.

    Judged by that version's rules: a 422 names the rule its current values break.
    """
    service = access.authorized(user, service_id, Action.DEPLOY)
    link = templates.template_link(service.service_id)
    if link is None:
        raise HttpError(409, "the service was not made from a template")
    limits: RateLimits = request.app.state.rate_limits
    limits.charge(Quota.DEPLOY, service.service_id)
    version = body.version or link.latest_version
    result = _under(
        "spec",
        lambda: templates.upgrade_templated_service(service.service_id, version, actor=actor_of(user)),
    )
    release = None if result.deployment is None else deployment_out(result.deployment)
    return t.TemplatedServiceOut(
        service=service_out(result.service, release=release),
        template=_ref_out(result.template),
        spec=spec_to_json(result.spec),
    )
