"""Object names: one module, one set of rules (documented in docs/kubernetes-objects.md).

* Namespace ``sf-<project uuid as 32 hex>``; var group Secret ``vg-<var group uuid as 32 hex>``.
* Per-service objects ``<service>-<environment>`` (at most 32 + 1 + 30 = 63 characters).
* CronJob names at most 52 characters, PVC names ``<service>-<environment>-<volume>`` at most 63:
  a longer name is cut and ends in ``-<8 hex>`` of a SHA-256 of the full name, so it stays stable.
* HTTPRoute ``<project uuid hex32><service uuid hex32>-<environment>`` (§20.2), parsed positionally.
* NetworkPolicies ``default-deny`` and ``env-<environment>`` (the namespace's own); a service's
  gateway policy is ``<service>-<environment>`` unless that is one of them (service ``env`` or
  ``default``), then it ends in ``-<8 hex>`` of a hash of the service id.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Final

import attrs

from starform_core.errors import ValidationError
from starform_core.validation import check_environment_name

__all__ = [
    "CRONJOB_NAME_MAX",
    "DEFAULT_DENY_NAME",
    "HASH_LENGTH",
    "NAME_MAX",
    "RouteIdentity",
    "ServiceNames",
    "allocate_service_names",
    "environment_policy_name",
    "fit_name",
    "hashed_name",
    "namespace_name",
    "parse_route_name",
    "route_name",
    "var_group_secret_name",
]

NAME_MAX: Final = 63
"""Longest name of a DNS-1123/1035 label (Service, Deployment, PVC, ...)."""

CRONJOB_NAME_MAX: Final = 52
"""CronJob names: the controller appends an 11-character suffix to name its Jobs."""

HASH_LENGTH: Final = 8
"""Hex characters of the stable hash that ends a shortened or disambiguated name."""

DEFAULT_DENY_NAME: Final = "default-deny"
"""Name of the namespace-wide deny-all NetworkPolicy."""

_ROUTE = re.compile(r"^(?P<project>[0-9a-f]{32})(?P<service>[0-9a-f]{32})-(?P<env>.+)$")
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _hex(value: str, field: str) -> str:
    """The 32 hex digits of a UUID: the canonical form (what payloads carry) without parsing."""
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return value.replace("-", "")
    try:
        return uuid.UUID(value).hex
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValidationError(field, "must be a UUID") from exc


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:HASH_LENGTH]


def hashed_name(name: str, *, source: str, limit: int) -> str:
    """``name`` cut to fit ``limit`` with ``-<hash of source>`` appended (always hashed)."""
    room = limit - HASH_LENGTH - 1
    prefix = name[:room].rstrip("-")
    return f"{prefix}-{_digest(source)}"


def fit_name(name: str, *, limit: int) -> str:
    """``name`` itself when it fits ``limit``; otherwise cut, ending in a hash of the full name."""
    if len(name) <= limit:
        return name
    return hashed_name(name, source=name, limit=limit)


def namespace_name(project_id: str) -> str:
    """The project's namespace: ``sf-<project uuid as 32 hex>``."""
    return f"sf-{_hex(project_id, 'project_id')}"


def var_group_secret_name(var_group_id: str) -> str:
    """The Secret holding one var group: ``vg-<var group uuid as 32 hex>``."""
    return f"vg-{_hex(var_group_id, 'var_group_id')}"


def environment_policy_name(environment: str) -> str:
    """The NetworkPolicy isolating one environment inside its project namespace."""
    return f"env-{environment}"


@attrs.frozen
class RouteIdentity:
    """The tenant key parts folded into an HTTPRoute name (canonical hyphenated UUIDs)."""

    project_id: str
    service_id: str
    environment: str


def route_name(project_id: str, service_id: str, environment: str) -> str:
    """``<project uuid hex32><service uuid hex32>-<environment>`` (§20.2)."""
    check_environment_name("environment", environment)
    return f"{_hex(project_id, 'project_id')}{_hex(service_id, 'service_id')}-{environment}"


def parse_route_name(name: str) -> RouteIdentity:
    """Recover project id, service id and environment from an HTTPRoute name (positional parse).

    Raises :class:`~starform_core.errors.ValidationError` for anything that is not a route name.
    """
    match = _ROUTE.match(name) if isinstance(name, str) else None
    if match is None:
        raise ValidationError("route_name", "must be <project uuid hex32><service uuid hex32>-<environment>")
    check_environment_name("route_name", match["env"])
    return RouteIdentity(
        project_id=str(uuid.UUID(hex=match["project"])),
        service_id=str(uuid.UUID(hex=match["service"])),
        environment=match["env"],
    )


@attrs.frozen
class ServiceNames:
    """The names of one service's objects inside its project namespace.

    ``base`` names the Deployment, Service, ServiceAccount and HPA; ``gateway_policy`` the
    gateway NetworkPolicy (``base`` unless a namespace policy has that name); ``cronjob`` the
    CronJob; ``claims`` maps each volume name to its PVC name.
    """

    base: str
    cronjob: str
    claims: tuple[tuple[str, str], ...]
    gateway_policy: str

    def claim(self, volume: str) -> str:
        """The PVC name of ``volume``."""
        return dict(self.claims)[volume]


def _unique(candidates: dict[str, str], *, limit: int) -> dict[str, str]:
    """Owner -> name: a name shared by several owners is hashed with each owner's identity."""
    counts: dict[str, int] = {}
    for name in candidates.values():
        counts[name] = counts.get(name, 0) + 1
    return {
        owner: fit_name(name, limit=limit)
        if counts[name] == 1
        else hashed_name(name, source=owner, limit=limit)
        for owner, name in candidates.items()
    }


def _gateway_policy(service_id: str, base: str, reserved: frozenset[str]) -> str:
    if base not in reserved:
        return base
    return hashed_name(base, source=f"{service_id}/gateway-policy", limit=NAME_MAX)


def allocate_service_names(
    services: list[tuple[str, str, str, tuple[str, ...]]],
    *,
    environments: tuple[str, ...] = (),
) -> dict[str, ServiceNames]:
    """Names for the services of one namespace: ``(service_id, name, environment, volumes)``;
    ``environments`` are the project's (their ``env-<environment>`` policies share the kind).

    ``<service>-<environment>`` is ambiguous when names contain ``-`` (``a-b``/``c`` and
    ``a``/``b-c``). A valid payload never has such a pair (``Project`` refuses it), but PVC names
    ``<base>-<volume>`` can clash the same way: clashing names all get a hash of their owner
    appended instead, so two services never share an object (base names get the same safety net).
    A gateway NetworkPolicy never takes the name of the namespace's own policies.
    """
    reserved = frozenset((DEFAULT_DENY_NAME, *map(environment_policy_name, environments)))
    bases = _unique({service_id: f"{name}-{env}" for service_id, name, env, _ in services}, limit=NAME_MAX)
    claims = _unique(
        {
            f"{service_id}/{volume}": f"{bases[service_id]}-{volume}"
            for service_id, _, _, volumes in services
            for volume in volumes
        },
        limit=NAME_MAX,
    )
    return {
        service_id: ServiceNames(
            base=bases[service_id],
            cronjob=fit_name(bases[service_id], limit=CRONJOB_NAME_MAX),
            claims=tuple((volume, claims[f"{service_id}/{volume}"]) for volume in volumes),
            gateway_policy=_gateway_policy(service_id, bases[service_id], reserved),
        )
        for service_id, _, _, volumes in services
    }
