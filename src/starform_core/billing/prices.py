"""Price sheets: the prices of every tier, as versioned data files.

Each file ``price_sheets/<version>.json`` holds one sheet: its ``version``, the first month it
applies to (``effective_from``, ``YYYY-MM``), the currency and, per tier, the monthly fee, the
plan credit included in it, and the unit prices:

=====================  ========================================================
``vcpu_minute``        one vCPU requested for one minute
``memory_gib_minute``  one GiB (2^30 bytes) of memory requested for one minute
``volume_gib_month``   one GiB of volume capacity for a whole month
``build_minute``       one minute of the deploy pipeline's build (rounded up per build)
=====================  ========================================================

Prices are decimal strings (exact). A month is rated with the sheet in force on its first day
(the newest sheet whose ``effective_from`` is not after it); a new price is a new file, never an
edit of an old one, so past invoices stay reproducible (the invoice names the sheet version).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

import attrs

from starform_core.billing.money import minor_exponent
from starform_core.billing.months import BillingMonth
from starform_core.errors import ValidationError
from starform_core.model.enums import Tier

__all__ = ["PriceBook", "PriceSheet", "TierPrices", "load_price_book", "parse_price_sheet"]

_PRICE_FIELDS = (
    "monthly_fee",
    "included_credit",
    "vcpu_minute",
    "memory_gib_minute",
    "volume_gib_month",
    "build_minute",
)


@attrs.frozen
class TierPrices:
    """One tier's fee, plan credit and unit prices (major currency units, exact)."""

    monthly_fee: Decimal
    included_credit: Decimal
    vcpu_minute: Decimal
    memory_gib_minute: Decimal
    volume_gib_month: Decimal
    build_minute: Decimal


@attrs.frozen
class PriceSheet:
    """The prices of every tier from ``effective_from`` on."""

    version: str
    effective_from: BillingMonth
    currency: str
    tiers: Mapping[Tier, TierPrices]

    def prices(self, tier: Tier) -> TierPrices:
        """The prices of one tier."""
        return self.tiers[tier]


def _by_month(sheets: Iterable[PriceSheet]) -> tuple[PriceSheet, ...]:
    return tuple(sorted(sheets, key=lambda sheet: sheet.effective_from))


@attrs.frozen
class PriceBook:
    """Every price sheet, oldest first."""

    sheets: tuple[PriceSheet, ...] = attrs.field(converter=_by_month)

    def __attrs_post_init__(self) -> None:
        if not self.sheets:
            raise ValidationError("price_sheets", "at least one price sheet is needed")
        months = [s.effective_from for s in self.sheets]
        if len(set(months)) != len(months):
            raise ValidationError("price_sheets", "two sheets take effect in the same month")
        if len({s.version for s in self.sheets}) != len(self.sheets):
            raise ValidationError("price_sheets", "two sheets share a version")

    def for_month(self, month: BillingMonth) -> PriceSheet:
        """The sheet in force on the month's first day."""
        current = None
        for sheet in self.sheets:
            if sheet.effective_from <= month:
                current = sheet
        if current is None:
            raise ValidationError("month", f"no price sheet is in force in {month}")
        return current

    def by_version(self, version: str) -> PriceSheet:
        """The sheet of a version."""
        for sheet in self.sheets:
            if sheet.version == version:
                return sheet
        raise ValidationError("price_sheet", f"no price sheet has version {version!r}")


def _price(field: str, value: Any) -> Decimal:
    if not isinstance(value, str):
        raise ValidationError(field, 'must be a decimal string such as "0.000463"')
    try:
        price = Decimal(value)
    except InvalidOperation as exc:
        raise ValidationError(field, f"{value!r} is not a decimal number") from exc
    if not price.is_finite() or price < 0 or price.as_tuple().exponent < -12:  # type: ignore[operator]
        raise ValidationError(field, "must be a non-negative price with at most 12 decimals")
    return price


def _tier(name: str, raw: Any) -> TierPrices:
    if not isinstance(raw, Mapping):
        raise ValidationError(f"tiers.{name}", "must be an object of prices")
    unknown = set(raw) - set(_PRICE_FIELDS)
    if unknown:
        raise ValidationError(f"tiers.{name}", f"unknown fields {sorted(unknown)}")
    missing = [f for f in _PRICE_FIELDS if f not in raw]
    if missing:
        raise ValidationError(f"tiers.{name}", f"missing {missing}")
    return TierPrices(**{f: _price(f"tiers.{name}.{f}", raw[f]) for f in _PRICE_FIELDS})


def parse_price_sheet(document: Mapping[str, Any]) -> PriceSheet:
    """Validate one sheet document (as loaded from JSON)."""
    for key in ("version", "effective_from", "currency", "tiers"):
        if key not in document:
            raise ValidationError(key, "is required")
    currency = str(document["currency"])
    minor_exponent(currency)
    tiers = document["tiers"]
    if not isinstance(tiers, Mapping) or set(tiers) != {t.value for t in Tier}:
        raise ValidationError("tiers", f"must price exactly the tiers {sorted(t.value for t in Tier)}")
    return PriceSheet(
        version=str(document["version"]),
        effective_from=BillingMonth.parse(str(document["effective_from"])),
        currency=currency,
        tiers={Tier(name): _tier(name, raw) for name, raw in tiers.items()},
    )


def _shipped_documents() -> Iterable[Mapping[str, Any]]:
    folder = resources.files("starform_core.billing").joinpath("price_sheets")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            yield json.loads(entry.read_text("utf-8"))


@functools.cache
def load_price_book() -> PriceBook:
    """The price sheets shipped with this release (package data, validated once)."""
    return PriceBook(tuple(parse_price_sheet(doc) for doc in _shipped_documents()))
