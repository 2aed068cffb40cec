"""The payment port: the Stripe adapter (official SDK) against the shipped Stripe test server, over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
from tests.billing.receiver import WebhookReceiver

from starform_adapters.stripe import StripePaymentProvider
from starform_core.billing import BillingMonth, InvoiceLine, InvoiceStatus, LineKind
from starform_core.errors import PaymentDeclinedError, PaymentProviderError, WebhookVerificationError
from starform_core.model.enums import Tier
from starform_core.ports.billing import BillingAccount, CreditNoteRecord, InvoiceRecord, PaymentProvider
from starform_testkit.stripe_testserver import StripeTestServer, signature_header

MONTH = BillingMonth(2026, 11)
PROJECT = "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b"


@pytest.fixture(params=["stripe-sdk-over-http"])
def provider(
    request: pytest.FixtureRequest, stripe_server: StripeTestServer, hook: tuple[WebhookReceiver, str]
) -> PaymentProvider:
    """The payment port's adapter, configured against the double."""
    return StripePaymentProvider.connect(
        stripe_server.api_key, webhook_secret=hook[1], api_base=stripe_server.url
    )


def _record(amounts: list[int], *, invoice_id: str | None = None) -> InvoiceRecord:
    lines = tuple(
        InvoiceLine(
            LineKind.PLAN_CREDIT if amount < 0 else LineKind.USAGE,
            PROJECT,
            f"line {n}",
            amount,
            Tier.HOBBY,
            MONTH,
        )
        for n, amount in enumerate(amounts, start=1)
    )
    total = sum(amounts)
    credit = -sum(a for a in amounts if a < 0)
    return InvoiceRecord(
        invoice_id=invoice_id or str(uuid.uuid4()),
        workspace_id=str(uuid.uuid4()),
        month=MONTH,
        status=InvoiceStatus.DRAFT,
        currency="usd",
        price_sheet="2026-01",
        subtotal_minor=total + credit,
        credit_minor=credit,
        total_minor=total,
        lines=lines,
    )


def _customer(provider: PaymentProvider, server: StripeTestServer, payment_method: str | None) -> str:
    account = BillingAccount(str(uuid.uuid4()), "Acme", "billing@acme.example")
    customer = provider.ensure_customer(account, idempotency_key=f"customer:{account.workspace_id}")
    server.set_default_payment_method(customer, payment_method)
    return customer


def _open(provider: PaymentProvider, customer: str, record: InvoiceRecord) -> str:
    created = provider.create_invoice(customer, record, idempotency_key=f"invoice:{record.invoice_id}")
    provider.add_lines(customer, created.provider_invoice_id, record, key_prefix=f"line:{record.invoice_id}")
    provider.finalize(created.provider_invoice_id, idempotency_key=f"finalize:{record.invoice_id}")
    return created.provider_invoice_id


def test_a_customer_is_created_once_per_key(
    provider: PaymentProvider, stripe_server: StripeTestServer
) -> None:
    account = BillingAccount(str(uuid.uuid4()), "Acme", "billing@acme.example")
    first = provider.ensure_customer(account, idempotency_key="k-customer-" + account.workspace_id)
    again = provider.ensure_customer(account, idempotency_key="k-customer-" + account.workspace_id)
    assert first == again and first.startswith("cus_")
    known = BillingAccount(account.workspace_id, "Acme", provider_customer_id=first)
    assert provider.ensure_customer(known, idempotency_key="unused") == first


def test_an_invoice_carries_every_line_once_even_after_retries_and_expired_keys(
    provider: PaymentProvider, stripe_server: StripeTestServer
) -> None:
    customer = _customer(provider, stripe_server, "pm_card_visa")
    record = _record([500, 1234, 7, *[1] * 12, -500])
    created = provider.create_invoice(customer, record, idempotency_key=f"inv-{record.invoice_id}")
    assert provider.create_invoice(customer, record, idempotency_key=f"inv-{record.invoice_id}") == created
    assert created.status is InvoiceStatus.DRAFT and created.invoice_id == record.invoice_id
    first = provider.add_lines(customer, created.provider_invoice_id, record, key_prefix="l")
    stripe_server.expire_idempotency_keys()
    again = provider.add_lines(customer, created.provider_invoice_id, record, key_prefix="l")
    assert first.line_numbers == again.line_numbers == frozenset(range(1, len(record.lines) + 1))
    assert again.total_minor == record.total_minor
    (at_provider,) = stripe_server.invoices(customer=customer)
    assert at_provider["lines"]["total_count"] == len(record.lines)
    assert provider.find_invoice(customer, record.invoice_id) == again
    assert provider.find_invoice(customer, str(uuid.uuid4())) is None


