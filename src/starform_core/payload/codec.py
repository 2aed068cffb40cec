"""Convert the payload to and from JSON-ready structures, canonical bytes and its ETag.

Canonical bytes are RFC 8785 (JSON Canonicalization Scheme): sorted keys, no insignificant
white space, one number format. Same document, same bytes; the ETag is their SHA-256.

Two converters, so that revealing secrets is never an accident:

* :data:`converter`, the default, **redacts**: every :class:`SecretValue` (var group entry
  values) unstructures as ``<redacted>``. It is what audit records, logs and API views use.
* the wire converter reveals the values. Only :func:`to_structure_with_secrets` and
  :func:`to_json` (the exact bytes Starbase serves to the agent) use it.

Structuring is strict: no ``True`` for an integer, no ``"3"`` for 3, no ``5`` for a string, no
string for a list; the error names the type expected, never the value found.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import types
from collections.abc import Callable, Mapping
from typing import Any, Union, get_args, get_origin

import cattrs
import rfc8785
from cattrs.errors import IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from starform_core.model.project import Environment, Project
from starform_core.model.service import Service
from starform_core.model.tenant import TenantKey
from starform_core.model.vargroup import VarGroup, VarGroupAttachment
from starform_core.model.workload import (
    Autoscaling,
    CronSchedule,
    DriftPolicy,
    Probe,
    Probes,
    Resources,
    Volume,
)
from starform_core.payload.document import DesiredState
from starform_core.payload.reuse import interned, reused_project, reused_service
from starform_core.secrets_values import REDACTED, SecretValue

__all__ = [
    "INTERNED",
    "WrongTypeError",
    "converter",
    "etag_of",
    "from_structure",
    "to_json",
    "to_structure",
    "to_structure_with_secrets",
]

_TENANT_FIELDS = ("workspace_id", "project_id", "environment", "service_id")

INTERNED: tuple[type, ...] = (
    Autoscaling,
    CronSchedule,
    DriftPolicy,
    Environment,
    Probe,
    Probes,
    Resources,
    Volume,
    VarGroupAttachment,
)
"""The small parts a payload repeats by the thousand: within one parse, each distinct JSON of
these is structured once and its frozen value shared (:func:`starform_core.payload.reuse.interned`)."""


class WrongTypeError(TypeError):
    """Structuring met a value of the wrong JSON type; the message names the type expected."""


def _strict_int(value: Any, _type: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WrongTypeError("must be an integer")
    return value


def _strict_float(value: Any, _type: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WrongTypeError("must be a number")
    return float(value)


def _strict_str(value: Any, _type: type) -> str:
    if not isinstance(value, str):
        raise WrongTypeError("must be a string")
    return value


def _strict_bool(value: Any, _type: type) -> bool:
    if not isinstance(value, bool):
        raise WrongTypeError("must be true or false")
    return value


@functools.cache
def _members(kind: type[enum.Enum]) -> Mapping[object, enum.Enum]:
    """``kind``'s members by value (one dict look-up per structured enum, not a scan)."""
    return {member.value: member for member in kind}


def _strict_enum(value: Any, kind: type[enum.Enum]) -> enum.Enum:
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        member = _members(kind).get(value)
        if member is not None:
            return member
    raise WrongTypeError("must be one of " + ", ".join(str(member.value) for member in kind))


def _is_enum(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, enum.Enum)


def _is_homogeneous_tuple(kind: Any) -> bool:
    args = get_args(kind)
    return get_origin(kind) is tuple and len(args) == 2 and args[1] is Ellipsis


