"""Properties of volume metering end to end on Shuttle's side: random claim histories (bound at
once or after a while, deleted or kept, some bound before Shuttle started) watched by the claim
ledger, closed into snapshots at random tick times, read back as Starbase reads the wire
(``snapshot_of``) and metered. Whatever the ticks, the order of arrival or the retries, each
claim is billed exactly the time it was bound while Shuttle watched, at its capacity: nothing
counted twice, nothing invented."""

from __future__ import annotations

import datetime as dt
import random

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.usage.claims import claim
from tests.usage.pods import T0

from starform_apps.starbase.routes_usage import snapshot_of
from starform_apps.starbase.schemas_billing import UsageSnapshotIn
from starform_core.billing import Meter, UsageSnapshot, billable_span
from starform_core.usage import ClaimLedger, due_windows, snapshot_documents

CLUSTER = "6f0b4c3e-0b8f-4c1e-9a57-1f0d6f3c2a10"
INTERVAL = dt.timedelta(seconds=60)
HORIZON = 1800
US = 10**6
TICKS = st.lists(st.integers(1, HORIZON), min_size=1, max_size=40)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@attrs.frozen
class History:
    """One claim: created, bound (``None``: never), deleted (``None``: kept), in seconds after T0."""

    name: str
    created: int
    bound: int | None
    deleted: int | None
    gib: int


@st.composite
def histories(draw: st.DrawFn) -> list[History]:
    out = []
    for index in range(draw(st.integers(min_value=1, max_value=6))):
        created = draw(st.integers(min_value=-600, max_value=HORIZON - 1))
        bound = created + draw(st.sampled_from([0, 0, 0, 7, 45, 200])) if draw(st.integers(0, 5)) else None
        after = bound if bound is not None else created
        deleted = after + draw(st.integers(min_value=1, max_value=HORIZON)) if draw(st.booleans()) else None
        out.append(History(f"c{index}", created, bound, deleted, draw(st.sampled_from([1, 10, 500]))))
    return out


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _state(history: History, uid: str, at: int) -> dict[str, object]:
    bound = history.bound is not None and history.bound <= at
    return claim(
        history.name,
        uid=uid,
        request=f"{history.gib}Gi",
        phase="Bound" if bound else "Pending",
        created=_at(history.created),
    )


def _uid(index: int) -> str:
    return f"00000000-0000-4000-8000-{index:012d}"


def _events(claims: list[History]) -> list[tuple[int, str, History]]:
    """The watch's events after it starts at 0 (the claims existing then are listed at 0)."""
    events: list[tuple[int, str, History]] = []
    for h in claims:
        if h.deleted is not None and h.deleted <= 0:
            continue
        events.append((max(h.created, 0), "ADDED", h))
        if h.bound is not None and h.bound > 0 and h.bound != h.created:
            events.append((h.bound, "MODIFIED", h))
        if h.deleted is not None:
            events.append((h.deleted, "DELETED", h))
    return sorted(events, key=lambda e: (e[0], e[1] != "ADDED", e[1] == "DELETED"))


def _snapshots(claims: list[History], ticks: list[int]) -> tuple[list[UsageSnapshot], dt.datetime]:
    """Shuttle's snapshots: the ledger fed in time order, windows closed at each tick."""
    uids = {h.name: _uid(index) for index, h in enumerate(claims)}
    ledger, last_end, documents = ClaimLedger(), _at(0), []
    timeline = [(t, "TICK", None) for t in ticks] + _events(claims)
    for at, event, history in sorted(timeline, key=lambda e: (e[0], e[1] == "TICK")):
        if history is not None:
            ledger.observe(event, _state(history, uids[history.name], at), at=_at(at))
            continue
        for window in due_windows(last_end, _at(at), interval=INTERVAL):
            claims_in = ledger.samples(window.start, window.end)
            documents += snapshot_documents(CLUSTER, window, [], agent="prop", claims=claims_in)
            ledger.settle(window.end)
            last_end = window.end
    snapshots = [snapshot_of(CLUSTER, UsageSnapshotIn.model_validate(d)) for d in documents]
    return snapshots, last_end


def _expected_us(history: History, end: dt.datetime) -> int:
    if history.bound is None:
        return 0
    lo = max(_at(history.bound), _at(0))
    hi = min(_at(history.deleted) if history.deleted is not None else end, end)
    return max(0, (hi - lo) // dt.timedelta(microseconds=1))


@SETTINGS
@given(
    claims=histories(), ticks=st.lists(st.integers(1, HORIZON), min_size=1, max_size=40), seed=st.randoms()
)
def test_each_claim_is_billed_its_bound_time_once_in_any_order_with_retries(
    claims: list[History], ticks: list[int], seed: random.Random
) -> None:
    snapshots, end = _snapshots(claims, sorted(set(ticks)))
    arrivals = snapshots + seed.sample(snapshots, k=len(snapshots) // 2)  # retries of some
    seed.shuffle(arrivals)
    meter = Meter()
    billed_bytes = 0
    for snapshot in arrivals:
        for accrual in meter.apply(snapshot):
            billed_bytes += accrual.spans.measure * accrual.sample.storage_bytes
    expected_bytes = 0
    for index, history in enumerate(claims):
        assert meter.covered(CLUSTER, _uid(index)).measure == _expected_us(history, end), history
        expected_bytes += _expected_us(history, end) * history.gib * (1 << 30)
    assert billed_bytes == expected_bytes


@SETTINGS
@given(claims=histories(), ticks=TICKS)
def test_shuttle_itself_reports_each_claim_instant_in_one_snapshot_only(
    claims: list[History], ticks: list[int]
) -> None:
    snapshots, end = _snapshots(claims, sorted(set(ticks)))
    reported: dict[str, int] = {}
    for snapshot in snapshots:
        for sample in snapshot.samples:
            span = billable_span(snapshot, sample)
            assert span is not None, "only bound claims are sent"
            reported[sample.uid] = reported.get(sample.uid, 0) + span[1] - span[0]
    for index, history in enumerate(claims):
        assert reported.get(_uid(index), 0) == _expected_us(history, end), "the plain sum: no overlap"
