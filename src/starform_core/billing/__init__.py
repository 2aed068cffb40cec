"""Billing math: metering usage snapshots, price sheets, rating, proration and invoices.

Pure functions and values (no I/O); Starbase persists the results and talks to the payment
provider through the ports in :mod:`starform_core.ports.billing`.
"""

from starform_core.billing.intervals import IntervalSet
from starform_core.billing.invoice import (
    BuildCharge,
    ComputedInvoice,
    InvoiceLine,
    LineKind,
    UnbilledUsage,
    compute_invoice,
)
from starform_core.billing.lifecycle import DunningPolicy, InvoiceStatus, build_minutes, next_status
from starform_core.billing.metering import Accrual, Meter, UsageKey, UsageQuantities, accumulate, meter
from starform_core.billing.money import format_minor, to_minor
from starform_core.billing.months import BillingMonth
from starform_core.billing.plans import PlanPeriod, PlanTimeline
from starform_core.billing.prices import PriceBook, PriceSheet, TierPrices, load_price_book, parse_price_sheet
from starform_core.billing.proration import prorate
from starform_core.billing.rating import UNITS, Resource
from starform_core.billing.snapshots import (
    MAX_SAMPLES,
    MAX_WINDOW,
    SampleKind,
    UsageSample,
    UsageSnapshot,
    billable_span,
    billable_spans,
    bytes_of,
    cpu_millis_of,
    snapshot_digest,
)

__all__ = [
    "MAX_SAMPLES",
    "MAX_WINDOW",
    "UNITS",
    "Accrual",
    "BillingMonth",
    "BuildCharge",
    "ComputedInvoice",
    "DunningPolicy",
    "IntervalSet",
    "InvoiceLine",
    "InvoiceStatus",
    "LineKind",
    "Meter",
    "PlanPeriod",
    "PlanTimeline",
    "PriceBook",
    "PriceSheet",
    "Resource",
    "SampleKind",
    "TierPrices",
    "UnbilledUsage",
    "UsageKey",
    "UsageQuantities",
    "UsageSample",
    "UsageSnapshot",
    "accumulate",
    "billable_span",
    "billable_spans",
    "build_minutes",
    "bytes_of",
    "compute_invoice",
    "cpu_millis_of",
    "format_minor",
    "load_price_book",
    "meter",
    "next_status",
    "parse_price_sheet",
    "prorate",
    "snapshot_digest",
    "to_minor",
]
