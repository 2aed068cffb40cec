"""Field changes as the plan reports them, with every value that may hold a secret redacted.

Redacted (path and manager shown, both values ``None``):

* every field of a Secret: ``data``, ``stringData``, and its labels and annotations too (someone
  running ``kubectl apply`` on it leaves the base64 values in
  ``kubectl.kubernetes.io/last-applied-configuration``; any annotation may carry one);
* the ``kubectl.kubernetes.io/last-applied-configuration`` annotation of any object (it is a copy
  of the object, so it embeds whatever the object holds).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from starform_core.plan.actions import FieldChange
from starform_core.plan.fields import Path, to_pointer
from starform_core.plan.managed import Attribution, ManagerEntry
from starform_core.plan.normalize import MISSING, Mismatch

__all__ = ["LAST_APPLIED", "addition_changes", "field_changes", "is_redacted"]

LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
"""The annotation client-side ``kubectl apply`` keeps a full copy of the object in."""

_VALUE_LIMIT: Final = 200


def is_redacted(kind: str, path: Path) -> bool:
    """True when the value at ``path`` of an object of ``kind`` is never shown."""
    if kind == "Secret":
        return True
    return len(path) >= 3 and path[0] == "metadata" and path[1] == "annotations" and path[2] == LAST_APPLIED


def _show(value: Any) -> str | None:
    if value is MISSING:
        return None
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"


def _who(entry: ManagerEntry | None) -> tuple[str | None, str | None]:
    return (entry.manager, entry.time) if entry else (None, None)


def _redacted_changes(mismatch: Mismatch, path: Path, who: ManagerEntry | None) -> list[FieldChange]:
    """One redacted change per differing key when a whole map differs, else one for ``path``."""
    manager, time = _who(who)
    if isinstance(mismatch.desired, Mapping) or isinstance(mismatch.live, Mapping):
        desired = mismatch.desired if isinstance(mismatch.desired, Mapping) else {}
        live = mismatch.live if isinstance(mismatch.live, Mapping) else {}
        names = sorted(str(k) for k in set(desired) | set(live) if desired.get(k) != live.get(k))
        if names:
            return [
                FieldChange(to_pointer((*path, n)), None, None, manager, time, redacted=True) for n in names
            ]
    return [FieldChange(to_pointer(path), None, None, manager, time, redacted=True)]


def field_changes(
    kind: str, mismatches: Iterable[Mismatch], attribution: Attribution | None = None
) -> list[FieldChange]:
    """Human-readable, secret-redacted changes (live → desired) for ``mismatches``."""
    changes: list[FieldChange] = []
    for mismatch in mismatches:
        path = mismatch.desired_path
        who = attribution.owner(mismatch.live_path) if attribution else None
        if is_redacted(kind, path):
            changes.extend(_redacted_changes(mismatch, path, who))
            continue
        manager, time = _who(who)
        changes.append(
            FieldChange(to_pointer(path), _show(mismatch.live), _show(mismatch.desired), manager, time)
        )
    return changes


def addition_changes(
    kind: str, live: Mapping[str, Any], paths: Iterable[Path], attribution: Attribution
) -> list[FieldChange]:
    """Changes describing fields to remove (live value → absent), secret-redacted."""
    changes = []
    for path in paths:
        manager, time = _who(attribution.owner(path))
        if is_redacted(kind, path):
            changes.append(FieldChange(to_pointer(path), None, None, manager, time, redacted=True))
            continue
        value: Any = live
        for segment in path:
            value = value[segment]
        changes.append(FieldChange(to_pointer(path), _show(value), None, manager, time))
    return changes
