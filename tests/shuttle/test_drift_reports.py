"""Drift reports (``adopt``): what Shuttle tells Starbase about values waiting for adoption, and
that no var group value ever leaves in one, in any encoding (property, like
``tests/starbase/test_secrets_never_leave.py``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.starbase.test_secrets_never_leave import leaks

from starform_apps.shuttle.journal import ApplyContext
from starform_apps.shuttle.plan_reports import drift_report_of
from starform_apps.shuttle.redact import Redactor
from starform_apps.shuttle.reports import ReportKind
from starform_core.kube.objects import ObjectKey
from starform_core.plan import DriftDetected, FieldChange, Reason

NOW = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
KEY = ObjectKey("apps", "Deployment", "shop", "web-live")
SID = "00000000-0000-4000-8000-000000000001"
VALUES = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=16, max_size=60
)


def _context(secret: str) -> ApplyContext:
    return ApplyContext(
        epoch=7, generation=42, restoring=False, services={KEY: SID}, redact=Redactor([secret])
    )


def test_a_waiting_value_is_reported_with_its_object_uid_and_both_values() -> None:
    action = DriftDetected(
        KEY,
        Reason.AWAITING_ADOPTION,
        (FieldChange("/spec/replicas", "5", "2", manager="kubectl"),),
        uid="0d9c-uid",
    )
    report = drift_report_of(action, _context("unrelated-secret-value"), now=NOW)
    assert report is not None and report.kind is ReportKind.DRIFT
    body = report.body
    assert body["service_id"] == SID and (body["epoch"], body["generation"]) == (7, 42)
    assert body["object"] == {
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web-live",
        "uid": "0d9c-uid",
    }
    assert body["fields"] == [{"path": "/spec/replicas", "live": "5", "desired": "2", "manager": "kubectl"}]


def test_an_object_of_no_known_service_or_only_redacted_fields_is_not_reported() -> None:
    redacted = DriftDetected(
        KEY, Reason.AWAITING_ADOPTION, (FieldChange("/data/x", None, None, redacted=True),)
    )
    assert drift_report_of(redacted, _context("unrelated-secret-value"), now=NOW) is None
    other = DriftDetected(ObjectKey("apps", "Deployment", "shop", "other"), Reason.AWAITING_ADOPTION, ())
    assert drift_report_of(other, _context("unrelated-secret-value"), now=NOW) is None


@settings(max_examples=60, deadline=None)
@given(secret=VALUES, prefix=st.text(max_size=10), as_json=st.booleans())
def test_no_var_group_value_leaves_in_a_drift_report(secret: str, prefix: str, as_json: bool) -> None:
    planted = json.dumps(prefix + secret) if as_json else prefix + secret
    action = DriftDetected(
        KEY,
        Reason.AWAITING_ADOPTION,
        (
            FieldChange("/spec/schedule", planted, json.dumps(secret), manager="kubectl"),
            FieldChange("/spec/replicas", "3", "1"),
        ),
        uid="uid-1",
    )
    report = drift_report_of(action, _context(secret), now=NOW)
    assert report is not None
    text = json.dumps(report.body)
    assert leaks(secret, text) == []
    assert json.dumps(report.body, ensure_ascii=False).count(secret) == 0
