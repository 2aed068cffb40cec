"""Schema validation against the official strict OpenAPI schemas, plus a few semantic rules.

One compiled :mod:`jsonschema` validator per kind is built on first use and cached for the
life of the process. Built-in kinds use ``kubernetes_validate``'s strict v1.37 schemas (unknown
fields are rejected, like ``fieldValidation=Strict``); HTTPRoutes use the CRD's
``openAPIV3Schema`` (CEL rules are not evaluated).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import relevance
from referencing import Registry, Resource

from ._json import Obj
from .errors import ApiError
from .resources import ResourceKind
from .schemas import definitions, kind_schema

__all__ = ["check_immutable", "validate"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_MAX_CAUSES = 5


@functools.cache
def _registry() -> Registry[Any]:
    return Resource.from_contents(definitions()) @ Registry()


@functools.cache
def _validator(kind: ResourceKind) -> jsonschema.protocols.Validator:
    schema = kind_schema(kind)
    if kind.is_crd:
        return jsonschema.Draft4Validator(schema)
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def _field(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _cause(error: SchemaError) -> tuple[str, str]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = schema.get("properties", {})
        unknown = sorted(k for k in error.instance if k not in allowed)
        if unknown:
            return _field([*path, unknown[0]]), "field not declared in schema"
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        if missing:
            return _field([*path, missing[0]]), "Required value"
    shown = repr(error.instance)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return _field(path) or "<root>", f"Invalid value: {shown}: {error.message[:200]}"


def _schema_causes(kind: ResourceKind, obj: Obj) -> list[tuple[str, str]]:
    errors = sorted(_validator(kind).iter_errors(obj), key=relevance, reverse=True)
    causes: list[tuple[str, str]] = []
    for error in errors:
        best = error
        while best.context:
            best = sorted(best.context, key=relevance, reverse=True)[0]
        cause = _cause(best)
        if cause not in causes:
            causes.append(cause)
        if len(causes) >= _MAX_CAUSES:
            break
    return causes


def _check_labels(prefix: str, labels: Any, causes: list[tuple[str, str]]) -> None:
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        name = key.rsplit("/", 1)[-1]
        if len(name) > 63 or not _QUALIFIED.match(name):
            causes.append((f"{prefix}", f'Invalid value: "{key}": name part must be a label key'))
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append(
                (
                    f"{prefix}",
                    f'Invalid value: "{value}": a valid label must be <= 63 '
                    "characters of alphanumerics, '-', '_' or '.'",
                )
            )


# kube-apiserver's wording (apimachinery/pkg/util/validation)
_LABEL_TEXT = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS_1035_TEXT = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_SUBDOMAIN_TEXT = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)

_NON_NEGATIVE = {
    "Deployment": ("spec.replicas", "spec.revisionHistoryLimit", "spec.minReadySeconds"),
    "ReplicaSet": ("spec.replicas", "spec.minReadySeconds"),
    "Job": ("spec.parallelism", "spec.completions", "spec.backoffLimit", "spec.activeDeadlineSeconds"),
    "CronJob": (
        "spec.successfulJobsHistoryLimit",
        "spec.failedJobsHistoryLimit",
        "spec.startingDeadlineSeconds",
    ),
}
"""Integer fields kube-apiserver's Go validation requires to be at least 0 (the OpenAPI schema
does not say so)."""


def _name_rule(kind: ResourceKind) -> tuple[re.Pattern[str], int, str]:
    if kind.kind == "Namespace":
        return _DNS_LABEL, 63, _LABEL_TEXT
    if kind.kind == "Service":
        return _DNS_1035, 63, _DNS_1035_TEXT
    return _SUBDOMAIN, 253, _SUBDOMAIN_TEXT


def _name_causes(kind: ResourceKind, name: Any) -> list[tuple[str, str]]:
    pattern, limit, text = _name_rule(kind)
    if not name:
        return [("metadata.name", "Required value: name or generateName is required")]
    if not isinstance(name, str):
        return [("metadata.name", f"Invalid value: {name!r}: {text}")]
    causes = []
    if len(name) > limit:
        causes.append(("metadata.name", f'Invalid value: "{name}": must be no more than {limit} characters'))
    if not pattern.match(name):
        causes.append(("metadata.name", f'Invalid value: "{name}": {text}'))
    return causes


def _non_negative_causes(kind: ResourceKind, obj: Obj) -> list[tuple[str, str]]:
    causes = []
    for field in _NON_NEGATIVE.get(kind.kind, ()):
        value: Any = obj
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            causes.append((field, f"Invalid value: {value}: must be greater than or equal to 0"))
    return causes


def _semantic_causes(kind: ResourceKind, obj: Obj) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    meta = obj.get("metadata") or {}
    causes.extend(_name_causes(kind, meta.get("name")))
    causes.extend(_non_negative_causes(kind, obj))
    _check_labels("metadata.labels", meta.get("labels"), causes)
    if kind.kind in ("Deployment", "ReplicaSet"):
        spec = obj.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not isinstance(selector, dict) or not isinstance(template_labels, dict):
            return causes
        if not selector and not (spec.get("selector") or {}).get("matchExpressions"):
            causes.append(("spec.selector", "Required value"))
        elif any(template_labels.get(k) != v for k, v in selector.items()):
            causes.append(
                (
                    "spec.template.metadata.labels",
                    f"Invalid value: {template_labels!r}: `selector` does not match template `labels`",
                )
            )
    return causes


def validate(kind: ResourceKind, obj: Obj) -> None:
    """Raise ``422 Invalid`` naming the offending fields when ``obj`` breaks the schema."""
    causes = _semantic_causes(kind, obj) + _schema_causes(kind, obj)
    if causes:
        name = str((obj.get("metadata") or {}).get("name") or "")
        raise ApiError.invalid(kind.kind, kind.label, name, causes[:_MAX_CAUSES], group=kind.group)


_IMMUTABLE: dict[str, tuple[tuple[str, ...], ...]] = {
    "Deployment": (("spec", "selector"),),
    "ReplicaSet": (("spec", "selector"),),
    "Job": (("spec", "selector"), ("spec", "completionMode")),
    "Service": (("spec", "clusterIP"),),
    "Secret": (("type",),),
}


def _dig(obj: Obj, path: tuple[str, ...]) -> Any:
    value: Any = obj
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def check_immutable(kind: ResourceKind, old: Obj, new: Obj) -> None:
    """Raise ``422 Invalid`` when an update changes a field the API server treats as immutable."""
    causes: list[tuple[str, str]] = []
    for path in _IMMUTABLE.get(kind.kind, ()):
        before, after = _dig(old, path), _dig(new, path)
        if before != after and before is not None:
            shown = json.dumps(after, separators=(",", ":"))  # Go prints values as JSON
            causes.append((".".join(path), f"Invalid value: {shown}: field is immutable"))
    if causes:
        name = str((new.get("metadata") or {}).get("name") or "")
        raise ApiError.invalid(kind.kind, kind.label, name, causes, group=kind.group)
