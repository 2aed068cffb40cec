"""Classify one apply attempt: the plan's reports and the results of its executed actions."""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from starform_core.plan import Conflict, DriftDetected, Held, Plan
from starform_core.plan.actions import Action

__all__ = [
    "EXAMPLES_MAX",
    "ActionRecord",
    "ActionResult",
    "ApplyOutcome",
    "ApplyReport",
    "NotApplied",
    "ObjectState",
    "assess_apply",
]

EXAMPLES_MAX: Final = 20
"""At most this many objects that were not applied are named in a report (the counts are complete)."""


class ActionResult(enum.StrEnum):
    """What became of one executable action."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    """Not attempted: something it depends on failed in the same apply."""
    CANCELLED = "cancelled"
    """Not attempted: the agent was shutting down."""


class ApplyOutcome(enum.StrEnum):
    """The outcome of an apply attempt, from best to worst."""

    APPLIED = "applied"
    """Every action succeeded and nothing was held: the generation is in effect."""
    HELD = "held"
    """Every executed action succeeded, but something was held or is in the way (a conflict)."""
    PARTIAL = "partial"
    """Some actions succeeded, some failed, were skipped or cancelled."""
    FAILED = "failed"
    """Actions were attempted and none succeeded."""


class ObjectState(enum.StrEnum):
    """Why one object of the plan is not (yet) as desired."""

    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    HELD = "held"
    CONFLICT = "conflict"


@attrs.frozen
class ActionRecord:
    """One executed action, its result and (when it did not succeed) why: ``http-503``,
    ``transport-error``, ``dependency-failed``, ``shutdown``."""

    action: Action
    result: ActionResult
    reason: str = ""


@attrs.frozen
class NotApplied:
    """An object the attempt did not bring to its desired state."""

    object: str
    kind: str
    state: ObjectState
    reason: str


def _frozen_counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return dict(sorted(value.items()))


@attrs.frozen(kw_only=True)
class ApplyReport:
    """The honest account of one apply attempt of a payload.

    ``counts`` has one entry per state (``applied``, ``failed``, ``skipped``, ``cancelled``,
    ``held``, ``conflicts``, ``drift_detected``, ``unchanged``); ``by_kind`` the same per
    Kubernetes kind (non-zero only); ``reasons`` counts the objects not applied by reason.
    """

    epoch: int
    generation: int
    outcome: ApplyOutcome
    counts: Mapping[str, int] = attrs.field(converter=_frozen_counts)
    by_kind: Mapping[str, Mapping[str, int]] = attrs.field(factory=dict)
    reasons: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    examples: tuple[NotApplied, ...] = ()

    @property
    def applied(self) -> bool:
        """True when the generation is in effect in full."""
        return self.outcome is ApplyOutcome.APPLIED

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready form agents send (no object bodies, no values)."""
        return {
            "epoch": self.epoch,
            "generation": self.generation,
            "outcome": self.outcome.value,
            "counts": dict(self.counts),
            "by_kind": {kind: dict(counts) for kind, counts in self.by_kind.items()},
            "reasons": dict(self.reasons),
            "objects": [
                {"object": e.object, "kind": e.kind, "state": e.state.value, "reason": e.reason}
                for e in self.examples
            ],
        }


_STATE_OF_RESULT: Final = {
    ActionResult.FAILED: ObjectState.FAILED,
    ActionResult.SKIPPED: ObjectState.SKIPPED,
    ActionResult.CANCELLED: ObjectState.CANCELLED,
}
_COUNT_OF_RESULT: Final = {
    ActionResult.OK: "applied",
    ActionResult.FAILED: "failed",
    ActionResult.SKIPPED: "skipped",
    ActionResult.CANCELLED: "cancelled",
}


class _Tally:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.by_kind: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.reasons: Counter[str] = Counter()
        self.examples: list[NotApplied] = []

    def add(self, action: Action, count: str, state: ObjectState | None, reason: str) -> None:
        self.counts[count] += 1
        self.by_kind[action.key.kind][count] += 1
        if state is None:
            return
        self.reasons[reason] += 1
        if len(self.examples) < EXAMPLES_MAX:
            self.examples.append(NotApplied(str(action.key), action.key.kind, state, reason))


def _report_of(tally: _Tally, action: Action) -> None:
    match action:
        case Held(reason=reason):
            tally.add(action, "held", ObjectState.HELD, reason.value)
        case Conflict(reason=reason):
            tally.add(action, "conflicts", ObjectState.CONFLICT, reason.value)
        case DriftDetected():
            tally.add(action, "drift_detected", None, "")
        case _:
            pass  # executable actions are counted from their results


def _outcome(counts: Counter[str]) -> ApplyOutcome:
    unsuccessful = counts["failed"] + counts["skipped"] + counts["cancelled"]
    if unsuccessful:
        return ApplyOutcome.PARTIAL if counts["applied"] else ApplyOutcome.FAILED
    if counts["held"] or counts["conflicts"]:
        return ApplyOutcome.HELD
    return ApplyOutcome.APPLIED


def assess_apply(
    the_plan: Plan, records: Iterable[ActionRecord], *, epoch: int, generation: int
) -> ApplyReport:
    """The outcome of applying ``the_plan`` (its reports) with ``records`` (its executed actions).

    An executable action without a record counts as cancelled: a plan is applied only when each
    of its actions is accounted for and succeeded.
    """
    tally = _Tally()
    tally.counts["unchanged"] = the_plan.unchanged
    for action in the_plan.actions:
        _report_of(tally, action)
    executed = {id(record.action): record for record in records}
    for action in the_plan.executable:
        record = executed.get(id(action), ActionRecord(action, ActionResult.CANCELLED, "shutdown"))
        state = _STATE_OF_RESULT.get(record.result)
        tally.add(action, _COUNT_OF_RESULT[record.result], state, record.reason or record.result.value)
    for name in ("applied", "failed", "skipped", "cancelled", "held", "conflicts", "drift_detected"):
        tally.counts.setdefault(name, 0)
    return ApplyReport(
        epoch=epoch,
        generation=generation,
        outcome=_outcome(tally.counts),
        counts=dict(tally.counts),
        by_kind={kind: dict(sorted(c.items())) for kind, c in sorted(tally.by_kind.items())},
        reasons=dict(tally.reasons),
        examples=tuple(tally.examples),
    )
