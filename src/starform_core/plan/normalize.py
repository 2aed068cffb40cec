"""Normalised comparison of a desired object with its live counterpart.

Only fields the desired object sets are compared (server defaults, status and other managers'
fields are invisible), with these equivalences:

* resource quantities under ``requests``/``limits``/``hard``/... compare by amount (``1000m`` = ``1``);
* an int and its decimal string are equal (int-or-string ports: ``8080`` = ``"8080"``);
* a desired empty value (``{}``, ``[]``, ``None``, ``""``, ``0``, ``false``) equals a missing
  live field (the API omits empty values);
* associative lists are matched by merge key (containers by name, env by name, ports by
  port + protocol, volumes by name, volumeMounts by mountPath, ...); other lists are positional;
* a Secret's ``stringData`` is compared base64-encoded against the live ``data``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final

import attrs

from starform_core.kube.associative_lists import ASSOCIATIVE_KEYS
from starform_core.kube.labels import ANNOTATION_DESIRED_HASH
from starform_core.plan.fields import KEY_DEFAULTS, Path
from starform_core.quantity import quantities_equal

__all__ = [
    "MISSING",
    "Comparison",
    "Mismatch",
    "comparable_view",
    "compare",
    "compare_object",
    "is_empty",
    "merge_key",
]


class _Missing:
    """The marker for an absent field."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Stands for a field that is absent (distinct from ``None``)."""

_QUANTITY_PARENTS: Final = frozenset(
    {"requests", "limits", "hard", "capacity", "default", "defaultRequest", "max", "min"}
)
_QUANTITY_LEAVES: Final = frozenset({"sizeLimit", "storage"})
_TOP_LEVEL_SKIPPED: Final = frozenset({"apiVersion", "kind", "status"})
_COMPARED_METADATA: Final = ("labels", "annotations")


@attrs.frozen
class Mismatch:
    """A desired field that does not hold in the live object.

    ``live_path`` is ``None`` when the enclosing list item does not exist in the live object.
    """

    desired_path: Path
    live_path: Path | None
    desired: Any
    live: Any


def merge_key(field: str, item: Any) -> tuple[Any, ...] | None:
    """The identity of ``item`` in the associative list ``field``; ``None`` if positional."""
    if not isinstance(item, Mapping):
        return None
    if field == "ports":
        if "containerPort" in item:
            names: tuple[str, ...] = ("containerPort", "protocol")
        elif "port" in item:
            names = ("port", "protocol")
        else:
            return None
    else:
        found = ASSOCIATIVE_KEYS.get(field)
        if found is None:
            return None
        names = found
    values = []
    for name in names:
        value = item.get(name)
        if value is None:
            value = KEY_DEFAULTS.get(name)
        values.append(str(value) if isinstance(value, int) else value)
    return tuple(values)


def is_empty(value: Any) -> bool:
    """True for values the API omits: ``None``, ``""``, ``0``, ``false``, and empty collections."""
    if value is None or value is False or value == "" or value == 0:
        return True
    if isinstance(value, Mapping):
        return all(is_empty(child) for child in value.values())
    if isinstance(value, list):
        return not value
    return False


def _scalars_equal(desired: Any, live: Any, quantity: bool) -> bool:
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    if desired == live:
        return True
    if isinstance(desired, int | str) and isinstance(live, int | str):
        if isinstance(desired, int) != isinstance(live, int) and str(desired) == str(live):
            return True
        if quantity:
            return quantities_equal(desired, live)
    if isinstance(desired, int | float) and isinstance(live, int | float):
        return float(desired) == float(live)
    return False


@attrs.frozen
class Comparison:
    """The result of comparing a desired object with its live counterpart.

    ``absent`` are desired ``false``/``0``/``""`` scalars missing from the live object: the API
    server drops such values from ``omitempty`` fields, so their absence is drift only when the
    field was applied and then removed (which ``managedFields`` tell, see the planner).
    """

    mismatches: list[Mismatch]
    absent: list[Mismatch]


def _empty_scalar(value: Any) -> bool:
    return value is False or (value == 0 and not isinstance(value, bool)) or value == ""