def test_finalize_then_pay_succeeds(provider: PaymentProvider, stripe_server: StripeTestServer) -> None:
    customer = _customer(provider, stripe_server, "pm_card_visa")
    record = _record([2599])
    invoice_id = _open(provider, customer, record)
    paid = provider.pay(invoice_id, idempotency_key=f"pay:{record.invoice_id}:1")
    assert (paid.status, paid.attempt_count, paid.total_minor) == (InvoiceStatus.PAID, 1, 2599)


def test_a_failed_payment_then_a_retry_with_a_new_card_pays(
    provider: PaymentProvider, stripe_server: StripeTestServer
) -> None:
    """Failed payment -> dunning retry (same key replays the decline) -> card updated -> paid."""
    customer = _customer(provider, stripe_server, "pm_card_chargeCustomerFail")
    record = _record([4200])
    invoice_id = _open(provider, customer, record)
    with pytest.raises(PaymentDeclinedError) as declined:
        provider.pay(invoice_id, idempotency_key=f"pay:{record.invoice_id}:1")
    assert declined.value.code == "generic_decline"
    with pytest.raises(PaymentDeclinedError):
        provider.pay(invoice_id, idempotency_key=f"pay:{record.invoice_id}:1")
    failed = provider.find_invoice(customer, record.invoice_id)
    assert failed is not None and (failed.status, failed.attempt_count) == (InvoiceStatus.PAYMENT_FAILED, 1)
    with pytest.raises(PaymentDeclinedError):
        provider.pay(invoice_id, idempotency_key=f"pay:{record.invoice_id}:2")
    stripe_server.set_default_payment_method(customer, "pm_card_visa")
    paid = provider.pay(invoice_id, idempotency_key=f"pay:{record.invoice_id}:3")
    assert (paid.status, paid.attempt_count) == (InvoiceStatus.PAID, 3)


def test_no_payment_method_is_a_decline(provider: PaymentProvider, stripe_server: StripeTestServer) -> None:
    customer = _customer(provider, stripe_server, None)
    invoice_id = _open(provider, customer, _record([100]))
    with pytest.raises(PaymentDeclinedError) as declined:
        provider.pay(invoice_id, idempotency_key=f"pay:{invoice_id}")
    assert declined.value.code == "no_payment_method"


def test_a_zero_total_is_paid_on_finalize_and_uncollectible_is_final(
    provider: PaymentProvider, stripe_server: StripeTestServer
) -> None:
    customer = _customer(provider, stripe_server, "pm_card_chargeDeclined")
    zero = _record([500, -500])
    created = provider.create_invoice(customer, zero, idempotency_key=f"i:{zero.invoice_id}")
    provider.add_lines(customer, created.provider_invoice_id, zero, key_prefix=f"l:{zero.invoice_id}")
    assert (
        provider.finalize(created.provider_invoice_id, idempotency_key=f"f:{zero.invoice_id}").status
        is InvoiceStatus.PAID
    )
    owed = _record([300])
    invoice_id = _open(provider, customer, owed)
    gone = provider.mark_uncollectible(invoice_id, idempotency_key=f"u:{owed.invoice_id}")
    assert gone.status is InvoiceStatus.UNCOLLECTIBLE


def test_refunds_are_credit_notes_bounded_by_the_invoice(
    provider: PaymentProvider, stripe_server: StripeTestServer
) -> None:
    customer = _customer(provider, stripe_server, "pm_card_visa")
    record = _record([1000])
    invoice_id = _open(provider, customer, record)
    provider.pay(invoice_id, idempotency_key=f"p:{record.invoice_id}")
    note = CreditNoteRecord(
        str(uuid.uuid4()), record.invoice_id, 400, "duplicate", "charged twice", refund=True
    )
    created = provider.create_credit_note(invoice_id, note, idempotency_key=f"cn:{note.credit_note_id}")
    assert (created.amount_minor, created.refund, created.reason, created.credit_note_id) == (
        400,
        True,
        "duplicate",
        note.credit_note_id,
    )
    assert (
        provider.create_credit_note(invoice_id, note, idempotency_key=f"cn:{note.credit_note_id}") == created
    )
    too_much = CreditNoteRecord(str(uuid.uuid4()), record.invoice_id, 601, "goodwill")
    with pytest.raises(PaymentProviderError) as refused:
        provider.create_credit_note(invoice_id, too_much, idempotency_key=f"cn:{too_much.credit_note_id}")
    assert refused.value.retryable is False


