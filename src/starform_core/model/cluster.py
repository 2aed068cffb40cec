"""Cluster-wide settings carried in the payload."""

from __future__ import annotations

import re
from typing import Final

import attrs

from starform_core.errors import ValidationError
from starform_core.model.networks import canonical_networks
from starform_core.validation import (
    check_bool,
    check_dns1035_label,
    check_optional,
    check_qualified_name,
    check_range,
    check_subdomain,
    check_uuid,
    field_check,
    fullmatch,
    instance_of,
)

__all__ = ["ClusterSettings", "GatewayRef", "LoadBalancerSettings", "ObjectRef", "PrunePolicy"]

DEFAULT_SIZE_UNIT_ANNOTATION = "service.beta.kubernetes.io/do-loadbalancer-size-unit"
_API_VERSION: Final = re.compile(
    r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?"
)
_KIND: Final = re.compile(r"[A-Z][A-Za-z0-9]{0,62}")


def _check_api_version(field: str, value: str) -> None:
    if not fullmatch(_API_VERSION, value) or len(value) > 253:
        raise ValidationError(field, "must be a Kubernetes apiVersion such as 'v1' or 'apps/v1'")


def _check_kind(field: str, value: str) -> None:
    if not fullmatch(_KIND, value):
        raise ValidationError(field, "must be a Kubernetes kind such as 'Service' (at most 63)")


@attrs.frozen
class ObjectRef:
    """A reference to one Kubernetes object Shuttle touches but does not own."""

    api_version: str = attrs.field(validator=field_check(_check_api_version))
    kind: str = attrs.field(validator=field_check(_check_kind))
    name: str = attrs.field(validator=field_check(check_subdomain))
    namespace: str | None = attrs.field(
        default=None, validator=field_check(check_optional(check_dns1035_label))
    )


@attrs.frozen
class LoadBalancerSettings:
    """The load balancer's size unit, set as one annotation on a resource Shuttle does not own."""

    target: ObjectRef = attrs.field(validator=instance_of(ObjectRef))
    size_unit: int = attrs.field(validator=lambda _i, a, v: check_range(a.name, v, low=1, high=200))
    annotation: str = attrs.field(
        default=DEFAULT_SIZE_UNIT_ANNOTATION, validator=field_check(check_qualified_name)
    )


@attrs.frozen
class GatewayRef:
    """The Gateway that every HTTPRoute attaches to."""

    namespace: str = attrs.field(validator=field_check(check_dns1035_label))
    name: str = attrs.field(validator=field_check(check_subdomain))
    section_name: str | None = attrs.field(
        default=None, validator=field_check(check_optional(check_subdomain))
    )


@attrs.frozen
class PrunePolicy:
    """The prune safety valve: how much of what Shuttle owns one plan may delete.

    A plan deleting more than ``max_delete_percent`` of owned objects *and* more than
    ``max_delete_count`` objects is held; ``release_held`` lets a deliberate mass deletion through.
    """

    max_delete_percent: int = attrs.field(
        default=30, validator=lambda _i, a, v: check_range(a.name, v, low=0, high=100)
    )
    max_delete_count: int = attrs.field(
        default=25, validator=lambda _i, a, v: check_range(a.name, v, low=0, high=1_000_000)
    )
    release_held: bool = attrs.field(default=False, validator=field_check(check_bool))


@attrs.frozen
class ClusterSettings:
    """One cluster's settings: identity, gateway, load balancer, storage class, prune valve,
    private networks pods may reach."""

    cluster_id: str = attrs.field(validator=field_check(check_uuid))
    name: str = attrs.field(validator=field_check(check_dns1035_label))
    region: str = attrs.field(validator=field_check(check_dns1035_label))
    gateway: GatewayRef = attrs.field(validator=instance_of(GatewayRef))
    load_balancer: LoadBalancerSettings | None = attrs.field(
        validator=instance_of(LoadBalancerSettings, optional=True)
    )
    storage_class: str = attrs.field(validator=field_check(check_subdomain))
    prune: PrunePolicy = attrs.field(factory=PrunePolicy, validator=instance_of(PrunePolicy))
    egress_allow: tuple[str, ...] = attrs.field(default=(), converter=canonical_networks)
    """Private networks every pod may reach besides the internet (the VPC ranges of the managed
    databases customers' pods connect to directly, §4.4). The internet rule excludes private
    ranges, so without an entry here pods cannot reach anything inside the VPC."""
    metrics_namespace: str | None = attrs.field(
        default=None, validator=field_check(check_optional(check_dns1035_label))
    )
    """The namespace of the metrics agent (vmagent) allowed to scrape the pods' own ``/metrics``
    (§35.2's optional app metrics); ``None`` admits no scraper."""
