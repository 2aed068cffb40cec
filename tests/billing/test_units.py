"""Small rules of billing: price sheets as data, money, months, the lifecycle, dunning, config."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from starform_apps.starbase.billing import BillingConfig
from starform_core.billing import (
    BillingMonth,
    DunningPolicy,
    InvoiceStatus,
    PlanPeriod,
    PlanTimeline,
    build_minutes,
    format_minor,
    load_price_book,
    next_status,
    parse_price_sheet,
    to_minor,
)
from starform_core.billing.money import round_half_even
from starform_core.billing.prices import PriceBook
from starform_core.errors import ValidationError
from starform_testkit.stripe_testserver.errors import StripeApiError
from starform_testkit.stripe_testserver.forms import decode_form


def _sheet(**changes: Any) -> dict[str, Any]:
    document = json.loads(json.dumps(_document()))
    document.update(changes)
    return document


def _document() -> dict[str, Any]:
    prices = {
        "monthly_fee": "5.00",
        "included_credit": "5.00",
        "vcpu_minute": "0.000463",
        "memory_gib_minute": "0.000231",
        "volume_gib_month": "0.15",
        "build_minute": "0.05",
    }
    return {
        "version": "2027-03",
        "effective_from": "2027-03",
        "currency": "usd",
        "tiers": {t: dict(prices) for t in ("free", "hobby", "pro", "enterprise")},
    }


def test_the_shipped_price_sheets_validate_and_apply_by_month() -> None:
    book = load_price_book()
    sheet = book.for_month(BillingMonth(2026, 11))
    assert sheet.version == "2026-01" and sheet.prices("hobby").build_minute == Decimal("0.05")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="no price sheet"):
        book.for_month(BillingMonth(2025, 12))
    later = PriceBook((*book.sheets, parse_price_sheet(_document())))
    assert later.for_month(BillingMonth(2027, 2)).version == "2026-01"
    assert later.for_month(BillingMonth(2027, 3)).version == "2027-03"
    assert later.by_version("2027-03").currency == "usd"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (_sheet(currency="xyz"), "currency"),
        (_sheet(effective_from="March"), "month"),
        ({k: v for k, v in _document().items() if k != "tiers"}, "tiers"),
        (_sheet(tiers={"hobby": _document()["tiers"]["hobby"]}), "tiers"),
    ],
)
def test_bad_price_sheets_are_refused(document: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_price_sheet(document)
    assert refused.value.field == field


@pytest.mark.parametrize("price", ["-1", "abc", 0.5, "1e-13", "NaN"])
def test_prices_are_non_negative_exact_decimals(price: object) -> None:
    document = _document()
    document["tiers"]["pro"]["vcpu_minute"] = price
    with pytest.raises(ValidationError, match="vcpu_minute"):
        parse_price_sheet(document)


def test_two_sheets_for_one_month_are_refused() -> None:
    sheet = parse_price_sheet(_document())
    with pytest.raises(ValidationError, match="same month"):
        PriceBook((sheet, parse_price_sheet(_sheet(version="other"))))


def test_money_rounds_half_to_even_once() -> None:
    assert [round_half_even(Fraction(n, 2)) for n in (1, 3, 5, -1, -3)] == [0, 2, 2, 0, -2]
    assert to_minor(Decimal("0.025"), "usd") == 2 and to_minor(Decimal("0.035"), "usd") == 4
    assert to_minor(Fraction(1, 3), "usd") == 33
    assert format_minor(123456, "usd") == "1234.56" and format_minor(-5, "usd") == "-0.05"
    assert format_minor(1234, "jpy") == "1234"


def test_months() -> None:
    november = BillingMonth.parse("2026-11")
    assert (str(november.next()), str(november.previous())) == ("2026-12", "2026-10")
    assert (
        str(BillingMonth(2026, 12).next()) == "2027-01" and str(BillingMonth(2026, 1).previous()) == "2025-12"
    )
    assert november.micros == 30 * 86400 * 10**6
    assert (
        BillingMonth.of(dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))))
        == november
    )
    for bad in ("2026-13", "26-11", "2026-1"):
        with pytest.raises(ValidationError, match="month"):
            BillingMonth.parse(bad)


def test_the_lifecycle_never_goes_backwards() -> None:
    s = InvoiceStatus
    assert next_status(s.DRAFT, s.OPEN) is s.OPEN
    assert next_status(s.OPEN, s.PAYMENT_FAILED) is s.PAYMENT_FAILED
    assert next_status(s.PAYMENT_FAILED, s.PAYMENT_FAILED) is s.PAYMENT_FAILED
    assert next_status(s.UNCOLLECTIBLE, s.PAID) is s.PAID
    for final in (s.PAID, s.VOID):
        assert all(next_status(final, target) is None for target in s)
    assert next_status(s.OPEN, s.DRAFT) is None and next_status(s.PAID, s.PAYMENT_FAILED) is None


def test_dunning_retries_three_times_then_gives_up() -> None:
    policy = DunningPolicy()
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert [policy.next_attempt(n, at) for n in (1, 2, 3, 4)] == [
        at + dt.timedelta(days=3),
        at + dt.timedelta(days=5),
        at + dt.timedelta(days=7),
        None,
    ]
    assert policy.max_attempts == 4 and policy.next_attempt(0, at) is None


def test_build_minutes_round_up_per_build() -> None:
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert [build_minutes(start, start + dt.timedelta(seconds=s)) for s in (0, 1, 60, 61, 3600)] == [
        0,
        1,
        1,
        2,
        60,
    ]


def test_overlapping_plan_periods_are_refused() -> None:
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    project, workspace = "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b", "0d8f6a4e-2c1b-4f7e-8a3d-5b6c7d8e9f01"
    with pytest.raises(ValidationError, match="overlap"):
        PlanTimeline.of(
            [PlanPeriod(project, workspace, "pro", start), PlanPeriod(project, workspace, "hobby", start)]
        )
    with pytest.raises(ValidationError, match="end after"):
        PlanPeriod(project, workspace, "pro", start, start)


def test_the_billing_config_never_prints_its_secrets() -> None:
    config = BillingConfig.from_env(
        {
            "STRIPE_API_KEY": "sk_live_secret",
            "STRIPE_WEBHOOK_SECRET": "whsec_secret",
            "CLICKHOUSE_URL": "http://u:pw@ch",
        }
    )
    assert config.stripe_api_key == "sk_live_secret"
    shown = repr(config)
    assert "sk_live" not in shown and "whsec_" not in shown and "pw@" not in shown
    assert BillingConfig.from_env({}).accept_window == dt.timedelta(days=35)


def test_stripe_form_bodies_decode_with_the_bracket_notation() -> None:
    decoded = decode_form(
        "customer=cus_1&metadata[a]=1&metadata[b]=&invoice_settings[default_payment_method]=pm"
        "&enabled_events[0]=x&enabled_events[1]=y&items[][price]=p1&items[][price]=p2"
    )
    assert decoded == {
        "customer": "cus_1",
        "metadata": {"a": "1", "b": ""},
        "invoice_settings": {"default_payment_method": "pm"},
        "enabled_events": ["x", "y"],
        "items": [{"price": "p1"}, {"price": "p2"}],
    }
    with pytest.raises(StripeApiError):
        decode_form("a[b]=1&a[b][c]=2")
