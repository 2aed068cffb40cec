"""Exact money: amounts are integers of the currency's minor unit (cents), never floats.

Intermediate arithmetic (quantity x unit price, proration shares) is done in exact rationals
(:class:`fractions.Fraction`) and rounded once, to the minor unit, half to even (banker's
rounding), so a line's amount never depends on the order of operations and a total is the exact
sum of its rounded lines.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from starform_core.errors import ValidationError

__all__ = ["CURRENCY_EXPONENTS", "format_minor", "minor_exponent", "round_half_even", "to_minor"]

CURRENCY_EXPONENTS = {"usd": 2, "eur": 2, "gbp": 2, "chf": 2, "cad": 2, "jpy": 0}
"""Digits of the minor unit per ISO 4217 currency (lower case, as the payment provider spells it)."""


def minor_exponent(currency: str) -> int:
    """How many decimal digits the currency's minor unit has (``usd`` -> 2)."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise ValidationError("currency", f"{currency!r} is not a supported currency") from None


def round_half_even(value: Fraction) -> int:
    """Round an exact rational to the nearest integer, ties to the even neighbour."""
    floor = math.floor(value)
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def to_minor(amount: Fraction | Decimal, currency: str) -> int:
    """An amount in major units (dollars) as an integer of minor units (cents), half to even."""
    exact = Fraction(amount) if isinstance(amount, Decimal) else amount
    return round_half_even(exact * 10 ** minor_exponent(currency))


def format_minor(amount: int, currency: str) -> str:
    """Minor units as a plain decimal string of major units (``1234, "usd"`` -> ``"12.34"``)."""
    exponent = minor_exponent(currency)
    return str(Decimal(amount).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))
