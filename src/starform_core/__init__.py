"""Starform's pure core: values, the desired-state payload, rendering, planning and health.

Nothing here performs I/O: time and identity come in as arguments, and every function is
deterministic. Other services import this package; the names below are its public API.
They load on first use (PEP 562), so importing one module of the core, such as
``starform_core.errors``, does not import the payload schema, rendering and planning.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starform_core.errors import (
        ContractError,
        StarformError,
        UnsupportedApiVersionError,
        ValidationError,
    )
    from starform_core.health import ServiceHealth, ServiceStatus, assess_services
    from starform_core.kube.objects import KubeObject, ObjectKey, key_of
    from starform_core.model import (
        ClusterSettings,
        DriftPolicy,
        Environment,
        Project,
        Release,
        Service,
        ServiceType,
        TenantKey,
        VarGroup,
    )
    from starform_core.payload import (
        API_VERSION,
        ClusterRows,
        DesiredState,
        build_payload,
        etag_of,
        parse_payload,
        payload_schema,
        to_json,
    )
    from starform_core.plan import Plan, PlanOptions, plan
    from starform_core.render import Rendering, parse_route_name, render, route_name
    from starform_core.secrets_values import SecretValue

__all__ = [
    "API_VERSION",
    "ClusterRows",
    "ClusterSettings",
    "ContractError",
    "DesiredState",
    "DriftPolicy",
    "Environment",
    "KubeObject",
    "ObjectKey",
    "Plan",
    "PlanOptions",
    "Project",
    "Release",
    "Rendering",
    "SecretValue",
    "Service",
    "ServiceHealth",
    "ServiceStatus",
    "ServiceType",
    "StarformError",
    "TenantKey",
    "UnsupportedApiVersionError",
    "ValidationError",
    "VarGroup",
    "assess_services",
    "build_payload",
    "etag_of",
    "key_of",
    "parse_payload",
    "parse_route_name",
    "payload_schema",
    "plan",
    "render",
    "route_name",
    "to_json",
]

_HOMES: dict[str, str] = {
    "API_VERSION": "starform_core.payload",
    "ClusterRows": "starform_core.payload",
    "ClusterSettings": "starform_core.model",
    "ContractError": "starform_core.errors",
    "DesiredState": "starform_core.payload",
    "DriftPolicy": "starform_core.model",
    "Environment": "starform_core.model",
    "KubeObject": "starform_core.kube.objects",
    "ObjectKey": "starform_core.kube.objects",
    "Plan": "starform_core.plan",
    "PlanOptions": "starform_core.plan",
    "Project": "starform_core.model",
    "Release": "starform_core.model",
    "Rendering": "starform_core.render",
    "SecretValue": "starform_core.secrets_values",
    "Service": "starform_core.model",
    "ServiceHealth": "starform_core.health",
    "ServiceStatus": "starform_core.health",
    "ServiceType": "starform_core.model",
    "StarformError": "starform_core.errors",
    "TenantKey": "starform_core.model",
    "UnsupportedApiVersionError": "starform_core.errors",
    "ValidationError": "starform_core.errors",
    "VarGroup": "starform_core.model",
    "assess_services": "starform_core.health",
    "build_payload": "starform_core.payload",
    "etag_of": "starform_core.payload",
    "key_of": "starform_core.kube.objects",
    "parse_payload": "starform_core.payload",
    "parse_route_name": "starform_core.render",
    "payload_schema": "starform_core.payload",
    "plan": "starform_core.plan",
    "render": "starform_core.render",
    "route_name": "starform_core.render",
    "to_json": "starform_core.payload",
}


if not TYPE_CHECKING:  # hidden from mypy, which checks the names imported above instead

    def __getattr__(name: str) -> Any:
        """Load a public name from its module on first use."""
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(home), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    """The public names, loaded or not."""
    return sorted({*globals(), *__all__})
