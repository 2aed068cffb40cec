"""Kubernetes resource quantities (``500m``, ``1Gi``, ``1e3``) as exact decimals.

The core may not import the Kubernetes client, so this is the small, exact parser the planner
needs to judge ``1000m`` equal to ``1`` and ``1Gi`` equal to ``1073741824``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from starform_core.errors import ValidationError

__all__ = ["check_quantity", "parse_quantity", "quantities_equal"]

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
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exp>[+-]?[0-9]+))?$"
)


def parse_quantity(value: str | int | float) -> Decimal:
    """Parse a Kubernetes quantity into an exact :class:`~decimal.Decimal`.

    Raises :class:`ValueError` for anything that is not a quantity.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    match = _QUANTITY.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    try:
        number = Decimal(match["number"])
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from exc
    if match["exp"] is not None:
        return number.scaleb(int(match["exp"]))
    return number * _SUFFIX[match["suffix"] or ""]


def quantities_equal(left: str | int | float, right: str | int | float) -> bool:
    """True when two quantities denote the same amount (``1000m`` == ``1``)."""
    try:
        return parse_quantity(left) == parse_quantity(right)
    except ValueError:
        return left == right


def check_quantity(field: str, value: str, *, positive: bool = True) -> None:
    """Validate a quantity string for a domain field; zero or negative is refused if ``positive``."""
    try:
        amount = parse_quantity(value)
    except ValueError as exc:
        raise ValidationError(field, f"{value!r} is not a Kubernetes quantity") from exc
    if not isinstance(value, str):
        raise ValidationError(field, "must be a quantity string such as '500m' or '1Gi'")
    if positive and amount <= 0:
        raise ValidationError(field, "must be greater than zero")