def test_webhooks_are_signed_and_verified(
    provider: PaymentProvider, stripe_server: StripeTestServer, hook: tuple[WebhookReceiver, str]
) -> None:
    receiver, secret = hook
    customer = _customer(provider, stripe_server, "pm_card_visa")
    record = _record([700])
    invoice_id = _open(provider, customer, record)
    provider.pay(invoice_id, idempotency_key=f"p:{record.invoice_id}")

    def paid_delivery() -> bool:
        return any(
            json.loads(r.body)["type"] == "invoice.paid" and invoice_id in r.body.decode()
            for r in receiver.received
        )

    stripe_server.wait(paid_delivery)
    delivery = next(
        r for r in receiver.received if invoice_id in r.body.decode() and b'"invoice.paid"' in r.body
    )
    event = provider.parse_webhook(delivery.body, delivery.signature)
    assert event.type == "invoice.paid" and event.event_id.startswith("evt_")
    assert event.invoice is not None and event.invoice.invoice_id == record.invoice_id
    assert event.invoice.status is InvoiceStatus.PAID
    with pytest.raises(WebhookVerificationError):
        provider.parse_webhook(delivery.body.replace(b"paid", b"void", 1), delivery.signature)
    with pytest.raises(WebhookVerificationError):
        provider.parse_webhook(
            delivery.body, signature_header("whsec_other", delivery.body, int(time.time()))
        )
    stale = signature_header(secret, delivery.body, int(time.time()) - 3600)
    with pytest.raises(WebhookVerificationError):
        provider.parse_webhook(delivery.body, stale)
    with pytest.raises(WebhookVerificationError):
        provider.parse_webhook(b"not json", signature_header(secret, b"not json", int(time.time())))


def test_a_failed_delivery_is_retried_until_it_is_accepted(
    provider: PaymentProvider, stripe_server: StripeTestServer, hook: tuple[WebhookReceiver, str]
) -> None:
    receiver, _ = hook
    receiver.status = 500
    try:
        customer = _customer(provider, stripe_server, "pm_card_visa")
        (created,) = [
            e for e in stripe_server.events("customer.created") if e["data"]["object"]["id"] == customer
        ]

        def attempts(status: int) -> list[int]:
            return [
                d.attempt
                for d in stripe_server.deliveries()
                if d.event_id == created["id"] and d.status == status
            ]

        stripe_server.wait(lambda: len(attempts(500)) >= 2)
    finally:
        receiver.status = 200
    stripe_server.wait(lambda: bool(attempts(200)))
    assert attempts(200)[0] > max(attempts(500))


def test_errors_say_whether_a_retry_can_help(stripe_server: StripeTestServer) -> None:
    wrong = StripePaymentProvider.connect(
        "sk_test_wrong", webhook_secret="whsec_x", api_base=stripe_server.url
    )
    with pytest.raises(PaymentProviderError) as refused:
        wrong.find_invoice("cus_x", "x")
    assert refused.value.retryable is False
    down = StripePaymentProvider.connect(
        stripe_server.api_key, webhook_secret="whsec_x", api_base="http://127.0.0.1:9", max_network_retries=0
    )
    with pytest.raises(PaymentProviderError) as unreachable:
        down.find_invoice("cus_x", "x")
    assert unreachable.value.retryable is True
    provider = StripePaymentProvider.connect(
        stripe_server.api_key, webhook_secret="whsec_x", api_base=stripe_server.url
    )
    with pytest.raises(PaymentProviderError) as unknown:
        provider.pay("in_missing", idempotency_key=f"x-{dt.datetime.now(dt.UTC).timestamp()}")
    assert unknown.value.retryable is False and unknown.value.code == "resource_missing"
