"""Kubernetes resource quantities (``500m``, ``1Gi``, ``1e3``) as exact decimals.

The core may not import the Kubernetes client, so this is the small, exact parser the planner
needs to judge ``1000m`` equal to ``1`` and ``1Gi`` equal to ``1073741824``. The grammar is the
API machinery's::

    <quantity> ::= <signedNumber><suffix>
    <suffix>   ::= Ki | Mi | Gi | Ti | Pi | Ei | n | u | m | "" | k | M | G | T | P | E
                 | e<signedNumber> | E<signedNumber>

with the API's bounds: a quantity is a whole number of nano-units no larger than 2^63 - 1
(Kubernetes silently caps or rounds anything outside; a contract refuses it instead).
"""

from __future__ import annotations

import decimal
import functools
import re
from decimal import Decimal
from typing import Final

from starform_core.errors import ValidationError

__all__ = ["QUANTITY_MAX", "QUANTITY_TEXT_MAX", "check_quantity", "parse_quantity", "quantities_equal"]

QUANTITY_MAX: Final = Decimal(2**63 - 1)
"""The largest amount a Kubernetes quantity holds (int64)."""

QUANTITY_TEXT_MAX: Final = 64
"""The longest quantity text accepted (longer text can only be padding or out of bounds)."""

_NANO: Final = Decimal("1e-9")
_SUFFIX = {
    "Ki": Decimal(1024),
    "Mi": Decimal(1024) ** 2,
    "Gi": Decimal(1024) ** 3,
    "Ti": Decimal(1024) ** 4,
    "Pi": Decimal(1024) ** 5,
    "Ei": Decimal(1024) ** 6,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exp>[+-]?[0-9]{1,9}))?"
)
_EXACT = decimal.Context(
    prec=200, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[decimal.InvalidOperation, decimal.Overflow]
)


def parse_quantity(value: str | int | float) -> Decimal:
    """Parse a Kubernetes quantity into an exact :class:`~decimal.Decimal`.

    Raises :class:`ValueError` (and nothing else) for anything that is not a quantity.
    """
    if isinstance(value, bool):
        raise ValueError("a boolean is not a quantity")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a non-finite number is not a quantity")
        return Decimal(str(value))
    if not isinstance(value, str) or len(value) > QUANTITY_TEXT_MAX:
        raise ValueError("not a Kubernetes quantity")
    return _parse_text(value)


@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> Decimal:
    """A quantity's text, parsed (kept: the same few quantities recur across thousands of
    services and live objects; a Decimal is immutable)."""
    match = _QUANTITY.fullmatch(value.strip())
    if match is None:
        raise ValueError("not a Kubernetes quantity")
    try:
        number = _EXACT.create_decimal(match["number"])
        if match["exp"] is not None:
            return number.scaleb(int(match["exp"]), _EXACT)
        return _EXACT.multiply(number, _SUFFIX[match["suffix"] or ""])
    except decimal.DecimalException as exc:  # pragma: no cover - the context is wide enough
        raise ValueError("not a Kubernetes quantity") from exc


def quantities_equal(left: str | int | float, right: str | int | float) -> bool:
    """True when two quantities denote the same amount (``1000m`` == ``1``)."""
    try:
        return parse_quantity(left) == parse_quantity(right)
    except ValueError:
        return left == right


def check_quantity(field: str, value: str, *, positive: bool = True) -> None:
    """Validate a quantity string for a domain field: the grammar, then the API's bounds
    (at most 2^63 - 1, a whole number of nano-units); zero or negative is refused if ``positive``."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be a quantity string such as '500m' or '1Gi'")
    problem = _quantity_problem(value, positive=positive)
    if problem is not None:
        raise ValidationError(field, problem)


@functools.lru_cache(maxsize=4096)
def _quantity_problem(value: str, *, positive: bool) -> str | None:
    """Why ``value`` is not a valid quantity, or ``None`` (kept: a payload's few distinct
    quantities are checked by the thousand, by the schema's format and by the model)."""
    if value != value.strip():
        return "must not have surrounding white space"
    try:
        amount = parse_quantity(value)
    except ValueError:
        return "is not a Kubernetes quantity such as '500m' or '1Gi'"
    if positive and amount <= 0:
        return "must be greater than zero"
    if amount.copy_abs() > QUANTITY_MAX:
        return "is larger than a Kubernetes quantity holds (2^63 - 1)"
    if _EXACT.remainder(amount, _NANO) != 0:
        return "is more precise than a Kubernetes quantity holds (1n)"
    return None
