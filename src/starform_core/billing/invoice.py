"""Invoice computation: a workspace's month as priced lines, the plan credit, a total.

For each project of the workspace (ordered by name):

1. **Plan fee** lines: the fee of each tier the project was on during the month, prorated over
   the part of the month that tier covered (:func:`~starform_core.billing.proration.prorate`).
2. **Usage** lines: one per service, environment, resource, usage month and tier; each rated
   with the price sheet of its usage month and the tier it was used under. Usage recorded after
   an earlier month was invoiced (a late snapshot) appears on the next invoice, rated with its
   own month's prices and labelled with that month.
3. **Build** lines: build minutes per service, rated like usage.
4. **Plan credit**: the credit included in each tier the project was on, prorated like the fee,
   applied to the project's usage and build lines only (never to the fee) and capped at them,
   so a credit never makes a project's part, or the total, negative. Unused credit expires.

Every amount is an integer of minor units, rounded once per line (half to even), so the lines
sum exactly to the total.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction

import attrs

from starform_core.billing.metering import UsageKey, UsageQuantities
from starform_core.billing.money import to_minor
from starform_core.billing.months import BillingMonth, from_micros
from starform_core.billing.plans import PlanPeriod
from starform_core.billing.prices import PriceBook, PriceSheet
from starform_core.billing.proration import prorate
from starform_core.billing.rating import (
    UNITS,
    Resource,
    display_quantity,
    line_amount,
    quantities_in_units,
    unit_price,
)
from starform_core.errors import ValidationError
from starform_core.model.enums import Tier
from starform_core.model.tenant import TenantKey

__all__ = ["BuildCharge", "ComputedInvoice", "InvoiceLine", "LineKind", "UnbilledUsage", "compute_invoice"]


class LineKind(enum.StrEnum):
    """What an invoice line is."""

    PLAN_FEE = "plan_fee"
    USAGE = "usage"
    BUILD = "build"
    PLAN_CREDIT = "plan_credit"


@attrs.frozen
class UnbilledUsage:
    """Metered usage not yet on an invoice (one running-totals row's unbilled part)."""

    key: UsageKey
    quantities: UsageQuantities
    service_name: str = attrs.field(default="", kw_only=True)


@attrs.frozen
class BuildCharge:
    """Build minutes of one service, month and tier, not yet on an invoice."""

    tenant: TenantKey
    month: BillingMonth
    tier: Tier = attrs.field(converter=Tier)
    minutes: int = 0
    service_name: str = attrs.field(default="", kw_only=True)


@attrs.frozen
class InvoiceLine:
    """One priced line; ``amount_minor`` is negative only for a plan credit."""

    kind: LineKind
    project_id: str
    description: str
    amount_minor: int
    tier: Tier = attrs.field(converter=Tier)
    usage_month: BillingMonth = attrs.field()
    resource: Resource | None = attrs.field(default=None, kw_only=True)
    environment: str | None = attrs.field(default=None, kw_only=True)
    service_id: str | None = attrs.field(default=None, kw_only=True)
    quantity: Decimal | None = attrs.field(default=None, kw_only=True)
    unit: str | None = attrs.field(default=None, kw_only=True)
    unit_price: Decimal | None = attrs.field(default=None, kw_only=True)


@attrs.frozen
class ComputedInvoice:
    """A workspace's month, priced: lines, the fee and usage subtotal, the credit, the total."""

    workspace_id: str
    month: BillingMonth
    currency: str
    price_sheet: str
    lines: tuple[InvoiceLine, ...]

    @property
    def subtotal_minor(self) -> int:
        """Fees, usage and builds, before the plan credit."""
        return sum(line.amount_minor for line in self.lines if line.kind is not LineKind.PLAN_CREDIT)

    @property
    def credit_minor(self) -> int:
        """The plan credit applied (a positive number)."""
        return -sum(line.amount_minor for line in self.lines if line.kind is LineKind.PLAN_CREDIT)

    @property
    def total_minor(self) -> int:
        """What the workspace owes: the sum of the lines, never negative."""
        return sum(line.amount_minor for line in self.lines)


def _dates(span: tuple[int, int]) -> str:
    start = from_micros(span[0])
    last = from_micros(span[1]) - dt.timedelta(microseconds=1)
    return f"{start:%b} {start.day}-{last:%b} {last.day}"


def _period_lines(
    project_id: str, month: BillingMonth, sheet: PriceSheet, periods: Sequence[PlanPeriod]
) -> tuple[list[InvoiceLine], int]:
    """Fee lines and the prorated credit available for the project's periods in ``month``."""
    lines, credit = [], 0
    for period in periods:
        part = period.within(month)
        if not part:
            continue
        prices = sheet.prices(period.tier)
        fee = prorate(to_minor(prices.monthly_fee, sheet.currency), month, part)
        credit += prorate(to_minor(prices.included_credit, sheet.currency), month, part)
        whole = part.measure == month.micros
        label = f"{period.tier.value.capitalize()} plan" + (
            "" if whole else f", {_dates(part.spans[0])} (prorated)"
        )
        if fee:
            lines.append(InvoiceLine(LineKind.PLAN_FEE, project_id, label, fee, period.tier, month))
    return lines, credit


def _usage_lines(
    usage: UnbilledUsage, book: PriceBook, currency: str, month: BillingMonth
) -> list[InvoiceLine]:
    key = usage.key
    sheet = book.for_month(key.month)
    if sheet.currency != currency:
        raise ValidationError(
            "currency", f"usage of {key.month} is priced in {sheet.currency}, not {currency}"
        )
    prices = sheet.prices(key.tier)
    lines = []
    late = "" if key.month == month else f" (late usage, {key.month})"
    for resource, quantity in quantities_in_units(usage.quantities, key.month).items():
        price = unit_price(prices, resource)
        name = usage.service_name or key.tenant.service_id
        lines.append(
            InvoiceLine(
                LineKind.USAGE,
                key.tenant.project_id,
                f"{name} ({key.tenant.environment}): {UNITS[resource]}s{late}",
                line_amount(quantity, price, currency),
                key.tier,
                key.month,
                resource=resource,
                environment=key.tenant.environment,
                service_id=key.tenant.service_id,
                quantity=display_quantity(quantity),
                unit=UNITS[resource],
                unit_price=price,
            )
        )
    return lines


def _build_line(build: BuildCharge, book: PriceBook, currency: str, month: BillingMonth) -> InvoiceLine:
    sheet = book.for_month(build.month)
    if sheet.currency != currency:
        raise ValidationError(
            "currency", f"builds of {build.month} are priced in {sheet.currency}, not {currency}"
        )
    price = sheet.prices(build.tier).build_minute
    late = "" if build.month == month else f" (late, {build.month})"
    return InvoiceLine(
        LineKind.BUILD,
        build.tenant.project_id,
        f"{build.service_name or build.tenant.service_id} ({build.tenant.environment}): build minutes{late}",
        line_amount(Fraction(build.minutes), price, currency),
        build.tier,
        build.month,
        resource=Resource.BUILD,
        environment=build.tenant.environment,
        service_id=build.tenant.service_id,
        quantity=Decimal(build.minutes),
        unit=UNITS[Resource.BUILD],
        unit_price=price,
    )


def _project_order(
    plans: Iterable[PlanPeriod], usage: Iterable[UnbilledUsage], builds: Iterable[BuildCharge]
) -> list[str]:
    names: dict[str, str] = {}
    for period in plans:
        names[period.project_id] = period.project_name or names.get(period.project_id, "")
    for project_id in [u.key.tenant.project_id for u in usage] + [b.tenant.project_id for b in builds]:
        names.setdefault(project_id, "")
    return sorted(names, key=lambda p: (names[p], p))


def compute_invoice(
    workspace_id: str,
    month: BillingMonth,
    *,
    book: PriceBook,
    plans: Sequence[PlanPeriod],
    usage: Sequence[UnbilledUsage] = (),
    builds: Sequence[BuildCharge] = (),
) -> ComputedInvoice:
    """Price a workspace's month (see the module rules). Pure: the same inputs, the same invoice."""
    sheet = book.for_month(month)
    for tenant in [*(u.key.tenant for u in usage), *(b.tenant for b in builds)]:
        if tenant.workspace_id != workspace_id:
            raise ValidationError("usage", f"usage of workspace {tenant.workspace_id} on another's invoice")
    lines: list[InvoiceLine] = []
    for project_id in _project_order(plans, usage, builds):
        periods = sorted((p for p in plans if p.project_id == project_id), key=lambda p: p.start)
        fee_lines, credit = _period_lines(project_id, month, sheet, periods)
        charged: list[InvoiceLine] = []
        for item in sorted(
            (u for u in usage if u.key.tenant.project_id == project_id),
            key=lambda u: (u.key.tenant.environment, u.service_name, u.key.tenant.service_id, u.key),
        ):
            charged.extend(_usage_lines(item, book, sheet.currency, month))
        for build in sorted(
            (b for b in builds if b.tenant.project_id == project_id and b.minutes),
            key=lambda b: (b.tenant.environment, b.service_name, b.tenant.service_id, b.month, b.tier),
        ):
            charged.append(_build_line(build, book, sheet.currency, month))
        lines.extend(fee_lines + charged)
        applied = min(credit, sum(line.amount_minor for line in charged))
        if applied > 0:
            tier = periods[-1].tier
            lines.append(InvoiceLine(LineKind.PLAN_CREDIT, project_id, "Plan credit", -applied, tier, month))
    return ComputedInvoice(workspace_id, month, sheet.currency, sheet.version, tuple(lines))
