"""Label and field selectors, parsed from their query-string form.

Label selectors support ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``,
``k`` (exists) and ``!k`` (does not exist), comma-separated and ANDed. Field selectors support
``=``, ``==`` and ``!=`` on ``metadata.name``, ``metadata.namespace`` and a few well-known
fields (``status.phase``, ``spec.nodeName``, ``type`` for Secrets/Events, ``involvedObject.*``).
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from ._json import Obj
from .errors import ApiError

__all__ = ["FieldSelector", "LabelSelector", "match_label_selector_object"]

_TOKEN = re.compile(
    r"\s*(?:(?P<neg>!)\s*(?P<nkey>[^\s,!=()]+)"
    r"|(?P<key>[^\s,!=()]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,()]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*(?:,|$)"
)


@attrs.frozen
class Requirement:
    """One clause of a label selector."""

    key: str
    operator: str
    values: tuple[str, ...] = attrs.field(default=(), kw_only=True)

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether ``labels`` satisfy this clause."""
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "=":
            return present and value == self.values[0]
        if self.operator == "!=":
            return not present or value != self.values[0]
        if self.operator == "in":
            return present and value in self.values
        if self.operator == "notin":
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        return not present


@attrs.frozen
class LabelSelector:
    """A parsed label selector; an empty one matches everything."""

    requirements: tuple[Requirement, ...] = attrs.field(default=(), kw_only=True)

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        """Parse the ``labelSelector`` query parameter (``400 BadRequest`` when malformed)."""
        if not text or not text.strip():
            return cls()
        reqs: list[Requirement] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise ApiError(400, f"unable to parse requirement: {text!r}")
            pos = match.end()
            if match["nkey"]:
                reqs.append(Requirement(match["nkey"], "!exists"))
            elif match["op"]:
                op = "!=" if match["op"] == "!=" else "="
                reqs.append(Requirement(match["key"], op, values=(match["value"],)))
            elif match["setop"]:
                values = tuple(v.strip() for v in match["values"].split(",") if v.strip())
                reqs.append(Requirement(match["key"], match["setop"], values=values))
            else:
                reqs.append(Requirement(match["key"], "exists"))
        return cls(requirements=tuple(reqs))

    def matches(self, obj: Obj) -> bool:
        """Whether the object's labels satisfy every clause."""
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(req.matches(labels) for req in self.requirements)


_FIELD_TOKEN = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$")


def _field_value(obj: Obj, path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@attrs.frozen
class FieldSelector:
    """A parsed field selector over dotted paths of the object."""

    clauses: tuple[tuple[str, str, str], ...] = attrs.field(default=(), kw_only=True)

    @classmethod
    def parse(cls, text: str | None) -> FieldSelector:
        """Parse the ``fieldSelector`` query parameter (``400 BadRequest`` when malformed)."""
        if not text or not text.strip():
            return cls()
        clauses: list[tuple[str, str, str]] = []
        for part in text.split(","):
            match = _FIELD_TOKEN.match(part)
            if match is None:
                raise ApiError(400, f"invalid field selector: {text!r}")
            op = "!=" if match[2] == "!=" else "="
            clauses.append((match[1], op, match[3]))
        return cls(clauses=tuple(clauses))

    def matches(self, obj: Obj) -> bool:
        """Whether every clause holds for ``obj`` (a missing field compares as ``""``)."""
        for path, op, expected in self.clauses:
            value = _field_value(obj, path)
            text = "" if value is None else str(value)
            if (text == expected) != (op == "="):
                return False
        return True


def match_label_selector_object(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Evaluate a ``metav1.LabelSelector`` object (matchLabels/matchExpressions)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in selector.get("matchExpressions") or ():
        req = Requirement(expr["key"], ops[expr["operator"]], values=tuple(expr.get("values") or ()))
        if not req.matches(labels):
            return False
    return True
