"""The Adopt and observed-cache catalogues in the docs stay in step with the code: every
adoptable field on the payload contract page, every Shuttle event type and Starbase's own event
types, report kinds and adoption statuses on their pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from starform_apps.shuttle.reports import EventType, ReportKind
from starform_core.adopt import ADOPTABLE, AdoptableField
from starform_core.model.enums import AdoptionPolicy, DriftMode
from starform_core.ports.adoptions import AdoptionStatus

DOCS = Path(__file__).resolve().parents[2] / "docs"
CONTRACT = (DOCS / "payload-contract.md").read_text()
STARBASE = (DOCS / "starbase.md").read_text()
SHUTTLE = (DOCS / "operations" / "shuttle.md").read_text()
STARBASE_EVENTS = ("AdoptionPending", "AdoptionAdopted", "AdoptionRejected", "ResourceDeletedExternally")


def _contract_rows() -> str:
    start = CONTRACT.index("### Adopt")
    return CONTRACT[start : CONTRACT.index("## A complete example")]


@pytest.mark.parametrize("field", sorted(ADOPTABLE.values(), key=lambda f: f.rule), ids=lambda f: f.rule)
def test_every_adoptable_field_is_a_row_of_the_contract_page(field: AdoptableField) -> None:
    assert f"| {field.kind} | `{field.pointer}` | `{field.spec_pointer}` |" in _contract_rows()


def test_the_contract_page_lists_no_field_adoption_does_not_cover() -> None:
    rows = [line for line in _contract_rows().splitlines() if line.startswith("| ") and "`/" in line]
    assert len(rows) == len(ADOPTABLE)


def test_every_drift_mode_and_adoption_policy_is_documented() -> None:
    for mode in DriftMode:
        assert f"`{mode.value}`" in CONTRACT
    adoptions = STARBASE[STARBASE.index("## Adoptions") : STARBASE.index("## Observed objects by UID")]
    for policy in AdoptionPolicy:
        assert f"adoption_policy: {policy.value}" in adoptions


@pytest.mark.parametrize("type_", [*[t.value for t in EventType], *STARBASE_EVENTS])
def test_every_event_type_is_documented(type_: str) -> None:
    assert f"`{type_}`" in SHUTTLE or f"`{type_}`" in STARBASE, type_


def test_every_adoption_status_and_report_kind_is_documented() -> None:
    for status in AdoptionStatus:
        assert status.value in STARBASE, status
    for kind in ReportKind:
        assert kind.value.capitalize() in SHUTTLE or kind.value in SHUTTLE, kind
