"""Starform's pure core: values, the desired-state payload, rendering, planning and health.

Nothing here performs I/O: time and identity come in as arguments, and every function is
deterministic. Other services import this package; the names below are its public API.
"""

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
