"""A template: a named, versioned service blueprint with the changes a user may make to it.

Its JSON form (what ``starbase template publish FILE`` reads and the API serves)::

    {"name": "minecraft-server", "version": 2, "title": "Minecraft server (Java edition)",
     "description": "...", "spec": {...a service spec...}, "allowed_mutations": {...JSON Schema...}}

A published version never changes (Starbase stores it immutably); :attr:`Template.digest`
identifies its content, so loading the same file twice is a no-op and loading another content
under a published version is refused.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

import attrs
import rfc8785
from jsonschema.protocols import Validator

from starform_core.errors import TemplateError, ValidationError
from starform_core.templates.rules import check_rules, rules_validator
from starform_core.templates.schema_errors import problems_of
from starform_core.templates.spec import ServiceSpec, spec_from_json, spec_to_json
from starform_core.validation import check_dns1035_label, check_range, check_text

__all__ = [
    "DESCRIPTION_MAX",
    "TEMPLATE_NAME_MAX",
    "TITLE_MAX",
    "Template",
    "TemplateRef",
    "template_from_json",
    "template_to_json",
]

TEMPLATE_NAME_MAX: Final = 40
"""Template names are DNS-1035 labels of at most 40 characters."""
TITLE_MAX: Final = 100
"""The longest title."""
DESCRIPTION_MAX: Final = 2000
"""The longest description."""
VERSION_MAX: Final = 2**31 - 1
_KEYS: Final = frozenset({"name", "version", "title", "description", "spec", "allowed_mutations"})


def _check_name(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    check_dns1035_label(attribute.name, value, max_length=TEMPLATE_NAME_MAX)


def _check_version(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(attribute.name, "must be an integer")
    check_range(attribute.name, value, low=1, high=VERSION_MAX)


@attrs.frozen(order=True)
class TemplateRef:
    """Which template (and version) a service was made from."""

    name: str = attrs.field(validator=_check_name)
    version: int = attrs.field(validator=_check_version)

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


def _rules_text(rules: Mapping[str, Any]) -> str:
    return json.dumps(rules, sort_keys=True, separators=(",", ":"))


@functools.lru_cache(maxsize=256)
def _check_rules_text(rules_json: str) -> None:
    """Check a rules document once per content (every stored version is read back through here)."""
    try:
        check_rules(json.loads(rules_json))
    except TemplateError as exc:
        raise TemplateError("/allowed_mutations" + exc.pointer, exc.reason) from exc
    if problems_of(rules_validator(rules_json), {}):
        raise TemplateError("/allowed_mutations", "must accept the spec unchanged (no changes)")


@attrs.frozen
class Template:
    """One version of a template: its spec (the base) and its rules (the allowed mutations)."""

    name: str = attrs.field(validator=_check_name)
    version: int = attrs.field(validator=_check_version)
    title: str = attrs.field(validator=lambda _i, a, v: check_text(a.name, v, max_length=TITLE_MAX))
    spec: ServiceSpec = attrs.field(validator=attrs.validators.instance_of(ServiceSpec))
    allowed_mutations: Mapping[str, Any] = attrs.field(factory=dict)
    description: str = attrs.field(default="")

    @description.validator
    def _check_description(self, attribute: attrs.Attribute[str], value: str) -> None:
        if value:
            check_text(attribute.name, value, max_length=DESCRIPTION_MAX)

    def __attrs_post_init__(self) -> None:
        _check_rules_text(self.rules_json)

    @property
    def ref(self) -> TemplateRef:
        """The template's name and version."""
        return TemplateRef(self.name, self.version)

    @property
    def base(self) -> dict[str, Any]:
        """The spec's canonical JSON form (what changes are merged into)."""
        return spec_to_json(self.spec)

    @property
    def rules_json(self) -> str:
        """The rules as canonical JSON text (the cache key of their compiled validator)."""
        return _rules_text(self.allowed_mutations)

    def validator(self) -> Validator:
        """The compiled validator of the rules (cached by content)."""
        return rules_validator(self.rules_json)

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the canonical JSON (RFC 8785) of everything but the version."""
        content = template_to_json(self)
        content.pop("version")
        return "sha256:" + hashlib.sha256(rfc8785.dumps(content)).hexdigest()

    def __str__(self) -> str:
        return f"template {self.name} v{self.version}"


def template_to_json(template: Template) -> dict[str, Any]:
    """The JSON form of a template (the spec in canonical form)."""
    return {
        "name": template.name,
        "version": template.version,
        "title": template.title,
        "description": template.description,
        "spec": template.base,
        "allowed_mutations": json.loads(template.rules_json),
    }


def _field(data: Mapping[str, Any], key: str, kind: type, default: Any = attrs.NOTHING) -> Any:
    if key not in data:
        if default is attrs.NOTHING:
            raise TemplateError(f"/{key}", "is required")
        return default
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise TemplateError(f"/{key}", f"must be {'an object' if kind is dict else 'a ' + kind.__name__}")
    return value


def template_from_json(data: Any) -> Template:
    """Read a template's JSON form; :class:`TemplateError` names the pointer of the first problem."""
    if not isinstance(data, dict):
        raise TemplateError("", "a template must be a JSON object")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise TemplateError("", "has unknown fields (a template has " + ", ".join(sorted(_KEYS)) + ")")
    try:
        spec = spec_from_json(_field(data, "spec", dict))
    except TemplateError as exc:
        raise TemplateError("/spec" + exc.pointer, exc.reason) from exc
    try:
        return Template(
            name=_field(data, "name", str),
            version=_field(data, "version", int),
            title=_field(data, "title", str),
            description=_field(data, "description", str, ""),
            spec=spec,
            allowed_mutations=_field(data, "allowed_mutations", dict, {}),
        )
    except TemplateError:
        raise
    except ValidationError as exc:
        raise TemplateError(f"/{exc.field}", exc.reason) from exc
