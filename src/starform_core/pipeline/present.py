"""How a plan prints: one text form and one JSON form, used by every preview.

Neither shows apply bodies (they may carry secret values); field diffs of Secret data show
only that a key changed.
"""

from __future__ import annotations

from typing import Any

from starform_core.plan import (
    Conflict,
    Create,
    Delete,
    DriftDetected,
    FieldChange,
    Held,
    Plan,
    RemoveFields,
    Update,
)
from starform_core.plan.actions import Action

__all__ = ["action_changes", "plan_document", "plan_lines", "reports_notice"]


def action_changes(action: Action) -> tuple[FieldChange, ...]:
    """The field diffs an action carries (none for creates, deletions, holds and conflicts)."""
    match action:
        case Update(changes=changes) | RemoveFields(changes=changes) | DriftDetected(changes=changes):
            return changes
        case Create() | Delete() | Held() | Conflict():
            return ()


def _managed_by(action: Action) -> str | None:
    """The manager of a conflicting object (the one that is not Shuttle), when it is known."""
    return action.managed_by if isinstance(action, Conflict) else None


def plan_lines(result: Plan) -> list[str]:
    """The text form: one line per action with its field diffs indented, then the summary."""
    lines: list[str] = []
    for action in result.actions:
        manager = _managed_by(action)
        owner = f", managed by {manager}" if manager else ""
        lines.append(f"{action.kind.value:15} {action.key}  ({action.reason.value}{owner})")
        lines.extend(f"    {change}" for change in action_changes(action))
    summary = ", ".join(f"{count} {kind}" for kind, count in result.summary().items() if count)
    lines.append(f"plan: {summary or 'nothing'}")
    if result.prune_held and result.prune.reason is not None:
        lines.append(
            f"prune held ({result.prune.reason.value}): {result.prune.would_delete} of "
            f"{result.prune.owned} owned objects would be deleted"
        )
    return lines


def reports_notice(result: Plan) -> str | None:
    """A notice when the plan holds only reports for a human (held, conflict, drift detected):
    nothing to execute, but something to look at (``None`` otherwise)."""
    if result.executable or result.is_empty:
        return None
    counts: dict[str, int] = {}
    for action in result.actions:
        counts[action.kind.value] = counts.get(action.kind.value, 0) + 1
    listed = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
    return f"notice: nothing to execute; the plan holds only reports for a human ({listed})"


def _change(change: FieldChange) -> dict[str, Any]:
    return {
        "path": change.path,
        "live": change.live,
        "desired": change.desired,
        "redacted": change.redacted,
        "manager": change.manager,
        "time": change.time,
    }


def plan_document(result: Plan) -> dict[str, Any]:
    """The JSON form: summary, prune report and every action with its field diffs."""
    actions = []
    for action in result.actions:
        entry: dict[str, Any] = {
            "kind": action.kind.value,
            "object": str(action.key),
            "apiVersion": action.key.api_version,
            "reason": action.reason.value,
        }
        changes = action_changes(action)
        if changes:
            entry["changes"] = [_change(c) for c in changes]
        if isinstance(action, RemoveFields):
            entry["paths"] = list(action.paths)
        manager = _managed_by(action)
        if manager:
            entry["managedBy"] = manager
        actions.append(entry)
    prune = result.prune
    return {
        "summary": result.summary(),
        "prune": {
            "owned": prune.owned,
            "wouldDelete": prune.would_delete,
            "held": prune.held,
            "reason": prune.reason.value if prune.reason else None,
        },
        "actions": actions,
    }
