"""JSON Schema errors in words: the pointer of the field and the rule, never the value.

A user's change may carry anything (a pasted token in the wrong field), so a reason describes
the rule (``at most 2``, ``must be one of "easy", "normal"``) from the schema's side only.
Fields a closed object does not name are reported one by one, at their own pointer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import attrs
import jsonschema
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import relevance
from referencing.exceptions import Unresolvable

from starform_core.errors import TemplateError
from starform_core.templates.merge import escape_pointer, pointer_of

__all__ = ["UNKNOWN_REASON", "UNLISTED_REASON", "Problem", "first_error_of", "problems_of", "reason_of"]

UNLISTED_REASON: Final = "is not a field the template lets you change"
"""The reason given for a field a closed rule does not name."""
UNKNOWN_REASON: Final = "is not a field of a service spec"
"""The reason given for a field the spec's structure does not have."""

_CLOSED: Final = ("additionalProperties", "unevaluatedProperties")
_QUANTITY: Final = ("minQuantity", "maxQuantity")


def _listing(values: Any) -> str:
    return ", ".join(json.dumps(value) for value in values)


def _types(value: Any) -> str:
    return " or ".join(value) if isinstance(value, list) else str(value)


_REASONS: Final[dict[str, Callable[[Any], str]]] = {
    "type": lambda v: f"must be of type {_types(v)}",
    "enum": lambda v: "must be one of " + _listing(v),
    "const": lambda v: f"must be {json.dumps(v)}",
    "pattern": lambda v: f"must match the pattern {v}",
    "minLength": lambda v: f"must be at least {v} characters",
    "maxLength": lambda v: f"must be at most {v} characters",
    "minItems": lambda v: f"must have at least {v} items",
    "maxItems": lambda v: f"must have at most {v} items",
    "uniqueItems": lambda _v: "items must be unique",
    "minProperties": lambda v: f"must have at least {v} entries",
    "maxProperties": lambda v: f"must have at most {v} entries",
    "minimum": lambda v: f"at least {v}",
    "maximum": lambda v: f"at most {v}",
    "exclusiveMinimum": lambda v: f"more than {v}",
    "exclusiveMaximum": lambda v: f"less than {v}",
    "multipleOf": lambda v: f"must be a multiple of {v}",
    "minQuantity": lambda v: f"at least {v}",
    "maxQuantity": lambda v: f"at most {v}",
    "required": lambda _v: "is required",
    "not": lambda _v: "takes a form the rules forbid",
    "anyOf": lambda _v: "matches none of the allowed forms",
    "oneOf": lambda _v: "matches none (or more than one) of the allowed forms",
    "propertyNames": lambda _v: "has an entry whose name breaks the rules",
    "false": lambda _v: "may not be set",
}


def reason_of(error: SchemaError) -> str:
    """What rule ``error`` broke, from the schema's side (a ``description`` is added when given)."""
    keyword = str(error.validator)
    if keyword == "format":
        cause = error.cause
        reason = getattr(cause, "reason", None) or f"must be a {error.validator_value}"
    elif keyword in _CLOSED:
        reason = UNLISTED_REASON
    else:
        rule = _REASONS.get(keyword)
        reason = rule(error.validator_value) if rule is not None else f"breaks the rule {keyword}"
        if keyword == "type" and error.instance is None:
            reason = "may not be removed"
        elif keyword in _QUANTITY and not isinstance(error.instance, str):
            reason = f"must stay a Kubernetes quantity, {reason}"
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if isinstance(description, str) and description and keyword not in _CLOSED:
        reason = f"{reason}: {description}"
    return reason


@attrs.frozen(order=True)
class Problem:
    """One broken rule: the JSON pointer of the field, the rule's keyword and the reason."""

    pointer: str
    rule: str
    reason: str


def _unlisted_keys(validator: jsonschema.protocols.Validator, error: SchemaError) -> list[str]:
    """The keys of the object that the closed schema at ``error`` does not admit, one by one."""
    instance = error.instance
    if not isinstance(instance, dict) or not isinstance(error.schema, dict):
        return []
    node = validator.evolve(schema=error.schema)
    unlisted = []
    for key, value in instance.items():
        try:
            single = node.iter_errors({key: value})
            if any(e.validator in _CLOSED and not e.path for e in single):
                unlisted.append(str(key))
        except (jsonschema.exceptions.SchemaError, Unresolvable):
            return []
    return unlisted


def _leaves(error: SchemaError) -> Iterator[SchemaError]:
    """The deepest errors under a combinator, or the error itself."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        deepest = max(len(e.absolute_path) for e in error.context)
        if deepest > len(error.absolute_path):
            for sub in error.context:
                if len(sub.absolute_path) == deepest:
                    yield from _leaves(sub)
            return
    yield error


def problems_of(
    validator: jsonschema.protocols.Validator, instance: Any, *, unlisted: str = UNLISTED_REASON
) -> list[Problem]:
    """Every broken rule of ``instance``, by pointer (each field once, its most relevant rule).

    ``unlisted`` is the reason given for a field a closed object does not name.
    """
    found: dict[str, Problem] = {}
    errors: Iterable[SchemaError] = sorted(validator.iter_errors(instance), key=relevance)
    for top in errors:
        for error in _leaves(top):
            base = pointer_of(list(error.absolute_path))
            if error.validator in _CLOSED:
                keys = _unlisted_keys(validator, error)
                pointers = [f"{base}/{escape_pointer(k)}" for k in keys] or [base]
                for pointer in pointers:
                    found.setdefault(pointer, Problem(pointer, str(error.validator), unlisted))
                continue
            if error.validator == "required":
                names: list[str] = list(error.validator_value)  # type: ignore[arg-type]
                present = error.instance if isinstance(error.instance, dict) else {}
                missing = [name for name in names if name not in present]
                base += "/" + escape_pointer(missing[0]) if missing else ""
            found.setdefault(base, Problem(base, str(error.validator), reason_of(error)))
    return [found[pointer] for pointer in sorted(found)]


def first_error_of(validator: jsonschema.protocols.Validator, instance: Any) -> TemplateError | None:
    """The first structural problem of ``instance`` (by pointer) as a :class:`TemplateError`."""
    problems = problems_of(validator, instance, unlisted=UNKNOWN_REASON)
    if not problems:
        return None
    return TemplateError(problems[0].pointer, problems[0].reason)
