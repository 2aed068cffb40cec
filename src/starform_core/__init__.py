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
    "Project",
    "Release",
    "SecretValue",
    "Service",
    "ServiceType",
    "StarformError",
    "TenantKey",
    "UnsupportedApiVersionError",
    "ValidationError",
    "VarGroup",
    "build_payload",
    "etag_of",
    "key_of",
    "parse_payload",
    "payload_schema",
    "to_json",
]
