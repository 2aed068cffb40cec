"""The tier's caps checked when a change is accepted, not when Shuttle applies it (tier_fit.py).

A refused change is a ``422`` naming the field over its cap, the value, the tier and the cap;
nothing is stored. Each write checks what it can change: a service's container (create, PATCH),
a service's claims and the project's claim quota (a new volume, a service from a template),
the service's stored spec (a deploy starts its pods), every service of the project (a tier
change). A template upgrade's spec and an adopted value are computed, and checked, inside the
store's transaction. Like the count limits (capacity.py), a check reads before the write: two concurrent
writes may together pass the claim quota.
"""

from __future__ import annotations

from collections.abc import Iterable

from starform_core.errors import TierLimitError
from starform_core.model.enums import Tier
from starform_core.model.workload import Resources, Volume
from starform_core.payload.rows import ServiceRow, VolumeRow
from starform_core.ports import ServiceStore
from starform_core.render.tier_fit import (
    ServiceFootprint,
    check_claims_fit,
    check_project_fits,
    check_service_fits,
)

__all__ = [
    "footprint_of",
    "project_fits_tier",
    "service_fits_tier",
    "volumes_fit_tier",
]


def footprint_of(service: ServiceRow, volumes: Iterable[VolumeRow] = ()) -> ServiceFootprint:
    """What a stored (or about to be stored) service asks of its namespace."""
    resources = Resources(
        cpu_request=service.cpu_request,
        memory_request=service.memory_request,
        cpu_limit=service.cpu_limit,
        memory_limit=service.memory_limit,
    )
    claims = tuple(
        Volume(name=v.name, mount_path=v.mount_path, size=v.size, access_mode=v.access_mode) for v in volumes
    )
    return ServiceFootprint(name=service.name, resources=resources, volumes=claims)


def _renamed(exc: TierLimitError, field: str, *, naming: bool = False) -> TierLimitError:
    """``exc`` refusing ``field`` instead (``naming``: the reason starts with the original field)."""
    return TierLimitError(field, f"{exc.field}: {exc.reason}" if naming else exc.reason)


def service_fits_tier(
    tier: Tier, service: ServiceRow, volumes: Iterable[VolumeRow] = (), *, under: str = ""
) -> None:
    """Refuse ``service`` (with ``volumes``) over ``tier``'s per-container or per-claim caps.

    ``under`` prefixes the refused field (``service.`` when the request body is not the spec).
    """
    try:
        check_service_fits(tier, footprint_of(service, volumes))
    except TierLimitError as exc:
        if under:
            raise _renamed(exc, under + exc.field) from exc
        raise


def _project_sizes(services: ServiceStore, project_id: str) -> list[str]:
    return [
        volume.size
        for service in services.list_services(project_id)
        for volume in services.list_volumes(service.service_id)
    ]


def volumes_fit_tier(
    tier: Tier,
    services: ServiceStore,
    service: ServiceRow,
    new: Iterable[VolumeRow],
    *,
    field: str | None = None,
) -> None:
    """Refuse ``new`` volumes of ``service`` over ``tier``'s per-claim cap or the project's claim
    quota (counted with every volume the project has).

    ``field`` replaces the refused field's name (``size`` when one volume is the request body).
    """
    added = list(new)
    try:
        check_service_fits(tier, footprint_of(service, added))
        check_claims_fit(tier, [*_project_sizes(services, service.project_id), *(v.size for v in added)])
    except TierLimitError as exc:
        if field is not None:
            raise _renamed(exc, field) from exc
        raise


def project_fits_tier(tier: Tier, services: ServiceStore, project_id: str) -> None:
    """Refuse moving a project to ``tier`` when one of its services, or its claims, would not fit.

    The refused field is ``tier``; the reason names the service and its field over the cap.
    """
    footprints = [
        footprint_of(service, services.list_volumes(service.service_id))
        for service in services.list_services(project_id)
    ]
    try:
        check_project_fits(tier, footprints)
    except TierLimitError as exc:
        raise _renamed(exc, "tier", naming=True) from exc