def _homogeneous_tuple(kind: Any, conv: cattrs.Converter) -> Callable[[Any, Any], tuple[Any, ...]]:
    """``tuple[X, ...]`` from a JSON list only (a string is not a list of characters)."""
    item_type = get_args(kind)[0]
    item_hook = conv.get_structure_hook(item_type)

    def structure(value: Any, _type: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise WrongTypeError("must be a list")
        try:
            return tuple([item_hook(item, item_type) for item in value])
        except Exception:  # noqa: S110 - the walk below finds and notes every failing item
            pass
        errors: list[Exception] = []
        result = []
        for index, item in enumerate(value):
            try:
                result.append(item_hook(item, item_type))
            except Exception as exc:  # collected and re-raised together, as cattrs does
                exc.__notes__ = [*getattr(exc, "__notes__", []), IterableValidationNote("", index, item_type)]
                errors.append(exc)
        if errors:
            raise IterableValidationError("invalid list items", errors, kind)
        return tuple(result)

    return structure


def _is_optional(kind: Any) -> bool:
    args = get_args(kind)
    return get_origin(kind) in (Union, types.UnionType) and len(args) == 2 and type(None) in args


def _optional(kind: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """``X | None``: ``None``, or the value through ``X``'s hook, found once (cattrs' own
    optional hook looks it up again for every value)."""
    (item_type,) = (arg for arg in get_args(kind) if arg is not type(None))
    item_hook = conv.get_structure_hook(item_type)

    def structure(value: Any, _type: Any) -> Any:
        return None if value is None else item_hook(value, item_type)

    return structure


def _structure_secret(value: Any, _type: type) -> SecretValue:
    if not isinstance(value, str):
        raise WrongTypeError("must be a string")
    return SecretValue(value)


def _require_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise WrongTypeError("must be an object")
    return dict(data)


def _make_converter(*, reveal: bool, detailed: bool = True) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=detailed)
    _register_strict_values(conv)
    shown: Callable[[SecretValue], str] = (lambda value: value.reveal()) if reveal else (lambda _v: REDACTED)
    conv.register_unstructure_hook(SecretValue, shown)
    conv.register_structure_hook(SecretValue, _structure_secret)
    _register_var_group(conv, shown)
    _register_interned(conv)  # first: the hooks below look up theirs as they are made
    _register_service(conv)
    _register_project(conv)
    api_version = override(rename="apiVersion")
    conv.register_unstructure_hook(
        DesiredState, make_dict_unstructure_fn(DesiredState, conv, api_version=api_version)
    )
    conv.register_structure_hook(
        DesiredState, make_dict_structure_fn(DesiredState, conv, api_version=api_version)
    )
    return conv


def _register_strict_values(conv: cattrs.Converter) -> None:
    """Scalars, enums, homogeneous tuples and optionals structure strictly (no coercion)."""
    for kind, hook in ((int, _strict_int), (float, _strict_float), (str, _strict_str), (bool, _strict_bool)):
        conv.register_structure_hook(kind, hook)
    conv.register_structure_hook_func(_is_enum, _strict_enum)
    conv.register_structure_hook_factory(_is_homogeneous_tuple, lambda kind: _homogeneous_tuple(kind, conv))
    conv.register_structure_hook_factory(_is_optional, lambda kind: _optional(kind, conv))


def _register_var_group(conv: cattrs.Converter, shown: Callable[[SecretValue], str]) -> None:
    """A var group's entries as an object of names to strings (each value ``shown``)."""
    unstructure_group = make_dict_unstructure_fn(VarGroup, conv)
    structure_group = make_dict_structure_fn(VarGroup, conv)

    def unstructure_var_group(group: VarGroup) -> dict[str, Any]:
        data = unstructure_group(group)
        data["entries"] = {key: shown(value) for key, value in group.entries}
        return data

    def structure_var_group(data: Any, _type: type) -> VarGroup:
        data = _require_object(data)
        entries = data.get("entries")
        if not isinstance(entries, dict):
            raise WrongTypeError("entries must be an object of variable names to strings")
        data["entries"] = [[key, value] for key, value in entries.items()]
        return structure_group(data, VarGroup)

    conv.register_unstructure_hook(VarGroup, unstructure_var_group)
    conv.register_structure_hook(VarGroup, structure_var_group)


def _register_service(conv: cattrs.Converter) -> None:
    """A service with its tenant's fields flat, reusing unchanged services' values; its drift policy."""
    # ``revert`` was added within v1: left out when empty, so payloads without rejected
    # adoptions keep their bytes (and ETags) and older agents see what they always saw
    conv.register_unstructure_hook(
        DriftPolicy, make_dict_unstructure_fn(DriftPolicy, conv, revert=override(omit_if_default=True))
    )
    unstructure_service = make_dict_unstructure_fn(Service, conv)
    structure_service = make_dict_structure_fn(Service, conv)

    def unstructure_service_flat(service: Service) -> dict[str, Any]:
        data = unstructure_service(service)
        tenant = data.pop("tenant")
        return {**tenant, **data}

    def structure_service_fresh(data: Any) -> Service:
        data = _require_object(data)
        data["tenant"] = {name: data.pop(name, None) for name in _TENANT_FIELDS}
        return structure_service(data, Service)

    def structure_service_flat(data: Any, _type: type) -> Service:
        return reused_service(data, structure_service_fresh)

    conv.register_unstructure_hook(Service, unstructure_service_flat)
    conv.register_structure_hook(Service, structure_service_flat)
    conv.register_structure_hook(TenantKey, make_dict_structure_fn(TenantKey, conv))


def _interned_hook(kind: type, conv: cattrs.Converter) -> Callable[[Any, type], Any]:
    structure: Callable[[Any, type], Any] = make_dict_structure_fn(kind, conv)

    def structure_interned(data: Any, _type: type) -> Any:
        return interned(kind, data, structure)

    return structure_interned


def _register_interned(conv: cattrs.Converter) -> None:
    """Each of :data:`INTERNED` structured once per distinct JSON within a parse."""
    for kind in INTERNED:
        conv.register_structure_hook(kind, _interned_hook(kind, conv))


def _register_project(conv: cattrs.Converter) -> None:
    """A project, reusing an unchanged project's value whole."""
    structure_project = make_dict_structure_fn(Project, conv)

    def structure_project_fresh(data: Any) -> Project:
        return structure_project(data, Project)

    def structure_project_reused(data: Any, _type: type) -> Project:
        return reused_project(data, structure_project_fresh)

    conv.register_structure_hook(Project, structure_project_reused)


converter = _make_converter(reveal=False)
"""The default cattrs converter for payload values: strict structuring, and secret values
unstructure as ``<redacted>`` (safe for audit JSON, logs and API views). Tolerates unknown keys
(minor-version additions)."""

_FIRST_TRY = _make_converter(reveal=False, detailed=False)
""":data:`converter` without cattrs' detailed validation (no per-field error notes): the same
hooks, so it accepts and refuses exactly what :data:`converter` does, only faster; a document it
refuses is structured again by :data:`converter`, whose error says where (:func:`from_structure`)."""

_WIRE = _make_converter(reveal=True)
"""The converter that reveals secret values: used only by the two explicitly named functions."""


def _document_first(data: dict[str, Any]) -> dict[str, Any]:
    head = {"apiVersion": data.pop("apiVersion"), "kind": data.pop("kind")}
    return {**head, **data}


def to_structure(document: DesiredState) -> dict[str, Any]:
    """The document as JSON-ready dicts and lists, var group values **redacted**."""
    return _document_first(converter.unstructure(document))


def to_structure_with_secrets(document: DesiredState) -> dict[str, Any]:
    """The document as JSON-ready data with var group values **in plaintext**: only for the
    payload Starbase serves to the agent; never for logs, audit records or API views."""
    return _document_first(_WIRE.unstructure(document))


def from_structure(data: dict[str, Any]) -> DesiredState:
    """Build a document from JSON-ready data (strict types; no schema check, see ``parse_payload``).

    Raises what :data:`converter` raises: cattrs' detailed errors, with the path of each problem.
    """
    try:
        return _FIRST_TRY.structure(data, DesiredState)
    except Exception:  # noqa: S110 - structured again below, which raises the detailed error
        pass
    return converter.structure(data, DesiredState)


def to_json(document: DesiredState) -> bytes:
    """Canonical JSON bytes (RFC 8785) of the document, secret values in plaintext: the exact
    bytes Starbase serves to the agent."""
    return rfc8785.dumps(to_structure_with_secrets(document))


def etag_of(body: bytes) -> str:
    """The payload's ETag: the SHA-256 of its canonical bytes, as hex (unquoted)."""
    return hashlib.sha256(body).hexdigest()
