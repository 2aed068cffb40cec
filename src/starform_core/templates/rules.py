"""The rule language of allowed mutations: JSON Schema (draft 2020-12) over a change document.

A template's ``allowed_mutations`` is a JSON Schema that the user's *effective* changes (a
merge patch over the template's spec, with what equals the spec dropped) must satisfy. It is
evaluated by the ``jsonschema`` library with three additions:

* **Quantities compare as amounts.** ``minQuantity`` and ``maxQuantity`` take a Kubernetes
  quantity (``"100m"``, ``"2"``, ``"8Gi"``) and compare the value as an exact amount
  (``"1500m"`` is within ``"2"``). They also require the value to be a quantity: a ``null``
  (removing a bounded limit) is refused.
* **Closed by default.** The root, and every object rule that names ``properties``, admits only
  the fields it names, unless it says ``additionalProperties``, ``patternProperties`` or
  ``unevaluatedProperties`` itself (``unevaluatedProperties: false`` is added, so ``allOf``
  and ``$ref`` branches still count). Inside ``allOf``/``anyOf``/``oneOf``/``not``/``if`` branches
  nothing is added. A field no rule names cannot be changed; ``{}`` allows no change at all.
* **Domain formats.** ``format`` asserts: ``kubernetes-quantity``, ``image-reference`` (pinned
  by digest), ``kubernetes-cron-schedule``, ``iana-time-zone``, ``qualified-name``,
  ``egress-network``. Any other format name is refused when the template is published.

References are local only (``$ref: "#/$defs/..."``); ``$id`` and dynamic references are refused,
and so is any keyword that is neither JSON Schema's nor one of the two above (a misspelt
``maxQuantiy`` would otherwise allow any value).
A rule's ``description`` is added to the message of a change it refuses.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import jsonschema
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from starform_core.errors import TemplateError
from starform_core.payload.contract import SCHEMA_FORMATS
from starform_core.quantity import parse_quantity
from starform_core.templates.merge import escape_pointer, pointer_of

__all__ = [
    "QUANTITY_KEYWORDS",
    "RULES_DIALECT",
    "RULES_MAX_BYTES",
    "RULES_MAX_DEPTH",
    "check_rules",
    "closed",
    "rules_validator",
]

RULES_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect of allowed mutations (``$schema``, when given, must name it)."""
RULES_MAX_BYTES: Final = 64 * 1024
"""The largest rules document (as compact JSON)."""
RULES_MAX_DEPTH: Final = 32
"""The deepest nesting of a rules document."""
QUANTITY_KEYWORDS: Final = ("minQuantity", "maxQuantity")
"""The keywords this rule language adds to JSON Schema."""

_SINGLE: Final = (
    "additionalProperties",
    "unevaluatedProperties",
    "items",
    "unevaluatedItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
)
_LISTS: Final = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAPS: Final = ("properties", "patternProperties", "$defs", "dependentSchemas")
_STRUCTURAL: Final = (
    "properties",
    "patternProperties",
    "$defs",
    "additionalProperties",
    "items",
    "prefixItems",
)
_OPENERS: Final = ("additionalProperties", "patternProperties", "unevaluatedProperties")
_ROOT: Final = "urn:starform:allowed-mutations"
_ANNOTATIONS: Final = frozenset(
    {
        "$schema",
        "$defs",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "then",
        "else",
        "contentMediaType",
        "contentEncoding",
    }
)
_REFUSED: Final = ("$id", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$vocabulary")


def _amount(value: object) -> Any:
    try:
        return parse_quantity(value)  # type: ignore[arg-type]
    except ValueError:
        return None


def _quantity_rule(*, at_least: bool) -> Callable[[Validator, Any, Any, Any], Iterator[SchemaError]]:
    def check(_validator: Validator, bound: Any, instance: Any, _schema: Any) -> Iterator[SchemaError]:
        amount = _amount(instance) if isinstance(instance, str) else None
        limit = _amount(bound)
        if amount is None or limit is None:
            yield SchemaError("must be a Kubernetes quantity")
        elif (amount < limit) if at_least else (amount > limit):
            yield SchemaError("outside the bound")

    return check


_RulesValidator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator,
    {"minQuantity": _quantity_rule(at_least=True), "maxQuantity": _quantity_rule(at_least=False)},
)


@functools.cache
def _format_checker() -> jsonschema.FormatChecker:
    formats = jsonschema.FormatChecker(formats=())
    for name, check in SCHEMA_FORMATS.items():
        formats.checks(name, raises=ValueError)(_asserting(check))
    return formats


def _asserting(check: Callable[[str, Any], object]) -> Callable[[object], bool]:
    def run(instance: object) -> bool:
        if isinstance(instance, str):
            check("value", instance)
        return True

    return run


