"""The honest apply outcome, the payload order by (epoch, generation), Starbase's report rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from starform_core.kube.objects import ObjectKey
from starform_core.plan import (
    Conflict,
    Create,
    Delete,
    DriftDetected,
    Held,
    Plan,
    PruneReport,
    Reason,
    Update,
)
from starform_core.reporting import (
    ActionRecord,
    ActionResult,
    ApplyOutcome,
    PayloadVerdict,
    RefusalReason,
    assess_apply,
    judge_payload,
    judge_report,
    next_epoch,
)


def key(kind: str, name: str) -> ObjectKey:
    return ObjectKey(group="apps" if kind == "Deployment" else "", kind=kind, namespace="ns", name=name)


CREATE = Create(key("Deployment", "web"), Reason.MISSING, {"kind": "Deployment"})
UPDATE = Update(key("Service", "web"), Reason.DRIFTED, {"kind": "Service"})
DELETE = Delete(key("ConfigMap", "old"), Reason.ORPHANED)
HELD = Held(key("Secret", "gone"), Reason.MASS_DELETION)
CONFLICT = Conflict(key("ConfigMap", "theirs"), Reason.FOREIGN_OBJECT, "helm")
DRIFT = DriftDetected(key("Deployment", "quiet"), Reason.DRIFTED)


def ok(action: object) -> ActionRecord:
    return ActionRecord(action, ActionResult.OK)  # type: ignore[arg-type]


def test_every_action_succeeded_and_nothing_held_is_applied() -> None:
    the_plan = Plan(actions=(CREATE, UPDATE, DRIFT, DELETE), unchanged=7)
    report = assess_apply(the_plan, [ok(CREATE), ok(UPDATE), ok(DELETE)], epoch=5, generation=42)
    assert report.applied and report.outcome is ApplyOutcome.APPLIED
    assert report.counts["applied"] == 3
    assert report.counts["unchanged"] == 7
    assert report.counts["drift_detected"] == 1, "detect-only drift is reported, not a failure"
    assert report.by_kind["Deployment"] == {"applied": 1, "drift_detected": 1}
    assert report.examples == ()


def test_a_held_deletion_is_never_applied_and_says_why() -> None:
    the_plan = Plan(actions=(CREATE, HELD), prune=PruneReport(owned=40, would_delete=30, held=True))
    report = assess_apply(the_plan, [ok(CREATE)], epoch=1, generation=2)
    assert not report.applied
    assert report.outcome is ApplyOutcome.HELD
    assert report.counts["held"] == 1
    assert report.reasons == {"mass-deletion": 1}
    assert [(e.object, e.state.value, e.reason) for e in report.examples] == [
        ("Secret ns/gone", "held", "mass-deletion")
    ]


def test_an_object_in_the_way_is_held_not_applied() -> None:
    report = assess_apply(Plan(actions=(CONFLICT,)), [], epoch=1, generation=2)
    assert report.outcome is ApplyOutcome.HELD
    assert report.counts["conflicts"] == 1


def test_failures_make_it_partial_or_failed() -> None:
    the_plan = Plan(actions=(CREATE, UPDATE))
    failed = ActionRecord(UPDATE, ActionResult.FAILED, "http-500")
    assert assess_apply(the_plan, [ok(CREATE), failed], epoch=1, generation=1).outcome is ApplyOutcome.PARTIAL
    both = [ActionRecord(CREATE, ActionResult.FAILED, "transport-error"), failed]
    report = assess_apply(the_plan, both, epoch=1, generation=1)
    assert report.outcome is ApplyOutcome.FAILED
    assert report.reasons == {"http-500": 1, "transport-error": 1}


def test_an_action_without_a_result_counts_as_cancelled() -> None:
    report = assess_apply(Plan(actions=(CREATE, UPDATE)), [ok(CREATE)], epoch=1, generation=1)
    assert report.outcome is ApplyOutcome.PARTIAL
    assert report.counts["cancelled"] == 1
    assert report.reasons == {"shutdown": 1}


def test_the_wire_form_carries_no_bodies() -> None:
    wire = assess_apply(Plan(actions=(CREATE, HELD)), [ok(CREATE)], epoch=3, generation=4).to_wire()
    assert wire["outcome"] == "held" and wire["epoch"] == 3 and wire["generation"] == 4
    assert "Deployment" not in str(wire["objects"]), "only what was not applied is named"
    assert "body" not in str(wire)


results = st.sampled_from(list(ActionResult))


@given(st.lists(results, min_size=1, max_size=8), st.booleans())
def test_applied_only_when_every_action_is_ok_and_nothing_is_held(
    outcomes: list[ActionResult], held: bool
) -> None:
    actions = tuple(Create(key("Deployment", f"d{i}"), Reason.MISSING, {}) for i in range(len(outcomes)))
    the_plan = Plan(actions=(*actions, *((HELD,) if held else ())))
    records = [ActionRecord(a, r) for a, r in zip(actions, outcomes, strict=True)]
    report = assess_apply(the_plan, records, epoch=1, generation=1)
    assert report.applied == (all(r is ActionResult.OK for r in outcomes) and not held)
    assert sum(report.counts[name] for name in ("applied", "failed", "skipped", "cancelled")) == len(outcomes)


@pytest.mark.parametrize(
    ("held", "offered", "verdict"),
    [
        (None, (5, 1), PayloadVerdict.FIRST),
        ((5, 10), (5, 10), PayloadVerdict.FORWARD),
        ((5, 10), (5, 11), PayloadVerdict.FORWARD),
        ((5, 10), (5, 9), PayloadVerdict.STALE),
        ((5, 1010), (6, 11), PayloadVerdict.NEW_EPOCH),
        ((6, 11), (5, 1010), PayloadVerdict.STALE_EPOCH),
        ((0, 7), (1, 1), PayloadVerdict.NEW_EPOCH),
    ],
)
def test_payloads_are_ordered_by_epoch_then_generation(
    held: tuple[int, int] | None, offered: tuple[int, int], verdict: PayloadVerdict
) -> None:
    assert judge_payload(held, offered) is verdict


versions = st.tuples(st.integers(0, 10), st.integers(1, 10))


@given(st.lists(versions, min_size=1, max_size=12))
def test_whatever_is_offered_the_held_version_never_goes_backwards(offers: list[tuple[int, int]]) -> None:
    held: tuple[int, int] | None = None
    for offered in offers:
        if judge_payload(held, offered).accepted:
            assert held is None or offered >= held
            held = offered
    assert held == max(offers), "the greatest version offered is the one held"


def test_starbase_refuses_reports_of_another_epoch_or_ahead_of_the_desired_generation() -> None:
    def judge(epoch: int | None, applied: int, attempted: int | None = None) -> RefusalReason | None:
        refusal = judge_report(
            cluster_epoch=100,
            desired_generation=10,
            epoch=epoch,
            applied_generation=applied,
            attempted_generation=attempted,
        )
        return None if refusal is None else refusal.reason

    assert judge(100, 10) is None
    assert judge(None, 10) is None, "an agent from before epochs is judged by its generations"
    assert judge(101, 3) is RefusalReason.EPOCH_AHEAD
    assert judge(99, 3) is RefusalReason.EPOCH_BEHIND
    assert judge(100, 11) is RefusalReason.GENERATION_AHEAD
    assert judge(100, 5, attempted=1010) is RefusalReason.GENERATION_AHEAD


def test_a_new_epoch_is_above_everything_seen_and_not_before_now() -> None:
    assert next_epoch(current=100, highest_reported=0, now_millis=50) == 101
    assert next_epoch(current=100, highest_reported=500, now_millis=50) == 501
    assert next_epoch(current=100, highest_reported=500, now_millis=9000) == 9000
