"""Convert the payload to and from JSON-ready structures, canonical bytes and its ETag.

Canonical bytes are RFC 8785 (JSON Canonicalization Scheme): sorted keys, no insignificant
white space, one number format. Same document, same bytes; the ETag is their SHA-256.
"""

from __future__ import annotations

import hashlib
from typing import Any

import cattrs
import rfc8785
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from starform_core.model.service import Service
from starform_core.model.tenant import TenantKey
from starform_core.model.vargroup import VarGroup
from starform_core.payload.document import DesiredState
from starform_core.secrets_values import SecretValue

__all__ = ["converter", "etag_of", "from_structure", "to_json", "to_structure"]

converter = cattrs.Converter(forbid_extra_keys=False)
"""The one cattrs converter for payload values (tolerates unknown keys: minor-version additions)."""

_TENANT_FIELDS = ("workspace_id", "project_id", "environment", "service_id")

converter.register_unstructure_hook(SecretValue, lambda value: value.reveal())
converter.register_structure_hook(SecretValue, lambda value, _type: SecretValue(str(value)))

_unstructure_group = make_dict_unstructure_fn(VarGroup, converter)
_structure_group = make_dict_structure_fn(VarGroup, converter)


def _unstructure_var_group(group: VarGroup) -> dict[str, Any]:
    data = _unstructure_group(group)
    data["entries"] = {key: value.reveal() for key, value in group.entries}
    return data


def _structure_var_group(data: dict[str, Any], _type: type) -> VarGroup:
    data = dict(data)
    entries = data.get("entries")
    if isinstance(entries, dict):
        data["entries"] = [[key, value] for key, value in entries.items()]
    return _structure_group(data, VarGroup)


converter.register_unstructure_hook(VarGroup, _unstructure_var_group)
converter.register_structure_hook(VarGroup, _structure_var_group)

_unstructure_service = make_dict_unstructure_fn(Service, converter)
_structure_service = make_dict_structure_fn(Service, converter)


def _unstructure_service_flat(service: Service) -> dict[str, Any]:
    data = _unstructure_service(service)
    tenant = data.pop("tenant")
    return {**tenant, **data}


def _structure_service_flat(data: dict[str, Any], _type: type) -> Service:
    data = dict(data)
    data["tenant"] = {name: data.pop(name, None) for name in _TENANT_FIELDS}
    return _structure_service(data, Service)


converter.register_unstructure_hook(Service, _unstructure_service_flat)
converter.register_structure_hook(Service, _structure_service_flat)
converter.register_structure_hook(TenantKey, make_dict_structure_fn(TenantKey, converter))

converter.register_unstructure_hook(
    DesiredState,
    make_dict_unstructure_fn(DesiredState, converter, api_version=override(rename="apiVersion")),
)
converter.register_structure_hook(
    DesiredState,
    make_dict_structure_fn(DesiredState, converter, api_version=override(rename="apiVersion")),
)


def _document_first(data: dict[str, Any]) -> dict[str, Any]:
    head = {"apiVersion": data.pop("apiVersion"), "kind": data.pop("kind")}
    return {**head, **data}


def to_structure(document: DesiredState) -> dict[str, Any]:
    """The document as JSON-ready dicts and lists (secret values in plaintext: handle with care)."""
    return _document_first(converter.unstructure(document))


def from_structure(data: dict[str, Any]) -> DesiredState:
    """Build a document from JSON-ready data (no schema check; see ``parse_payload``)."""
    return converter.structure(data, DesiredState)


def to_json(document: DesiredState) -> bytes:
    """Canonical JSON bytes (RFC 8785) of the document: the exact bytes Starbase serves."""
    return rfc8785.dumps(to_structure(document))


def etag_of(body: bytes) -> str:
    """The payload's ETag: the SHA-256 of its canonical bytes, as hex (unquoted)."""
    return hashlib.sha256(body).hexdigest()