def _children(node: Mapping[str, Any], keywords: tuple[str, ...]) -> Iterator[tuple[list[str], Any]]:
    """The subschemas of ``node`` under ``keywords``, with their path below ``node``."""
    for keyword in keywords:
        value = node.get(keyword)
        if keyword in _MAPS and isinstance(value, dict):
            yield from (([keyword, name], sub) for name, sub in value.items())
        elif keyword in _LISTS and isinstance(value, list):
            yield from (([keyword, str(i)], sub) for i, sub in enumerate(value))
        elif keyword in _SINGLE and value is not None:
            yield [keyword], value


def _walk(node: Any, path: list[str]) -> Iterator[tuple[list[str], Mapping[str, Any]]]:
    if not isinstance(node, dict):
        return
    yield path, node
    for step, sub in _children(node, _MAPS + _LISTS + _SINGLE):
        yield from _walk(sub, path + step)


def closed(schema: Mapping[str, Any], *, root: bool = True) -> dict[str, Any]:
    """``schema`` with ``unevaluatedProperties: false`` added where the rule language closes it."""
    node = dict(schema)
    for keyword in _STRUCTURAL:
        value = node.get(keyword)
        if keyword in _MAPS and isinstance(value, dict):
            node[keyword] = {name: _closed_sub(sub) for name, sub in value.items()}
        elif keyword in _LISTS and isinstance(value, list):
            node[keyword] = [_closed_sub(sub) for sub in value]
        elif isinstance(value, dict):
            node[keyword] = _closed_sub(value)
    if (root or "properties" in node) and not any(key in node for key in _OPENERS):
        node["unevaluatedProperties"] = False
    return node


def _closed_sub(schema: Any) -> Any:
    return closed(schema, root=False) if isinstance(schema, dict) else schema


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _check_node(node: Mapping[str, Any], pointer: str) -> None:
    for keyword in _REFUSED:
        if keyword in node:
            raise TemplateError(f"{pointer}/{keyword}", "is not supported (references are local only)")
    for keyword in node:
        if keyword not in _RulesValidator.VALIDATORS and keyword not in _ANNOTATIONS:
            raise TemplateError(
                f"{pointer}/{escape_pointer(keyword)}",
                "is not a keyword of the rule language (a typo would silently allow any change)",
            )
    ref = node.get("$ref")
    if ref is not None and (not isinstance(ref, str) or not ref.startswith("#")):
        raise TemplateError(f"{pointer}/$ref", "must be a local reference such as #/$defs/name")
    fmt = node.get("format")
    if fmt is not None and fmt not in SCHEMA_FORMATS:
        raise TemplateError(f"{pointer}/format", "must be one of " + ", ".join(sorted(SCHEMA_FORMATS)))
    for keyword in QUANTITY_KEYWORDS:
        if keyword in node and (isinstance(node[keyword], bool) or _amount(node[keyword]) is None):
            raise TemplateError(f"{pointer}/{keyword}", "must be a Kubernetes quantity such as 500m or 2Gi")


def check_rules(rules: Any) -> None:
    """Refuse a rules document the language does not accept (:class:`TemplateError`, pointer inside it)."""
    if not isinstance(rules, dict):
        raise TemplateError("", "must be a JSON Schema object")
    if len(json.dumps(rules, separators=(",", ":"))) > RULES_MAX_BYTES:
        raise TemplateError("", f"must be at most {RULES_MAX_BYTES // 1024} KiB of JSON")
    if _depth(rules) > RULES_MAX_DEPTH:
        raise TemplateError("", f"must be nested at most {RULES_MAX_DEPTH} levels deep")
    if rules.get("$schema", RULES_DIALECT) != RULES_DIALECT:
        raise TemplateError("/$schema", f"must be {RULES_DIALECT} (or left out)")
    try:
        _RulesValidator.check_schema(rules)
    except jsonschema.exceptions.SchemaError as exc:
        where = pointer_of(list(exc.path))
        raise TemplateError(where, f"is not valid JSON Schema ({exc.validator} rule)") from exc
    resolver = Registry().with_resource(_ROOT, DRAFT202012.create_resource(rules)).resolver(base_uri=_ROOT)
    for path, node in _walk(rules, []):
        _check_node(node, pointer_of(path))
        if "$ref" in node:
            try:
                resolver.lookup(node["$ref"])
            except Unresolvable as exc:
                raise TemplateError(
                    pointer_of([*path, "$ref"]), "refers to nothing in this document"
                ) from exc


@functools.lru_cache(maxsize=256)
def rules_validator(rules_json: str) -> Validator:
    """The compiled validator of a rules document (given as JSON text, so it can be cached)."""
    rules = closed(json.loads(rules_json))
    validator: Validator = _RulesValidator(rules, format_checker=_format_checker())
    return validator
