"""The contract's JSON Schema and the two validators built from it.

* The **reference** validator (``jsonschema``, pure Python) is the definition: every error the
  contract reports is worded from its errors (see :mod:`.contract`).
* The **compiled** validator (``jsonschema-rs``, Rust) is the fast path: it answers only "valid
  or not". :func:`compiled_accepts` is ``True`` only when the compiled validator accepted the
  data; anything else (a rejection, data it cannot convert, any exception) sends the caller to
  the reference validator, which then decides and words the error.

Both are built from the same schema file, with the same named formats (:data:`SCHEMA_FORMATS`, the
same domain checks behind them) and the same view of every other format (an annotation, never
checked: the reference's format checker knows only the schema's own names). Patterns run on
``fancy-regex`` in the compiled validator (look-ahead, as every pattern's ``$(?!\\n)`` ending
needs) and on Python's ``re`` in the reference; the differential tests
(``tests/contract/test_fast_validation.py``) prove they accept exactly the same documents. The
compiled validator resolves no remote reference (``offline``): the schema has none.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any, Final

import jsonschema
import jsonschema_rs

from starform_core.errors import ValidationError
from starform_core.model.networks import check_egress_network
from starform_core.model.schedule import check_cron_schedule, check_time_zone
from starform_core.quantity import check_quantity
from starform_core.validation import check_image_reference, check_qualified_name

__all__ = [
    "SCHEMA_FORMATS",
    "SCHEMA_RESOURCE",
    "compiled_accepts",
    "compiled_validator",
    "payload_schema",
    "reference_validator",
]

SCHEMA_RESOURCE = "desired-state-v1.schema.json"
"""File name of the JSON Schema, shipped as package data of ``starform_core.payload``."""

SCHEMA_FORMATS: Final[dict[str, Callable[[str, Any], object]]] = {
    "kubernetes-cron-schedule": check_cron_schedule,
    "iana-time-zone": check_time_zone,
    "kubernetes-quantity": check_quantity,
    "egress-network": check_egress_network,
    "image-reference": check_image_reference,
    "qualified-name": check_qualified_name,
}
"""The schema's own ``format`` names and the domain check behind each: the rules a regular
expression cannot state (cron semantics, the tz database, quantity bounds, forbidden networks,
name-length limits). The schema names them; this build enforces them."""


@functools.cache
def _schema_text() -> str:
    return resources.files("starform_core.payload").joinpath(SCHEMA_RESOURCE).read_text("utf-8")


def payload_schema() -> dict[str, Any]:
    """The payload's JSON Schema (draft 2020-12) as a fresh dict."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


def _reference_format(check: Callable[[str, Any], object]) -> Callable[[object], bool]:
    def run(instance: object) -> bool:
        if isinstance(instance, str):
            check("value", instance)
        return True

    return run


@functools.cache
def reference_validator() -> jsonschema.Draft202012Validator:
    """The reference validator: ``jsonschema``'s draft 2020-12, the schema's named formats checked."""
    schema = payload_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    formats = jsonschema.FormatChecker(formats=())
    for name, check in SCHEMA_FORMATS.items():
        formats.checks(name, raises=ValidationError)(_reference_format(check))
    return jsonschema.Draft202012Validator(schema, format_checker=formats)


def _format_names(node: object) -> Iterator[str]:
    """Every ``format`` the schema names (a property called ``format`` has a schema, not a name)."""
    if isinstance(node, dict):
        for key, child in node.items():
            if key == "format" and isinstance(child, str):
                yield child
            else:
                yield from _format_names(child)
    elif isinstance(node, list):
        for child in node:
            yield from _format_names(child)


def _compiled_format(check: Callable[[str, Any], object]) -> Callable[[str], bool]:
    def run(instance: str) -> bool:
        try:
            check("value", instance)
        except ValidationError:
            return False
        return True

    return run


def _annotation(_instance: str) -> bool:
    """A format the reference does not check (its checker knows only the schema's own names)."""
    return True


@functools.cache
def compiled_validator() -> jsonschema_rs.Validator:
    """The compiled (``jsonschema-rs``) validator of the same schema, with the same formats."""
    schema = payload_schema()
    formats: dict[str, Callable[[str], bool]] = dict.fromkeys(_format_names(schema), _annotation)
    formats.update((name, _compiled_format(check)) for name, check in SCHEMA_FORMATS.items())
    return jsonschema_rs.Draft202012Validator(
        schema,
        formats=formats,
        validate_formats=True,
        ignore_unknown_formats=False,
        pattern_options=jsonschema_rs.FancyRegexOptions(),
        offline=True,
    )


def compiled_accepts(data: object) -> bool:
    """True only when the compiled validator accepts ``data``; ``False`` means "ask the reference"
    (a rejection, or data it cannot take: a non-JSON value, an unpaired surrogate, a failing
    check)."""
    try:
        return compiled_validator().is_valid(data)
    except Exception:  # the accelerator never decides a rejection: the reference does
        return False
