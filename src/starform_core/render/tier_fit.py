"""Whether services fit their project's tier: the caps the namespace's LimitRange and quota enforce.

The cluster refuses what breaks them (a claim larger than the per-claim cap, a pod whose
container asks for more than the per-container cap), but only when Shuttle applies it, long
after the change was accepted. Starbase runs these checks when it accepts the change instead.
The caps are :mod:`~starform_core.render.tiers`'s, the same numbers the LimitRange and the
ResourceQuota render from, compared as exact quantities.

What the LimitRange judges, per container and resource (CPU, memory): a limit above the cap is
refused; a container without a limit gets the cap as its limit (``default`` equals ``max``), so
its request may not exceed the cap either. Per claim: the requested storage may not exceed the
cap. The quota's claim count and total requested storage are judged for the whole project (one
namespace holds every environment). The quota's CPU, memory and pod totals are not: pods are
made by controllers over time (rollouts surge, autoscalers scale, cron jobs come and go), and a
pod the quota refuses leaves the objects applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import attrs

from starform_core.errors import TierLimitError
from starform_core.model.enums import Tier
from starform_core.model.service import Service
from starform_core.model.workload import Resources, Volume
from starform_core.quantity import parse_quantity
from starform_core.render.tiers import TierLimits, limits_for

__all__ = ["ServiceFootprint", "check_claims_fit", "check_project_fits", "check_service_fits"]

_BINARY = (
    ("Ti", Decimal(1024) ** 4),
    ("Gi", Decimal(1024) ** 3),
    ("Mi", Decimal(1024) ** 2),
    ("Ki", Decimal(1024)),
)


@attrs.frozen
class ServiceFootprint:
    """What one service asks of its project's namespace: its container's resources, its claims."""

    name: str
    resources: Resources
    volumes: tuple[Volume, ...] = ()

    @classmethod
    def of(cls, service: Service) -> ServiceFootprint:
        """The footprint of a desired service."""
        return cls(name=service.name, resources=service.resources, volumes=service.volumes)


def _over(value: str, cap: str) -> bool:
    return parse_quantity(value) > parse_quantity(cap)


def _check_container(tier: Tier, limits: TierLimits, footprint: ServiceFootprint) -> None:
    resources = footprint.resources
    for resource, request, limit, cap in (
        ("cpu", resources.cpu_request, resources.cpu_limit, limits.container_max_cpu),
        ("memory", resources.memory_request, resources.memory_limit, limits.container_max_memory),
    ):
        for kind, value in (("limit", limit), ("request", request)):
            if value is not None and _over(value, cap):
                raise TierLimitError(
                    f"{resource}_{kind}",
                    f"{value} is above the {tier.value} tier's per-container {resource} maximum "
                    f"of {cap} (service {footprint.name})",
                )


def _check_claims(tier: Tier, limits: TierLimits, footprint: ServiceFootprint) -> None:
    cap = limits.claim_max_storage
    for volume in footprint.volumes:
        if _over(volume.size, cap):
            raise TierLimitError(
                f"volumes.{volume.name}.size",
                f"{volume.size} is above the {tier.value} tier's per-volume maximum of {cap} "
                f"(service {footprint.name})",
            )


def check_service_fits(tier: Tier, footprint: ServiceFootprint) -> None:
    """Refuse a service whose container or a claim breaks ``tier``'s per-container or per-claim cap.

    Raises :class:`~starform_core.errors.TierLimitError` naming the first field over its cap.
    """
    limits = limits_for(tier)
    _check_container(tier, limits, footprint)
    _check_claims(tier, limits, footprint)


def _quantity_text(amount: Decimal) -> str:
    for suffix, unit in _BINARY:
        if amount >= unit and amount % unit == 0:
            return f"{amount // unit}{suffix}"
    return str(amount.normalize()) if amount % 1 else str(int(amount))


def check_claims_fit(tier: Tier, sizes: Iterable[str]) -> None:
    """Refuse a project whose claims (every volume's size) break ``tier``'s quota on claims:
    their number and their total requested storage.
    """
    limits = limits_for(tier)
    amounts = [parse_quantity(size) for size in sizes]
    if len(amounts) > limits.persistent_volume_claims:
        raise TierLimitError(
            "volumes",
            f"the project would have {len(amounts)} volumes, above the {tier.value} tier's "
            f"quota of {limits.persistent_volume_claims}",
        )
    total = sum(amounts, Decimal(0))
    if total > parse_quantity(limits.requests_storage):
        raise TierLimitError(
            "volumes",
            f"the project's volumes would total {_quantity_text(total)}, above the {tier.value} "
            f"tier's storage quota of {limits.requests_storage}",
        )


def check_project_fits(tier: Tier, footprints: Iterable[ServiceFootprint]) -> None:
    """Refuse a project whose services do not all fit ``tier`` (each service's caps, the claims)."""
    services = list(footprints)
    for footprint in services:
        check_service_fits(tier, footprint)
    check_claims_fit(tier, (volume.size for footprint in services for volume in footprint.volumes))
