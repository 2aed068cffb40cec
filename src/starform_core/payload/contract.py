"""The §25.1 contract: the JSON Schema, and parsing bytes into a validated :class:`DesiredState`.

Compatibility policy: a build understands one major ``apiVersion`` (``starform.io/v1``) and
rejects any other major with :class:`UnsupportedApiVersionError`. Within a major version,
unknown fields are tolerated (a newer Starbase may add optional fields); removed fields that would
change meaning are refused (``customer_id``, removed in v1.9). Errors name the JSON pointer of the
first problem and never quote secret values.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from importlib import resources
from typing import Any

import jsonschema
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match

from starform_core.errors import ContractError, UnsupportedApiVersionError, ValidationError
from starform_core.payload.codec import from_structure
from starform_core.payload.document import API_GROUP, SUPPORTED_MAJOR, DesiredState

__all__ = ["SCHEMA_RESOURCE", "parse_payload", "payload_schema", "validate_structure"]

SCHEMA_RESOURCE = "desired-state-v1.schema.json"
"""File name of the JSON Schema, shipped as package data of ``starform_core.payload``."""

_API_VERSION = re.compile(r"^(?P<group>[a-z0-9.-]+)/v(?P<major>[0-9]+)(?:(?:alpha|beta)[0-9]+)?$")
_SECRET_SEGMENT = "entries"
_REQUIRED = re.compile(r"^'(?P<name>[^']+)' is a required property$")


@functools.cache
def _schema_text() -> str:
    return resources.files("starform_core.payload").joinpath(SCHEMA_RESOURCE).read_text("utf-8")


def payload_schema() -> dict[str, Any]:
    """The payload's JSON Schema (draft 2020-12) as a fresh dict."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = payload_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _pointer(parts: Iterable[object]) -> str:
    escaped = (str(part).replace("~", "~0").replace("/", "~1") for part in parts)
    return "".join("/" + part for part in escaped)


def _field_to_parts(field: str) -> list[str]:
    """``services[2].port`` → ``["services", "2", "port"]``."""
    return [part for part in re.split(r"[.\[\]]+", field) if part]


def _schema_reason(error: SchemaError) -> str:
    path = list(error.absolute_path)
    if _SECRET_SEGMENT in path:
        # never quote values from var group entries: they are secrets
        return f"fails the schema's {error.validator!r} rule"
    if error.validator == "not" and isinstance(error.instance, dict) and "customer_id" in error.instance:
        return (
            "customer_id was removed in v1.9; identity is workspace_id, project_id, environment, service_id"
        )
    message = str(error.message)
    return message if len(message) <= 200 else message[:197] + "..."


def _check_api_version(data: dict[str, Any]) -> None:
    version = data.get("apiVersion")
    if not isinstance(version, str):
        raise ContractError("/apiVersion", "is required and must be a string such as 'starform.io/v1'")
    match = _API_VERSION.match(version)
    if match is None or match["group"] != API_GROUP:
        raise UnsupportedApiVersionError("/apiVersion", f"{version!r} is not a {API_GROUP} version")
    if int(match["major"]) != SUPPORTED_MAJOR:
        raise UnsupportedApiVersionError(
            "/apiVersion",
            f"major version v{match['major']} is not supported; this build reads "
            f"{API_GROUP}/v{SUPPORTED_MAJOR}",
        )


def validate_structure(data: object) -> None:
    """Check JSON-ready data against the contract; raise :class:`ContractError` on the first problem."""
    if not isinstance(data, dict):
        raise ContractError("", "the payload must be a JSON object")
    _check_api_version(data)
    error = best_match(_validator().iter_errors(data))
    if error is None:
        return
    path = list(error.absolute_path)
    if error.validator == "not" and isinstance(error.instance, dict) and "customer_id" in error.instance:
        path.append("customer_id")
    missing = _REQUIRED.match(str(error.message)) if error.validator == "required" else None
    if missing is not None:
        path.append(missing["name"])
        raise ContractError(_pointer(path), "is required")
    raise ContractError(_pointer(path), _schema_reason(error))


def _locate(exc: BaseException, path: list[str]) -> ContractError:
    """Turn cattrs' nested validation errors into the pointer of the first leaf problem."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        for sub in exc.exceptions:
            notes = [
                note
                for note in getattr(sub, "__notes__", [])
                if isinstance(note, AttributeValidationNote | IterableValidationNote)
            ]
            step: list[str] = []
            for note in notes:
                step.append(str(note.name if isinstance(note, AttributeValidationNote) else note.index))
            step = [part for part in step if part != "tenant"]
            return _locate(sub, path + step)
        return ContractError(_pointer(path), "invalid value")
    if isinstance(exc, ValidationError):
        parts = [part for part in _field_to_parts(exc.field) if part != "tenant"]
        return ContractError(_pointer(path + parts), exc.reason)
    return ContractError(_pointer(path), f"invalid value ({type(exc).__name__})")


def parse_payload(body: bytes | str) -> DesiredState:
    """Validate a payload's bytes against the contract and return the document.

    Raises :class:`UnsupportedApiVersionError` for another major version and
    :class:`ContractError` (with the JSON pointer of the first problem) for anything else.
    """
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ContractError(
            "", f"not valid JSON ({type(exc).__name__} at position {getattr(exc, 'pos', '?')})"
        ) from None
    validate_structure(data)
    try:
        return from_structure(data)
    except (ClassValidationError, IterableValidationError, ValidationError) as exc:
        raise _locate(exc, []) from None
