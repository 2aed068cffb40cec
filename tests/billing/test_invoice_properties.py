"""Invoice properties: lines add up, the credit never makes anything negative, proration sums to the month."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from starform_core.billing import (
    BillingMonth,
    BuildCharge,
    IntervalSet,
    LineKind,
    PlanPeriod,
    UnbilledUsage,
    UsageKey,
    UsageQuantities,
    compute_invoice,
    load_price_book,
    prorate,
)
from starform_core.billing.months import micros
from starform_core.billing.rating import Resource, quantities_in_units, unit_price
from starform_core.model.enums import Tier
from starform_core.model.tenant import TenantKey

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOOK = load_price_book()
MONTH = BillingMonth(2026, 11)
WORKSPACE = "0d8f6a4e-2c1b-4f7e-8a3d-5b6c7d8e9f01"
PROJECTS = ("1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b", "2f3e4d5c-6b7a-4899-8a1b-2c3d4e5f6a7b")
SERVICE = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
months = st.builds(BillingMonth, st.integers(2026, 2030), st.integers(1, 12))
tiers = st.sampled_from(list(Tier))


def _instant(month: BillingMonth, offset_us: int) -> dt.datetime:
    return month.start + dt.timedelta(microseconds=offset_us)


@st.composite
def plan_history(draw: st.DrawFn, project_id: str) -> list[PlanPeriod]:
    """A project created before or during the month, with up to two tier changes, maybe deleted."""
    length = MONTH.micros
    cuts = sorted(draw(st.lists(st.integers(1, length - 1), unique=True, max_size=3)))
    created = (
        MONTH.start - dt.timedelta(days=3)
        if draw(st.booleans()) or not cuts
        else _instant(MONTH, cuts.pop(0))
    )
    bounds = [created] + [_instant(MONTH, c) for c in cuts]
    deleted = draw(st.booleans()) and len(bounds) > 1
    ends: list[dt.datetime | None] = [*bounds[1:], None]
    if deleted:
        bounds, ends = bounds[:-1], ends[:-1]
        ends[-1] = _instant(MONTH, cuts[-1])
    return [
        PlanPeriod(project_id, WORKSPACE, draw(tiers), b, e, project_name=project_id[:4])
        for b, e in zip(bounds, ends, strict=True)
    ]


@st.composite
def usage_rows(draw: st.DrawFn, project_id: str) -> list[UnbilledUsage]:
    rows = []
    for usage_month in draw(st.lists(st.sampled_from([MONTH, MONTH.previous()]), unique=True, max_size=2)):
        quantities = UsageQuantities(
            pod_us=draw(st.integers(0, 10**13)),
            cpu_milli_us=draw(st.integers(0, 10**16)),
            memory_byte_us=draw(st.integers(0, 10**22)),
            volume_us=draw(st.integers(0, 10**12)),
            storage_byte_us=draw(st.integers(0, 10**22)),
        )
        key = UsageKey(TenantKey(WORKSPACE, project_id, "production", SERVICE), usage_month, draw(tiers))
        rows.append(UnbilledUsage(key, quantities, service_name="web"))
    return rows


@st.composite
def invoices_inputs(draw: st.DrawFn) -> tuple[list[PlanPeriod], list[UnbilledUsage], list[BuildCharge]]:
    plans, usage, builds = [], [], []
    for project_id in PROJECTS[: draw(st.integers(1, 2))]:
        plans.extend(draw(plan_history(project_id)))
        usage.extend(draw(usage_rows(project_id)))
        if draw(st.booleans()):
            tenant = TenantKey(WORKSPACE, project_id, "production", SERVICE)
            builds.append(
                BuildCharge(tenant, MONTH, draw(tiers), draw(st.integers(0, 5000)), service_name="web")
            )
    return plans, usage, builds


@FAST
@given(inputs=invoices_inputs())
def test_lines_add_up_and_the_credit_never_makes_a_total_negative(
    inputs: tuple[list[PlanPeriod], list[UnbilledUsage], list[BuildCharge]],
) -> None:
    plans, usage, builds = inputs
    invoice = compute_invoice(WORKSPACE, MONTH, book=BOOK, plans=plans, usage=usage, builds=builds)
    assert sum(line.amount_minor for line in invoice.lines) == invoice.total_minor
    assert invoice.subtotal_minor - invoice.credit_minor == invoice.total_minor
    assert invoice.total_minor >= 0
    for project_id in PROJECTS:
        lines = [line for line in invoice.lines if line.project_id == project_id]
        charged = sum(x.amount_minor for x in lines if x.kind in (LineKind.USAGE, LineKind.BUILD))
        fees = sum(x.amount_minor for x in lines if x.kind is LineKind.PLAN_FEE)
        credits = [x.amount_minor for x in lines if x.kind is LineKind.PLAN_CREDIT]
        assert len(credits) <= 1
        assert 0 <= -sum(credits) <= charged
        assert sum(x.amount_minor for x in lines) >= fees
        assert all(x.amount_minor >= 0 for x in lines if x.kind is not LineKind.PLAN_CREDIT)


@FAST
@given(inputs=invoices_inputs())
def test_every_usage_line_is_its_exact_quantity_times_price_rounded_once(
    inputs: tuple[list[PlanPeriod], list[UnbilledUsage], list[BuildCharge]],
) -> None:
    plans, usage, _builds = inputs
    invoice = compute_invoice(WORKSPACE, MONTH, book=BOOK, plans=plans, usage=usage)
    expected: dict[tuple[str, str, str, str], Fraction] = {}
    for row in usage:
        prices = BOOK.for_month(row.key.month).prices(row.key.tier)
        for resource, quantity in quantities_in_units(row.quantities, row.key.month).items():
            key = (row.key.tenant.project_id, str(row.key.month), row.key.tier.value, resource.value)
            expected[key] = quantity * Fraction(unit_price(prices, resource)) * 100
    got = {
        (x.project_id, str(x.usage_month), x.tier.value, x.resource.value): x.amount_minor
        for x in invoice.lines
        if x.kind is LineKind.USAGE and x.resource is not None
    }
    assert set(got) == set(expected)
    for key, exact in expected.items():
        assert abs(Fraction(got[key]) - exact) <= Fraction(1, 2)


@FAST
@given(month=months, fee=st.integers(0, 10**9), cut=st.integers(0, 31 * 86400 * 10**6))
def test_proration_at_any_instant_sums_to_the_full_month_price(
    month: BillingMonth, fee: int, cut: int
) -> None:
    origin, length = micros(month.start), month.micros
    instant = origin + cut % (length + 1)
    before = prorate(fee, month, IntervalSet.of(origin, instant))
    after = prorate(fee, month, IntervalSet.of(instant, origin + length))
    assert before + after == fee
    exact = Fraction(fee * (instant - origin), length)
    assert abs(before - exact) <= 1


@FAST
@given(month=months, fee=st.integers(0, 10**7), cuts=st.lists(st.integers(1, 10**6), max_size=6))
def test_proration_over_any_partition_of_the_month_sums_to_the_price(
    month: BillingMonth, fee: int, cuts: list[int]
) -> None:
    origin, length = micros(month.start), month.micros
    points = sorted({origin, origin + length, *(origin + c * length // 10**6 for c in cuts)})
    shares = [prorate(fee, month, IntervalSet.of(a, b)) for a, b in itertools.pairwise(points)]
    assert sum(shares) == fee
    assert all(share >= 0 for share in shares)


@FAST
@given(cut=st.integers(1, MONTH.micros - 1), old=tiers, new=tiers)
def test_a_mid_month_tier_change_bills_each_tier_for_its_part(cut: int, old: Tier, new: Tier) -> None:
    project = PROJECTS[0]
    change = _instant(MONTH, cut)
    plans = [
        PlanPeriod(project, WORKSPACE, old, MONTH.start - dt.timedelta(days=40), change),
        PlanPeriod(project, WORKSPACE, new, change),
    ]
    invoice = compute_invoice(WORKSPACE, MONTH, book=BOOK, plans=plans)
    fees = sum(x.amount_minor for x in invoice.lines if x.kind is LineKind.PLAN_FEE)
    sheet = BOOK.for_month(MONTH)
    old_fee = int(sheet.prices(old).monthly_fee * 100)
    new_fee = int(sheet.prices(new).monthly_fee * 100)
    origin = micros(MONTH.start)
    expected = prorate(old_fee, MONTH, IntervalSet.of(origin, origin + cut)) + prorate(
        new_fee, MONTH, IntervalSet.of(origin + cut, origin + MONTH.micros)
    )
    assert fees == expected
    if old == new:
        assert fees == old_fee
    assert invoice.credit_minor == 0


def test_a_worked_example_with_credit_fee_and_late_usage() -> None:
    """Hobby, whole month: $5 fee; 1 vCPU and 1 GiB for 30 days; $5 credit; one late October line."""
    project = PROJECTS[0]
    tenant = TenantKey(WORKSPACE, project, "production", SERVICE)
    minute = 60 * 10**6
    month_minutes = 30 * 24 * 60
    usage = [
        UnbilledUsage(
            UsageKey(tenant, MONTH, Tier.HOBBY),
            UsageQuantities(
                pod_us=month_minutes * minute,
                cpu_milli_us=1000 * month_minutes * minute,
                memory_byte_us=2**30 * month_minutes * minute,
            ),
            service_name="web",
        ),
        UnbilledUsage(
            UsageKey(tenant, MONTH.previous(), Tier.HOBBY),
            UsageQuantities(pod_us=minute, cpu_milli_us=500 * 100 * minute),
            service_name="web",
        ),
    ]
    plans = [
        PlanPeriod(
            project, WORKSPACE, Tier.HOBBY, dt.datetime(2026, 9, 1, tzinfo=dt.UTC), project_name="shop"
        )
    ]
    invoice = compute_invoice(WORKSPACE, MONTH, book=BOOK, plans=plans, usage=usage)
    amounts = [(x.kind.value, x.description, x.amount_minor) for x in invoice.lines]
    # 43,200 vCPU-minutes x $0.000463 = $20.0016 -> 2000; 43,200 GiB-minutes x $0.000231 = $9.9792 -> 998;
    # late: 50 vCPU-minutes x $0.000463 = $0.02315 -> 2.315 cents -> 2.
    assert amounts == [
        ("plan_fee", "Hobby plan", 500),
        ("usage", "web (production): vCPU-minutes (late usage, 2026-10)", 2),
        ("usage", "web (production): vCPU-minutes", 2000),
        ("usage", "web (production): GiB-minutes", 998),
        ("plan_credit", "Plan credit", -500),
    ]
    assert invoice.total_minor == 500 + 2 + 2000 + 998 - 500
    assert invoice.lines[2].quantity == Decimal("43200.000000")
    assert invoice.lines[2].resource is Resource.VCPU
    assert invoice.price_sheet == "2026-01"


def test_credit_is_capped_at_usage_and_never_touches_the_fee() -> None:
    project = PROJECTS[0]
    tenant = TenantKey(WORKSPACE, project, "production", SERVICE)
    usage = [
        UnbilledUsage(
            UsageKey(tenant, MONTH, Tier.PRO), UsageQuantities(cpu_milli_us=1000 * 60 * 10**6 * 100)
        )
    ]
    plans = [PlanPeriod(project, WORKSPACE, Tier.PRO, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))]
    invoice = compute_invoice(WORKSPACE, MONTH, book=BOOK, plans=plans, usage=usage)
    # 100 vCPU-minutes x $0.00044 = $0.044 -> 4 cents; the $20 credit covers 4 cents only.
    assert [x.amount_minor for x in invoice.lines] == [2000, 4, -4]
    assert invoice.total_minor == 2000