class _Walker:
    """One comparison: collects mismatches along parallel desired/live paths."""

    __slots__ = ("absent", "out")

    def __init__(self) -> None:
        self.out: list[Mismatch] = []
        self.absent: list[Mismatch] = []

    def absent_within(self, desired: Any, dpath: Path, lpath: Path) -> None:
        """Record the empty scalars of a desired value (empty itself) that is absent live."""
        if isinstance(desired, Mapping):
            for key, child in desired.items():
                self.absent_within(child, (*dpath, key), (*lpath, key))
        elif _empty_scalar(desired):
            self.absent.append(Mismatch(dpath, lpath, desired, MISSING))

    def mapping(self, desired: Mapping[str, Any], live: Any, dpath: Path, lpath: Path, qty: bool) -> None:
        if not isinstance(live, Mapping):
            if (live is MISSING or live is None) and is_empty(desired):
                self.absent_within(desired, dpath, lpath)
                return
            self.out.append(Mismatch(dpath, lpath, desired, live))
            return
        for key, dv in desired.items():
            lv = live.get(key, MISSING)
            if lv is MISSING:
                if not is_empty(dv):
                    self.out.append(Mismatch((*dpath, key), (*lpath, key), dv, MISSING))
                else:
                    self.absent_within(dv, (*dpath, key), (*lpath, key))
                continue
            if dv == lv and type(dv) is type(lv):
                continue
            self.value(key, dv, lv, (*dpath, key), (*lpath, key), qty or key in _QUANTITY_PARENTS)

    def value(self, field: str, dv: Any, lv: Any, dpath: Path, lpath: Path, qty: bool) -> None:
        if isinstance(dv, Mapping):
            self.mapping(dv, lv, dpath, lpath, qty)
        elif isinstance(dv, list):
            self.sequence(field, dv, lv, dpath, lpath, qty)
        elif lv is None and is_empty(dv):
            return
        elif not _scalars_equal(dv, lv, qty or field in _QUANTITY_LEAVES):
            self.out.append(Mismatch(dpath, lpath, dv, lv))

    def sequence(
        self, field: str, desired: list[Any], live: Any, dpath: Path, lpath: Path, qty: bool
    ) -> None:
        if not isinstance(live, list):
            if (live is MISSING or live is None) and not desired:
                return
            self.out.append(Mismatch(dpath, lpath, desired, live))
            return
        keys = [merge_key(field, item) for item in desired]
        if desired and None not in keys and len(set(keys)) == len(keys):
            positions = {merge_key(field, item): index for index, item in enumerate(live)}
            for d_index, (key, item) in enumerate(zip(keys, desired, strict=True)):
                l_index = positions.get(key)
                if l_index is None:
                    self.out.append(Mismatch((*dpath, d_index), None, item, MISSING))
                    continue
                lv = live[l_index]
                if item != lv:
                    self.value(field, item, lv, (*dpath, d_index), (*lpath, l_index), qty)
            return
        if len(desired) != len(live):
            self.out.append(Mismatch(dpath, lpath, desired, live))
            return
        for index, (dv, lv) in enumerate(zip(desired, live, strict=True)):
            if dv != lv or type(dv) is not type(lv):
                if isinstance(dv, list):
                    if isinstance(lv, list) and len(dv) == len(lv):
                        self.sequence(field, dv, lv, (*dpath, index), (*lpath, index), qty)
                    else:
                        self.out.append(Mismatch((*dpath, index), (*lpath, index), dv, lv))
                else:
                    self.value(field, dv, lv, (*dpath, index), (*lpath, index), qty)


def comparable_view(desired: Mapping[str, Any]) -> Mapping[str, Any]:
    """``desired`` as the server stores it: a Secret's ``stringData`` folded into ``data``."""
    if desired.get("kind") != "Secret" or not desired.get("stringData"):
        return desired
    data = dict(desired.get("data") or {})
    for name, text in desired["stringData"].items():
        data[name] = base64.b64encode(str(text).encode()).decode("ascii")
    view = {key: value for key, value in desired.items() if key != "stringData"}
    view["data"] = data
    return view


def compare_object(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[Mismatch]:
    """Every desired field that does not hold in ``live`` (see the module docstring).

    Identity (``apiVersion``, ``kind``, name, namespace), ``status`` and the desired-hash
    annotation are not compared; of the metadata only labels and annotations are.
    """
    return compare(desired, live).mismatches


def compare(desired: Mapping[str, Any], live: Mapping[str, Any]) -> Comparison:
    """Like :func:`compare_object`, also listing desired empty scalars absent from ``live``."""
    walker = _Walker()
    view = comparable_view(desired)
    for key, dv in view.items():
        if key in _TOP_LEVEL_SKIPPED:
            continue
        if key == "metadata":
            live_meta = live.get("metadata") or {}
            for part in _COMPARED_METADATA:
                wanted = (dv or {}).get(part)
                if not wanted:
                    continue
                if part == "annotations" and ANNOTATION_DESIRED_HASH in wanted:
                    wanted = {k: v for k, v in wanted.items() if k != ANNOTATION_DESIRED_HASH}
                got = live_meta.get(part, MISSING)
                if wanted != got:
                    walker.mapping(wanted, got, ("metadata", part), ("metadata", part), False)
            continue
        lv = live.get(key, MISSING)
        if lv is MISSING:
            if not is_empty(dv):
                walker.out.append(Mismatch((key,), (key,), dv, MISSING))
            else:
                walker.absent_within(dv, (key,), (key,))
            continue
        if dv != lv:
            walker.value(key, dv, lv, (key,), (key,), False)
    return Comparison(walker.out, walker.absent)
