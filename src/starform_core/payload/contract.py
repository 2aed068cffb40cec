"""The §25.1 contract: the JSON Schema, and parsing bytes into a validated :class:`DesiredState`.

Compatibility policy: a build understands one major ``apiVersion`` (``starform.io/v1``) and
rejects any other major with :class:`UnsupportedApiVersionError`. Within a major version,
unknown fields are tolerated (a newer Starbase may add optional fields); removed fields that would
change meaning are refused (``customer_id``, removed in v1.9). Errors name the JSON pointer of the
first problem and the rule it breaks, and never quote a value: not a var group value at any pointer,
whatever shape the document has, and no other value either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match

from starform_core.errors import ContractError, UnsupportedApiVersionError, ValidationError
from starform_core.gc_pause import collection_paused
from starform_core.payload.codec import WrongTypeError, from_structure
from starform_core.payload.document import API_GROUP, SUPPORTED_MAJOR, DesiredState
from starform_core.payload.reuse import PayloadReuse, interning
from starform_core.payload.schema_validators import (
    SCHEMA_FORMATS,
    SCHEMA_RESOURCE,
    compiled_accepts,
    payload_schema,
    reference_validator,
)
from starform_core.strict_json import loads

__all__ = [
    "PAYLOAD_MAX_BYTES",
    "PAYLOAD_MAX_DEPTH",
    "SCHEMA_FORMATS",
    "SCHEMA_RESOURCE",
    "parse_payload",
    "payload_schema",
    "validate_structure",
]

PAYLOAD_MAX_BYTES: Final = 64 * 1024 * 1024
"""The largest payload :func:`parse_payload` reads (64 MiB)."""

PAYLOAD_MAX_DEPTH: Final = 64
"""The deepest nesting of arrays and objects a payload may have."""


_API_VERSION = re.compile(
    r"(?P<group>[a-z0-9.-]{1,253})/v(?P<major>0|[1-9][0-9]{0,8})(?:(?:alpha|beta)[0-9]{1,9})?"
)
_SECRET_REGION: Final = ("projects", None, "var_groups")
_REQUIRED = re.compile(r"'(?P<name>[^']+)' is a required property")
_GENERIC = "fails the schema's rules"
_END: Final = "$(?!\\n)"
"""How every schema pattern ends: the end of the string in every regex dialect (Python's ``$``
alone also matches before a final newline)."""


def _pointer(parts: Iterable[object]) -> str:
    escaped = (str(part).replace("~", "~0").replace("/", "~1") for part in parts)
    return "".join("/" + part for part in escaped)


def _field_to_parts(field: str) -> list[str]:
    """``services[2].port`` → ``["services", "2", "port"]``."""
    return [part for part in re.split(r"[.\[\]]+", field) if part]


def _type_names(value: object) -> str:
    names = value if isinstance(value, list) else [value]
    return " or ".join(str(name) for name in names)


_RULES: Final[dict[str, Callable[[Any], str]]] = {
    "type": lambda v: f"must be of type {_type_names(v)}",
    "enum": lambda v: "must be one of " + ", ".join(json.dumps(item) for item in v),
    "const": lambda v: f"must be {json.dumps(v)}",
    "pattern": lambda v: "must match the pattern " + v.removeprefix("^").removesuffix(_END),
    "minLength": lambda v: f"must be at least {v} characters",
    "maxLength": lambda v: f"must be at most {v} characters",
    "minItems": lambda v: f"must have at least {v} items",
    "maxItems": lambda v: f"must have at most {v} items",
    "minProperties": lambda v: f"must have at least {v} properties",
    "maxProperties": lambda v: f"must have at most {v} properties",
    "minimum": lambda v: f"must be at least {v}",
    "maximum": lambda v: f"must be at most {v}",
    "uniqueItems": lambda _v: "items must be unique",
    "oneOf": lambda _v: "matches none of the allowed forms",
}


def _schema_reason(error: SchemaError) -> str:
    """What rule ``error`` broke, in words that never quote the value (it may be a secret)."""
    if error.validator == "not" and isinstance(error.instance, dict) and "customer_id" in error.instance:
        return (
            "customer_id was removed in v1.9; identity is workspace_id, project_id, environment, service_id"
        )
    if error.validator == "format" and isinstance(error.cause, ValidationError):
        return error.cause.reason
    if error.validator == "oneOf" and error.context and all(e.validator == "type" for e in error.context):
        return _RULES["type"]([e.validator_value for e in error.context])
    rule = _RULES.get(str(error.validator))
    reason = rule(error.validator_value) if rule is not None else _GENERIC
    if "propertyNames" in error.absolute_schema_path:
        return f"every key {reason}"
    return reason


def _check_api_version(data: dict[str, Any]) -> None:
    version = data.get("apiVersion")
    if not isinstance(version, str):
        raise ContractError("/apiVersion", "is required and must be a string such as 'starform.io/v1'")
    match = _API_VERSION.fullmatch(version)
    if match is None or match["group"] != API_GROUP:
        raise UnsupportedApiVersionError(
            "/apiVersion", f"must be a {API_GROUP} version such as {API_GROUP}/v1"
        )
    if int(match["major"]) != SUPPORTED_MAJOR:
        raise UnsupportedApiVersionError(
            "/apiVersion",
            f"major version v{match['major']} is not supported; this build reads "
            f"{API_GROUP}/v{SUPPORTED_MAJOR}",
        )


def _secret_values(data: object) -> Iterator[str]:
    """Every scalar inside any project's ``var_groups``, whatever its shape, as text."""
    projects = data.get("projects") if isinstance(data, dict) else None
    stack: list[object] = (
        [project.get("var_groups") for project in projects or () if isinstance(project, dict)]
        if isinstance(projects, list)
        else []
    )
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            yield node
        elif isinstance(node, int | float) and not isinstance(node, bool):
            yield repr(node)


