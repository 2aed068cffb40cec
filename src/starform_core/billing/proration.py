"""Proration: a monthly amount for part of a month, in minor units, that always adds up.

A part ``[a, b)`` of a month of length ``T`` (microseconds from the month's start) is charged
``round(F x b / T) - round(F x a / T)`` for a full-month amount ``F`` (cumulative rounding, half
to even). Shares of adjacent parts telescope, so however a month is cut (a tier change at any
instant, a project created or deleted mid-month), the shares of the pieces sum to exactly ``F``,
and no piece is off by more than one minor unit from its exact share.
"""

from __future__ import annotations

from fractions import Fraction

from starform_core.billing.intervals import IntervalSet
from starform_core.billing.money import round_half_even
from starform_core.billing.months import BillingMonth, micros

__all__ = ["prorate"]


def prorate(amount_minor: int, month: BillingMonth, part: IntervalSet) -> int:
    """The share of a full-month ``amount_minor`` for the part of ``month`` in ``part``."""
    origin = micros(month.start)
    length = month.micros
    inside = part.intersection(IntervalSet.of(origin, origin + length))
    share = 0
    for start, end in inside:
        share += round_half_even(Fraction(amount_minor * (end - origin), length)) - round_half_even(
            Fraction(amount_minor * (start - origin), length)
        )
    return share
