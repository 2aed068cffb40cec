"""Rating: billed quantities in billing units, priced exactly.

=========  ================  ==========================================================
resource   unit              from the metered quantities
=========  ================  ==========================================================
vcpu       vCPU-minute       millicore-microseconds / (1000 x 60 x 10^6)
memory     GiB-minute        byte-microseconds / (2^30 x 60 x 10^6)
volume     GiB-month         byte-microseconds / (2^30 x the usage month's length in us)
build      build minute      whole minutes per build (each build rounded up to the minute)
=========  ================  ==========================================================

A line's amount is ``quantity x unit price`` computed exactly and rounded once to the minor unit
(half to even). The quantity shown on a line is rounded to 6 decimals for display only.
"""

from __future__ import annotations

import enum
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from starform_core.billing.metering import UsageQuantities
from starform_core.billing.money import to_minor
from starform_core.billing.months import BillingMonth
from starform_core.billing.prices import TierPrices

__all__ = ["UNITS", "Resource", "display_quantity", "line_amount", "quantities_in_units", "unit_price"]

_MINUTE_US = 60 * 10**6
_GIB = 2**30


class Resource(enum.StrEnum):
    """What a usage line charges for."""

    VCPU = "vcpu"
    MEMORY = "memory"
    VOLUME = "volume"
    BUILD = "build"


UNITS = {
    Resource.VCPU: "vCPU-minute",
    Resource.MEMORY: "GiB-minute",
    Resource.VOLUME: "GiB-month",
    Resource.BUILD: "build minute",
}
"""The billing unit of each resource, as printed on invoices."""


def quantities_in_units(quantities: UsageQuantities, usage_month: BillingMonth) -> dict[Resource, Fraction]:
    """The exact billing-unit quantities of metered usage (zero ones left out)."""
    exact = {
        Resource.VCPU: Fraction(quantities.cpu_milli_us, 1000 * _MINUTE_US),
        Resource.MEMORY: Fraction(quantities.memory_byte_us, _GIB * _MINUTE_US),
        Resource.VOLUME: Fraction(quantities.storage_byte_us, _GIB * usage_month.micros),
    }
    return {resource: value for resource, value in exact.items() if value}


def unit_price(prices: TierPrices, resource: Resource) -> Decimal:
    """The tier's price of one unit of ``resource``."""
    return {
        Resource.VCPU: prices.vcpu_minute,
        Resource.MEMORY: prices.memory_gib_minute,
        Resource.VOLUME: prices.volume_gib_month,
        Resource.BUILD: prices.build_minute,
    }[resource]


def line_amount(quantity: Fraction, price: Decimal, currency: str) -> int:
    """``quantity x price`` in minor units, rounded once (half to even)."""
    return to_minor(quantity * Fraction(price), currency)


def display_quantity(quantity: Fraction) -> Decimal:
    """A quantity rounded to 6 decimals for display (amounts use the exact value)."""
    return (Decimal(quantity.numerator) / Decimal(quantity.denominator)).quantize(
        Decimal("0.000001"), rounding=ROUND_HALF_EVEN
    )
