"""The shape of a service spec's JSON form, and of a change document over it (JSON Schema).

:data:`SPEC_SCHEMA` is the structure of a whole spec (types, known keys; the domain's rules,
such as "a web service needs a port", are the model's and run afterwards). :data:`CHANGES_SCHEMA`
is derived from it: the same fields, none required, ``null`` allowed where a field may be
removed, and without the two fields a template fixes (``type`` and ``var_keys``).
"""

from __future__ import annotations

import copy
from typing import Any, Final

__all__ = ["CHANGES_SCHEMA", "FIXED_FIELDS", "SPEC_SCHEMA", "partial_schema", "strip_annotations"]

_NULLABLE: Final = "x-removable"
_LABEL: Final = "^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$(?!\\n)"
_VAR_KEY: Final = "^[A-Za-z_][A-Za-z0-9_]{0,252}$(?!\\n)"

FIXED_FIELDS: Final = ("type", "var_keys")
"""Spec fields a template sets and no change may touch."""


def _obj(
    properties: dict[str, Any], *, required: tuple[str, ...] = (), removable: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A closed object schema; ``removable`` fields may be ``null`` in a change (removed)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    if removable:
        schema[_NULLABLE] = list(removable)
    return schema


_STR = {"type": "string", "maxLength": 1024}
_QUANTITY = {"type": "string", "maxLength": 64}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_ARGUMENTS = {"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 8192}}

_PROBE = _obj(
    {
        "kind": {"enum": ["http", "tcp", "grpc"]},
        "port": _INT,
        "path": _STR,
        "grpc_service": _STR,
        "initial_delay_seconds": _INT,
        "period_seconds": _INT,
        "timeout_seconds": _INT,
        "failure_threshold": _INT,
    },
    required=("kind", "port"),
    removable=("path", "grpc_service"),
)

_SPEC_SOURCE: Final[dict[str, Any]] = _obj(
    {
        "type": {"enum": ["web", "worker", "cron"]},
        "state": {"enum": ["active", "paused"]},
        "image": _STR,
        "command": _ARGUMENTS,
        "args": _ARGUMENTS,
        "resources": _obj(
            {
                "cpu_request": _QUANTITY,
                "memory_request": _QUANTITY,
                "cpu_limit": _QUANTITY,
                "memory_limit": _QUANTITY,
            },
            required=("cpu_request", "memory_request"),
            removable=("cpu_limit", "memory_limit"),
        ),
        "replicas": _INT,
        "autoscaling": _obj(
            {
                "min_replicas": _INT,
                "max_replicas": _INT,
                "target_cpu_percent": _INT,
                "target_memory_percent": _INT,
                "scale_down_cooldown_seconds": _INT,
            },
            required=("min_replicas", "max_replicas"),
            removable=("target_cpu_percent", "target_memory_percent"),
        ),
        "probes": _obj(
            {"startup": _PROBE, "liveness": _PROBE, "readiness": _PROBE},
            removable=("startup", "liveness", "readiness"),
        ),
        "port": _INT,
        "public": _BOOL,
        "hostnames": {"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 253}},
        "cron": _obj({"schedule": _STR, "time_zone": _STR}, required=("schedule",)),
        "volumes": {
            "type": "object",
            "maxProperties": 20,
            "propertyNames": {"pattern": _LABEL},
            "additionalProperties": _obj(
                {
                    "mount_path": _STR,
                    "size": _QUANTITY,
                    "access_mode": {"enum": ["ReadWriteOnce", "ReadWriteMany"]},
                },
                required=("mount_path", "size"),
            ),
            _NULLABLE: "*",
        },
        "drift": _obj(
            {
                "mode": {"enum": ["enforce", "detect", "adopt"]},
                "ignore_fields": {"type": "array", "maxItems": 100, "items": _STR},
            }
        ),
        "var_keys": {
            "type": "object",
            "maxProperties": 100,
            "propertyNames": {"pattern": _VAR_KEY},
            "additionalProperties": _obj(
                {"required": _BOOL, "description": {"type": "string", "maxLength": 500}}
            ),
        },
    },
    required=("type", "resources"),
    removable=("image", "command", "args", "replicas", "autoscaling", "port", "cron"),
)


def strip_annotations(schema: Any) -> Any:
    """``schema`` without this module's private annotations (for publishing it)."""
    if isinstance(schema, dict):
        return {k: strip_annotations(v) for k, v in schema.items() if k != _NULLABLE}
    if isinstance(schema, list):
        return [strip_annotations(v) for v in schema]
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def partial_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` for a merge patch: nothing required, removable fields may be ``null``."""
    result = copy.deepcopy(schema)
    result.pop("required", None)
    removable = result.pop(_NULLABLE, ())
    properties = result.get("properties", {})
    for name, sub in list(properties.items()):
        partial = partial_schema(sub) if sub.get("type") == "object" else sub
        properties[name] = _nullable(partial) if name in removable else partial
    extra = result.get("additionalProperties")
    if isinstance(extra, dict):
        partial = partial_schema(extra)
        result["additionalProperties"] = _nullable(partial) if removable == "*" else partial
    return result


def _without_fixed(schema: dict[str, Any]) -> dict[str, Any]:
    for name in FIXED_FIELDS:
        schema["properties"].pop(name)
    return schema


SPEC_SCHEMA: Final[dict[str, Any]] = strip_annotations(_SPEC_SOURCE)
"""The structure of a service spec's JSON form (draft 2020-12)."""

CHANGES_SCHEMA: Final[dict[str, Any]] = _without_fixed(partial_schema(_SPEC_SOURCE))
"""The structure of a change document: a merge patch over a spec, minus the fixed fields."""
