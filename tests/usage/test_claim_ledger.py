"""The claim ledger: what billing reads from a PersistentVolumeClaim, its bound intervals from
watch events, its samples per window and the snapshots' ``volumes`` on the wire."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.usage.claims import claim
from tests.usage.pods import T0, TENANT, pod, stamp

from starform_core.usage import (
    MAX_PODS,
    ClaimLedger,
    PodLedger,
    UsageWindow,
    claim_facts,
    snapshot_documents,
)

GIB = 1 << 30


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _spans(ledger: ClaimLedger, start: float = 0, end: float = 60) -> list[tuple[object, ...]]:
    return [(s.storage_bytes, s.bound_since, s.bound_until) for s in ledger.samples(_at(start), _at(end))]


def test_facts_read_the_capacity_once_bound_and_the_request_before() -> None:
    bound = claim_facts(claim("data", request="10Gi", capacity="12Gi"))
    pending = claim_facts(claim("data", request="10Gi", phase="Pending"))
    unset = claim_facts(claim("data", request="1G", phase=None))
    assert bound is not None and (bound.phase, bound.storage_bytes) == ("Bound", 12 * GIB)
    assert pending is not None and (pending.phase, pending.storage_bytes) == ("Pending", 10 * GIB)
    assert unset is not None and (unset.phase, unset.storage_bytes) == ("Pending", 10**9)
    assert bound.tenant == TENANT


@pytest.mark.parametrize(
    "manifest",
    [
        claim("foreign", labels={"app": "not-starform"}),
        claim("bad-uid", uid="NOT-A-UID"),
        claim(
            "half-key",
            labels={k: v for k, v in claim("x")["metadata"]["labels"].items() if "service" not in k},
        ),
    ],
    ids=["no-ownership-label", "bad-uid", "no-service-label"],
)
def test_claims_that_are_not_a_starform_services_are_ignored(manifest: dict[str, object]) -> None:
    ledger = ClaimLedger()
    assert claim_facts(manifest) is None
    assert ledger.observe("ADDED", manifest, at=T0) is False
    assert ledger.tracked() == 0


def test_a_size_that_is_not_a_quantity_counts_nothing() -> None:
    facts = claim_facts(claim("data", request="lots", capacity="lots"))
    assert facts is not None and facts.storage_bytes == 0


def test_a_claim_seen_binding_bills_from_then_until_it_is_deleted() -> None:
    ledger = ClaimLedger()
    pending = claim("data", phase="Pending", created=_at(5))
    ledger.observe("ADDED", pending, at=_at(5))
    assert _spans(ledger) == [], "a pending claim holds no storage"
    bound = {**claim("data", capacity="2Gi", created=_at(5)), "metadata": pending["metadata"]}
    ledger.observe("MODIFIED", bound, at=_at(12))
    assert ledger.held() == 1
    assert _spans(ledger) == [(2 * GIB, _at(12), None)]
    assert _spans(ledger, 60, 120) == [(2 * GIB, None, None)]
    ledger.observe("DELETED", bound, at=_at(150))
    assert _spans(ledger, 120, 180) == [(2 * GIB, None, _at(150))]
    assert _spans(ledger, 180, 240) == []
    ledger.settle(_at(180))
    assert ledger.tracked() == 0


def test_a_claim_first_seen_bound_counts_from_its_creation_never_after_it_was_seen() -> None:
    ledger = ClaimLedger()
    ledger.observe("ADDED", claim("old", created=_at(-3600)), at=_at(30))
    ledger.observe("ADDED", claim("clock-skew", created=_at(90)), at=_at(30))
    assert sorted(_spans(ledger, -60, 0), key=str) == [(10 * GIB, None, None)]
    assert sorted((s.bound_since for s in ledger.samples(_at(0), _at(60))), key=str) == [_at(30), None]


def test_a_terminating_claim_still_bills_and_a_lost_one_stops() -> None:
    ledger = ClaimLedger()
    manifest = claim("data", created=T0)
    ledger.observe("ADDED", manifest, at=T0)
    terminating = {**manifest, "metadata": {**manifest["metadata"], "deletionTimestamp": stamp(_at(20))}}
    ledger.observe("MODIFIED", terminating, at=_at(20))
    assert _spans(ledger) == [(10 * GIB, None, None)], "held by pvc-protection: the storage exists"
    lost = {**manifest, "status": {"phase": "Lost"}}
    ledger.observe("MODIFIED", lost, at=_at(40))
    assert _spans(ledger) == [(10 * GIB, None, _at(40))]
    ledger.observe("MODIFIED", manifest, at=_at(70))
    assert _spans(ledger, 60, 120) == [(10 * GIB, _at(70), None)], "bound again: a new interval"
    assert ledger.held() == 1


def test_an_expanded_claim_bills_its_old_size_in_that_window_and_its_new_one_after() -> None:
    ledger = ClaimLedger()
    manifest = claim("data", request="10Gi", created=T0)
    ledger.observe("ADDED", manifest, at=T0)
    ledger.observe("MODIFIED", claim("data", uid=manifest["metadata"]["uid"], capacity="20Gi"), at=_at(30))
    assert _spans(ledger) == [(10 * GIB, None, None)], "less, never more"
    ledger.settle(_at(60))
    assert _spans(ledger, 60, 120) == [(20 * GIB, None, None)]


def test_a_claim_binding_mid_window_bills_its_capacity_not_its_request() -> None:
    ledger = ClaimLedger()
    pending = claim("data", request="10Gi", phase="Pending", created=T0)
    ledger.observe("ADDED", pending, at=T0)
    bound = claim("data", uid=pending["metadata"]["uid"], request="10Gi", capacity="12Gi")
    ledger.observe("MODIFIED", bound, at=_at(20))
    assert _spans(ledger) == [(12 * GIB, _at(20), None)]


def test_snapshots_carry_volumes_beside_pods_and_split_past_the_sample_limit() -> None:
    pods, claims = PodLedger(), ClaimLedger()
    pods.observe("ADDED", pod("web", started=T0), at=T0)
    for n in range(MAX_PODS):
        claims.observe("ADDED", claim(f"c{n}", request="1Gi", created=_at(10)), at=_at(10))
    window = UsageWindow(T0, _at(60))
    documents = snapshot_documents(
        "c1", window, pods.samples(T0, _at(60)), agent="a", claims=claims.samples(T0, _at(60))
    )
    assert [d["snapshot_id"] for d in documents] == [f"c1:{stamp(T0)}", f"c1:{stamp(T0)}@2"]
    assert sum(len(d["pods"]) + len(d.get("volumes", ())) for d in documents) == MAX_PODS + 1
    assert all(len(d["pods"]) + len(d.get("volumes", ())) <= MAX_PODS for d in documents)
    volume = documents[0]["volumes"][0]
    assert volume["phase"] == "Bound" and volume["storage"] == str(GIB)
    assert volume["bound_since"] == stamp(_at(10)) and "bound_until" not in volume
    assert set(volume) >= {"uid", "workspace_id", "project_id", "environment", "service_id"}
    plain = snapshot_documents("c1", window, pods.samples(T0, _at(60)), agent="a")
    assert "volumes" not in plain[0], "a snapshot without claims keeps its shape"
