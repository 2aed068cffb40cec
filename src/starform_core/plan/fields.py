"""Field paths: JSON pointers, ``Kind:/json/pointer`` ignore rules and managedFields (FieldsV1).

A *path* is a tuple of segments (``str`` map keys, ``int`` list indices) into one concrete object.
FieldsV1 (the server's ``managedFields[].fieldsV1``) names fields structurally: ``f:<name>`` a map
key, ``k:{json}`` an associative-list item by its merge keys, ``v:<json>`` a set item by value,
``i:<n>`` a list item by index, and ``.`` the node itself. :func:`member_paths` resolves such a
tree against a live object into the concrete paths its manager owns.

Ownership follows structured-merge-diff: a manager owns a node only when its tree names it as a
*member*, either a leaf (``{}``) or a node marked with ``.``. A node that only leads to members
below it ("passes through") is not owned by that manager.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

from starform_core.errors import ValidationError

__all__ = [
    "FieldRule",
    "Path",
    "Segment",
    "is_member",
    "item_keys",
    "item_matches",
    "member_paths",
    "parse_rule",
    "resolve_fields_key",
    "to_pointer",
]

Segment: TypeAlias = str | int
"""One step into an object: a map key or a list index."""

Path: TypeAlias = tuple[Segment, ...]
"""A field's location in one concrete object."""

KEY_DEFAULTS: Mapping[str, Any] = {"protocol": "TCP"}
"""Server defaults of merge-key fields (a port's protocol is part of its identity)."""


def _escape(segment: Segment) -> str:
    return str(segment).replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def to_pointer(path: Sequence[Segment]) -> str:
    """The RFC 6901 JSON pointer of ``path`` (``""`` for the whole object)."""
    return "".join("/" + _escape(segment) for segment in path)


@attrs.frozen
class FieldRule:
    """A field Shuttle neither applies nor reports as drift.

    ``kind`` ``None`` matches every kind; a ``*`` segment matches any one key or index. A rule
    also covers everything below the field it names.
    """

    kind: str | None
    segments: tuple[str, ...]

    def matches(self, kind: str, path: Sequence[Segment]) -> bool:
        """True when the rule covers ``path`` (or an ancestor of it) in an object of ``kind``."""
        if self.kind is not None and self.kind != kind:
            return False
        if len(path) < len(self.segments):
            return False
        for want, got in zip(self.segments, path, strict=False):
            if want != "*" and want != str(got):
                return False
        return True

    def __str__(self) -> str:
        return f"{self.kind or '*'}:{to_pointer(self.segments)}"


def parse_rule(text: str) -> FieldRule:
    """Parse ``Kind:/json/pointer`` (``*:`` for any kind) into a :class:`FieldRule`."""
    kind, sep, pointer = text.partition(":")
    if not sep or not kind or not pointer.startswith("/"):
        raise ValidationError("ignore_fields", f"{text!r} must look like 'Deployment:/spec/replicas'")
    segments = tuple(_unescape(token) for token in pointer[1:].split("/"))
    return FieldRule(kind=None if kind == "*" else kind, segments=segments)


def _key_value_equal(item_value: Any, name: str, want: Any) -> bool:
    if item_value is None:
        item_value = KEY_DEFAULTS.get(name)
    return bool(item_value == want or str(item_value) == str(want))


def item_matches(item: Any, keys: Mapping[str, Any]) -> bool:
    """True when a list item carries the merge-key values ``keys`` (``k:{...}`` in FieldsV1)."""
    if not isinstance(item, Mapping):
        return False
    return all(_key_value_equal(item.get(name), name, want) for name, want in keys.items())


def item_keys(body: str) -> Mapping[str, Any] | None:
    """The merge-key values of a ``k:{...}`` FieldsV1 element (its body), or ``None`` if malformed."""
    try:
        keys = json.loads(body)
    except ValueError:
        return None
    return keys if isinstance(keys, Mapping) else None


def _item_by_keys(value: list[Any], body: str) -> tuple[Segment, Any] | None:
    keys = item_keys(body)
    if keys is None:
        return None
    for index, item in enumerate(value):
        if item_matches(item, keys):
            return index, item
    return None


def _item_by_value(value: list[Any], body: str) -> tuple[Segment, Any] | None:
    try:
        want = json.loads(body)
    except ValueError:
        return None
    for index, item in enumerate(value):
        if item == want:
            return index, item
    return None


def resolve_fields_key(key: str, value: Any) -> tuple[Segment, Any] | None:
    """Resolve one FieldsV1 key against a concrete value: ``(segment, child)`` or ``None``.

    Keys that do not parse, or name nothing in ``value``, resolve to ``None``.
    """
    prefix, body = key[:2], key[2:]
    if prefix == "f:":
        if isinstance(value, Mapping) and body in value:
            return body, value[body]
        return None
    if not isinstance(value, list):
        return None
    if prefix == "k:":
        return _item_by_keys(value, body)
    if prefix == "v:":
        return _item_by_value(value, body)
    if prefix == "i:" and body.isdigit():
        index = int(body)
        return (index, value[index]) if index < len(value) else None
    return None


def is_member(node: Any) -> bool:
    """True when a FieldsV1 node makes its manager own the field: a leaf, or marked with ``.``."""
    return not isinstance(node, Mapping) or not node or "." in node


def member_paths(fields: Mapping[str, Any], live: Any) -> Iterator[tuple[Path, bool]]:
    """Every concrete path a FieldsV1 tree makes its manager own in ``live``, with ``True`` for
    leaves (a leaf over a map or list owns it whole when nobody owns anything below it).

    Nodes that only pass through to members below are not yielded; entries naming fields the
    object no longer has are skipped.
    """
    stack: list[tuple[Mapping[str, Any], Any, Path]] = [(fields, live, ())]
    while stack:
        node, value, path = stack.pop()
        for key, child in node.items():
            if key == ".":
                continue
            resolved = resolve_fields_key(str(key), value)
            if resolved is None:
                continue
            segment, child_value = resolved
            child_path = (*path, segment)
            if not isinstance(child, Mapping) or not child:
                yield child_path, True
                continue
            if "." in child:
                yield child_path, False
            stack.append((child, child_value, child_path))