def _without_secrets(error: ContractError, data: object) -> ContractError:
    """``error``, or a generic one at the var group when its text would carry a var group value.

    The reasons above never quote values; this is the safety net should a rule ever do so.
    """
    text = f"{error.pointer} {error.reason}"
    if not any(len(value) >= 4 and value in text for value in _secret_values(data)):
        return error
    parts = error.pointer.split("/")[1:]
    region = parts[:3] if len(parts) >= 3 and parts[0] == "projects" and parts[2] == "var_groups" else []
    return type(error)(_pointer(region), "a var group breaks the contract (values are not shown)")


def _first_problem(errors: Iterable[SchemaError]) -> SchemaError | None:
    """The most specific error: into ``oneOf`` branches whose type the instance has, deepest first."""
    found = list(errors)
    best: SchemaError | None = best_match(found)
    while best is not None and best.context:
        depth = len(best.absolute_path)
        found = [e for e in best.context if not (e.validator == "type" and len(e.absolute_path) == depth)]
        if not found:
            break
        best = max(found, key=lambda e: len(e.absolute_path))
    if best is not None and best.validator == "pattern":
        # a named format at the same place explains itself better than a regular expression
        path = best.absolute_path
        formats = [e for e in found if e.validator == "format" and e.absolute_path == path]
        best = formats[0] if formats else best
    return best


def validate_structure(data: object) -> None:
    """Check JSON-ready data against the contract; raise :class:`ContractError` on the first problem.

    The compiled validator accepts a valid document fast; a document it does not accept goes to the
    reference validator, which decides and whose errors word the :class:`ContractError` (so the
    errors are the same as without the fast path; see :mod:`.schema_validators`).
    """
    if not isinstance(data, dict):
        raise ContractError("", "the payload must be a JSON object")
    _check_api_version(data)
    if compiled_accepts(data):
        return
    error = _first_problem(reference_validator().iter_errors(data))
    if error is None:
        return
    path = list(error.absolute_path)
    if error.validator == "not" and isinstance(error.instance, dict) and "customer_id" in error.instance:
        path.append("customer_id")
    missing = _REQUIRED.fullmatch(str(error.message)) if error.validator == "required" else None
    if missing is not None:
        path.append(missing["name"])
        raise _without_secrets(ContractError(_pointer(path), "is required"), data)
    raise _without_secrets(ContractError(_pointer(path), _schema_reason(error)), data)


def _leaf_reason(exc: BaseException) -> str:
    if isinstance(exc, WrongTypeError):
        return str(exc)
    return f"invalid value ({type(exc).__name__})"


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
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        return ContractError(_pointer([*path, exc.args[0]]), "is required")
    return ContractError(_pointer(path), _leaf_reason(exc))


def parse_payload(
    body: bytes | str, *, max_bytes: int = PAYLOAD_MAX_BYTES, reuse: PayloadReuse | None = None
) -> DesiredState:
    """Validate a payload's bytes against the contract and return the document.

    The text must be strict JSON (no duplicate keys, ``NaN``, unpaired surrogates, integers over
    20 digits, nesting over :data:`PAYLOAD_MAX_DEPTH`) of at most ``max_bytes``. Raises
    :class:`UnsupportedApiVersionError` for another major version and :class:`ContractError`
    (with the JSON pointer of the first problem) for anything else. No error quotes a value.
    With ``reuse`` (a reader's own :class:`PayloadReuse`), a service whose JSON the last payload
    parsed with it held exactly is not structured again: its value is reused. The result is the
    same either way; only the work differs.
    """
    with collection_paused():  # the tree is acyclic: collections during the parse free nothing
        data = loads(body, max_bytes=max_bytes, max_depth=PAYLOAD_MAX_DEPTH)
        validate_structure(data)
        try:
            if reuse is None:
                return interning(lambda: from_structure(data))
            return reuse.structure(lambda: from_structure(data))
        except (ClassValidationError, IterableValidationError, ValidationError) as exc:
            raise _without_secrets(_locate(exc, []), data) from None
