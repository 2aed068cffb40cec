"""The closed set of plan actions and the :class:`Plan` that orders them.

Shuttle executes ``Create``/``Update`` (server-side apply of ``body``), ``RemoveFields`` (a JSON
patch of ``remove`` operations, :meth:`RemoveFields.json_patch`) and ``Delete``. ``Held``,
``Conflict`` and ``DriftDetected`` are reports: nothing is executed for them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar, TypeAlias

import attrs

from starform_core.kube.json_patch import removal_patch
from starform_core.kube.objects import ObjectKey

__all__ = [
    "Action",
    "ActionKind",
    "Conflict",
    "Create",
    "Delete",
    "DriftDetected",
    "FieldChange",
    "Held",
    "Plan",
    "PruneReport",
    "Reason",
    "RemoveFields",
    "Update",
]


class ActionKind(enum.StrEnum):
    """The kinds of action a plan can hold."""

    CREATE = "create"
    UPDATE = "update"
    REMOVE_FIELDS = "remove-fields"
    DELETE = "delete"
    HELD = "held"
    CONFLICT = "conflict"
    DRIFT_DETECTED = "drift-detected"


class Reason(enum.StrEnum):
    """Why an action is in the plan."""

    MISSING = "missing"
    DESIRED_CHANGED = "desired-changed"
    DRIFTED = "drifted"
    AWAITING_ADOPTION = "awaiting-adoption"
    ADDED_OUT_OF_BAND = "added-out-of-band"
    ANNOTATION_CHANGED = "annotation-changed"
    ORPHANED = "orphaned"
    FOREIGN_OBJECT = "foreign-object-in-the-way"
    MASS_DELETION = "mass-deletion"
    STARBASE_UNREACHABLE = "starbase-unreachable"
    PVC_IN_USE = "pvc-in-use"
    NAMESPACE_NOT_EMPTY = "namespace-holds-foreign-objects"
    TARGET_MISSING = "target-missing"
    LIVE_OBJECT_INVALID = "live-object-invalid"


@attrs.frozen
class FieldChange:
    """One field of a diff: where, live → desired, and who last changed it (for drift).

    Values are compact JSON, or ``None`` when the field is absent on that side; for Secret data
    ``redacted`` is set and both values are ``None``: only the key and the fact of a change show.
    """

    path: str
    live: str | None
    desired: str | None
    manager: str | None = None
    time: str | None = None
    redacted: bool = False

    def __str__(self) -> str:
        if self.redacted:
            text = f"{self.path}: changed"
        else:
            text = f"{self.path}: {self.live or '<absent>'} → {self.desired or '<absent>'}"
        if self.manager:
            text += f" (by {self.manager}" + (f" at {self.time})" if self.time else ")")
        return text


@attrs.frozen
class Create:
    """Create a missing object by server-side apply of ``body``."""

    kind: ClassVar[ActionKind] = ActionKind.CREATE
    key: ObjectKey
    reason: Reason
    body: Mapping[str, Any] = attrs.field(repr=False)


@attrs.frozen
class Update:
    """Server-side apply ``body`` (with force) over an existing object.

    ``partial`` marks a field-scoped apply on an object Shuttle does not own (only the fields in
    ``body`` are touched).
    """

    kind: ClassVar[ActionKind] = ActionKind.UPDATE
    key: ObjectKey
    reason: Reason
    body: Mapping[str, Any] = attrs.field(repr=False)
    changes: tuple[FieldChange, ...] = ()
    partial: bool = False


@attrs.frozen
class RemoveFields:
    """Remove fields other managers added to an owned object (JSON pointers into the live object).

    ``paths`` are ordered so that removing them one after the other keeps later indices valid.
    ``guards`` are ``(pointer, value)`` pairs that must still hold for the pointers to mean what
    they meant when planned: the merge-key values of every list item to remove.
    """

    kind: ClassVar[ActionKind] = ActionKind.REMOVE_FIELDS
    key: ObjectKey
    reason: Reason
    paths: tuple[str, ...]
    changes: tuple[FieldChange, ...] = ()
    guards: tuple[tuple[str, Any], ...] = ()

    def json_patch(self) -> list[dict[str, Any]]:
        """The RFC 6902 patch Shuttle sends (``application/json-patch+json``).

        ``test`` operations (the guards) come first: if a list shifted since the plan was made,
        the server refuses the whole patch (422) and the next plan recomputes it. Status writes
        by controllers do not disturb it (no resourceVersion test).
        """
        return removal_patch(self.paths, guards=self.guards)


@attrs.frozen
class Delete:
    """Delete an owned object that is no longer desired (``uid`` as a precondition, if known)."""

    kind: ClassVar[ActionKind] = ActionKind.DELETE
    key: ObjectKey
    reason: Reason
    uid: str | None = None


@attrs.frozen
class Held:
    """A deletion (or field-scoped apply) the plan deliberately does not execute, and why."""

    kind: ClassVar[ActionKind] = ActionKind.HELD
    key: ObjectKey
    reason: Reason


@attrs.frozen
class Conflict:
    """A desired name is taken by an object Shuttle does not own: reported, never taken over."""

    kind: ClassVar[ActionKind] = ActionKind.CONFLICT
    key: ObjectKey
    reason: Reason
    managed_by: str | None = None


@attrs.frozen
class DriftDetected:
    """Out-of-band changes under a detect-only policy (reason ``drifted``), or adoptable ones
    under ``adopt`` (reason ``awaiting-adoption``): reported for Starbase, not reverted."""

    kind: ClassVar[ActionKind] = ActionKind.DRIFT_DETECTED
    key: ObjectKey
    reason: Reason
    changes: tuple[FieldChange, ...] = ()
    uid: str | None = None


Action: TypeAlias = Create | Update | RemoveFields | Delete | Held | Conflict | DriftDetected
"""Every action a plan can hold (a closed set: ``match`` on the classes)."""

EXECUTABLE = frozenset({ActionKind.CREATE, ActionKind.UPDATE, ActionKind.REMOVE_FIELDS, ActionKind.DELETE})


@attrs.frozen
class PruneReport:
    """What the prune step did: how much Shuttle owns, how much it would delete, whether held."""

    owned: int = 0
    would_delete: int = 0
    held: bool = False
    reason: Reason | None = None


@attrs.frozen
class Plan:
    """Ordered actions (apply order, then deletions in reverse order) and counts.

    Objects that need nothing are counted in ``unchanged``, not listed.
    """

    actions: tuple[Action, ...] = ()
    unchanged: int = 0
    prune: PruneReport = PruneReport()

    @property
    def is_empty(self) -> bool:
        """True when the plan holds no action at all (not even a report)."""
        return not self.actions

    @property
    def executable(self) -> tuple[Action, ...]:
        """The actions Shuttle executes (creates, updates, field removals, deletions)."""
        return tuple(action for action in self.actions if action.kind in EXECUTABLE)

    @property
    def prune_held(self) -> bool:
        """True when deletions were held (mass deletion or Starbase unreachable)."""
        return self.prune.held

    def summary(self) -> dict[str, int]:
        """Counts by action kind (every kind present, zeros included) plus ``unchanged``."""
        counts = {kind.value: 0 for kind in ActionKind}
        for action in self.actions:
            counts[action.kind.value] += 1
        counts["unchanged"] = self.unchanged
        return counts
