"""The payment port on Stripe, through the official ``stripe`` SDK.

Every write carries an idempotency key chosen by the caller (Stripe replays the first result of
a key for 24 hours); invoices and lines also carry our ids in ``metadata`` so that a crash later
than that window is still recovered by looking them up (:meth:`StripePaymentProvider.find_invoice`,
lines already present are skipped by :meth:`StripePaymentProvider.add_lines`). Stripe's errors
are translated: declines to :class:`~starform_core.errors.PaymentDeclinedError`, network
trouble, rate limits and 5xx to a retryable :class:`~starform_core.errors.PaymentProviderError`.
Webhooks are verified with the SDK (``Stripe-Signature`` HMAC, timestamp tolerance).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import stripe
from stripe import RequestOptions
from stripe.params import (
    CreditNoteCreateParams,
    CustomerCreateParams,
    InvoiceCreateParams,
    InvoiceItemCreateParams,
)

from starform_core.billing import InvoiceStatus
from starform_core.billing.money import format_minor
from starform_core.errors import PaymentDeclinedError, PaymentProviderError, WebhookVerificationError
from starform_core.ports.billing import (
    BillingAccount,
    CreditNoteRecord,
    InvoiceRecord,
    ProviderCreditNote,
    ProviderEvent,
    ProviderInvoice,
)

__all__ = ["CREDIT_NOTE_REASONS", "StripePaymentProvider"]

T = TypeVar("T")
LINE_KEY = "starform_line"
INVOICE_KEY = "starform_invoice_id"
CREDIT_NOTE_KEY = "starform_credit_note_id"
CREDIT_NOTE_REASONS = ("duplicate", "fraudulent", "order_change", "product_unsatisfactory")
"""Stripe's credit note reasons; any other reason is sent as the memo."""
_NO_PAYMENT_METHOD = "invoice_no_customer_payment_method"
_STATUSES = {
    "draft": InvoiceStatus.DRAFT,
    "open": InvoiceStatus.OPEN,
    "paid": InvoiceStatus.PAID,
    "uncollectible": InvoiceStatus.UNCOLLECTIBLE,
    "void": InvoiceStatus.VOID,
}


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Stripe errors as the core's payment errors (never echoing card data)."""
    try:
        yield
    except stripe.CardError as exc:
        code = getattr(exc.error, "decline_code", None) or exc.code or "card_declined"
        raise PaymentDeclinedError(f"{action}: the payment was declined ({code})", code=str(code)) from exc
    except stripe.InvalidRequestError as exc:
        if exc.code == _NO_PAYMENT_METHOD:
            raise PaymentDeclinedError(
                f"{action}: the customer has no payment method", code="no_payment_method"
            ) from exc
        raise PaymentProviderError(
            f"{action}: {exc.user_message or exc.code}", retryable=False, code=exc.code or ""
        ) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise PaymentProviderError(f"{action}: Stripe is unreachable or busy", retryable=True) from exc
    except stripe.IdempotencyError as exc:
        raise PaymentProviderError(
            f"{action}: idempotency key reused with other parameters", retryable=False
        ) from exc
    except stripe.StripeError as exc:
        retryable = exc.http_status is None or exc.http_status >= 500
        raise PaymentProviderError(
            f"{action}: Stripe answered {exc.http_status}", retryable=retryable
        ) from exc


def _key(idempotency_key: str) -> RequestOptions:
    return {"idempotency_key": idempotency_key}


def _status(invoice: dict[str, Any]) -> InvoiceStatus:
    status = _STATUSES.get(str(invoice.get("status")), InvoiceStatus.OPEN)
    if status is InvoiceStatus.OPEN and invoice.get("attempt_count", 0) > 0:
        return InvoiceStatus.PAYMENT_FAILED
    return status


def _when(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(int(value), tz=dt.UTC)


def _invoice(raw: dict[str, Any], lines: list[dict[str, Any]] | None = None) -> ProviderInvoice:
    lines = raw.get("lines", {}).get("data", []) if lines is None else lines
    numbers = frozenset(
        int(line["metadata"][LINE_KEY]) for line in lines if LINE_KEY in (line.get("metadata") or {})
    )
    return ProviderInvoice(
        provider_invoice_id=raw["id"],
        status=_status(raw),
        total_minor=int(raw.get("total", 0)),
        currency=str(raw.get("currency", "")),
        attempt_count=int(raw.get("attempt_count", 0)),
        invoice_id=(raw.get("metadata") or {}).get(INVOICE_KEY),
        line_numbers=numbers,
        next_payment_attempt=_when(raw.get("next_payment_attempt")),
    )


def _credit_note(raw: dict[str, Any]) -> ProviderCreditNote:
    return ProviderCreditNote(
        provider_credit_note_id=raw["id"],
        provider_invoice_id=raw["invoice"],
        amount_minor=int(raw["amount"]),
        reason=str(raw.get("reason") or ""),
        memo=str(raw.get("memo") or ""),
        refund=raw.get("refund") is not None,
        credit_note_id=(raw.get("metadata") or {}).get(CREDIT_NOTE_KEY),
    )


class StripePaymentProvider:
    """Invoices, payments and credit notes on Stripe (any Stripe-compatible API base)."""

    def __init__(
        self, client: stripe.StripeClient, *, webhook_secret: str, webhook_tolerance: int = 300
    ) -> None:
        self._client = client
        self._secret = webhook_secret
        self._tolerance = webhook_tolerance

    @classmethod
    def connect(
        cls, api_key: str, *, webhook_secret: str, api_base: str | None = None, max_network_retries: int = 2
    ) -> StripePaymentProvider:
        """A provider on Stripe (``api_base`` points at another Stripe-compatible server)."""
        client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
        )
        return cls(client, webhook_secret=webhook_secret)

    def _call(self, action: str, call: Callable[[], T]) -> T:
        with _translated(action):
            return call()

    def ensure_customer(self, account: BillingAccount, *, idempotency_key: str) -> str:
        """The workspace's Stripe customer (created with our workspace id in its metadata)."""
        if account.provider_customer_id:
            return account.provider_customer_id
        params: CustomerCreateParams = {
            "name": account.name,
            "metadata": {"starform_workspace_id": account.workspace_id},
        }
        if account.email:
            params["email"] = account.email
        customer = self._call(
            "create the customer",
            lambda: self._client.v1.customers.create(params=params, options=_key(idempotency_key)),
        )
        return str(customer.id)

    def _lines(self, provider_invoice_id: str, raw: dict[str, Any]) -> list[dict[str, Any]]:
        embedded = raw.get("lines") or {}
        if not embedded.get("has_more"):
            return list(embedded.get("data", []))
        pages = self._call(
            "list invoice lines",
            lambda: self._client.v1.invoices.line_items.list(provider_invoice_id, params={"limit": 100}),
        )
        return [line.to_dict() for line in pages.auto_paging_iter()]

    def _full(self, raw: dict[str, Any]) -> ProviderInvoice:
        return _invoice(raw, self._lines(raw["id"], raw))

    def find_invoice(self, customer_id: str, invoice_id: str) -> ProviderInvoice | None:
        """The customer's Stripe invoice carrying our ``invoice_id`` in its metadata."""
        pages = self._call(
            "list invoices",
            lambda: self._client.v1.invoices.list(params={"customer": customer_id, "limit": 100}),
        )
        for item in pages.auto_paging_iter():
            raw = item.to_dict()
            if (raw.get("metadata") or {}).get(INVOICE_KEY) == invoice_id:
                return self._full(raw)
        return None

    def retrieve(self, provider_invoice_id: str) -> ProviderInvoice:
        """The Stripe invoice as it is now."""
        raw = self._call("read the invoice", lambda: self._client.v1.invoices.retrieve(provider_invoice_id))
        return self._full(raw.to_dict())

    def create_invoice(
        self, customer_id: str, invoice: InvoiceRecord, *, idempotency_key: str
    ) -> ProviderInvoice:
        """A draft Stripe invoice for our invoice (lines come with :meth:`add_lines`)."""
        params: InvoiceCreateParams = {
            "customer": customer_id,
            "currency": invoice.currency,
            "collection_method": "charge_automatically",
            "auto_advance": False,
            "pending_invoice_items_behavior": "exclude",
            "description": f"Starform usage, {invoice.month}",
            "metadata": {
                INVOICE_KEY: invoice.invoice_id,
                "starform_workspace_id": invoice.workspace_id,
                "starform_month": str(invoice.month),
            },
        }
        raw = self._call(
            "create the invoice",
            lambda: self._client.v1.invoices.create(params=params, options=_key(idempotency_key)),
        )
        return self._full(raw.to_dict())

    def add_lines(
        self, customer_id: str, provider_invoice_id: str, invoice: InvoiceRecord, *, key_prefix: str
    ) -> ProviderInvoice:
        """Create the invoice items the Stripe invoice lacks (matched by line number)."""
        raw = self._call(
            "read the invoice", lambda: self._client.v1.invoices.retrieve(provider_invoice_id)
        ).to_dict()
        present = self._full(raw).line_numbers
        for number, line in enumerate(invoice.lines, start=1):
            if number in present:
                continue
            item: InvoiceItemCreateParams = {
                "customer": customer_id,
                "invoice": provider_invoice_id,
                "amount": line.amount_minor,
                "currency": invoice.currency,
                "description": line.description[:500],
                "metadata": {LINE_KEY: str(number), INVOICE_KEY: invoice.invoice_id},
            }
            key = f"{key_prefix}:{number}"
            self._add_item(number, item, key)
        raw = self._call(
            "read the invoice", lambda: self._client.v1.invoices.retrieve(provider_invoice_id)
        ).to_dict()
        return self._full(raw)

    def _add_item(self, number: int, item: InvoiceItemCreateParams, key: str) -> None:
        with _translated(f"add line {number}"):
            self._client.v1.invoice_items.create(params=item, options=_key(key))

    def finalize(self, provider_invoice_id: str, *, idempotency_key: str) -> ProviderInvoice:
        """Finalize the draft (Stripe marks a zero-due invoice paid at once)."""
        raw = self._call(
            "finalize the invoice",
            lambda: self._client.v1.invoices.finalize_invoice(
                provider_invoice_id,
                params={"auto_advance": False},
                options=_key(idempotency_key),
            ),
        )
        return self._full(raw.to_dict())

    def pay(self, provider_invoice_id: str, *, idempotency_key: str) -> ProviderInvoice:
        """Charge the customer's default payment method."""
        raw = self._call(
            "pay the invoice",
            lambda: self._client.v1.invoices.pay(provider_invoice_id, options=_key(idempotency_key)),
        )
        return self._full(raw.to_dict())

    def mark_uncollectible(self, provider_invoice_id: str, *, idempotency_key: str) -> ProviderInvoice:
        """Give up collecting the invoice."""
        raw = self._call(
            "mark the invoice uncollectible",
            lambda: self._client.v1.invoices.mark_uncollectible(
                provider_invoice_id, options=_key(idempotency_key)
            ),
        )
        return self._full(raw.to_dict())

    def create_credit_note(
        self, provider_invoice_id: str, note: CreditNoteRecord, *, idempotency_key: str
    ) -> ProviderCreditNote:
        """A credit note; on a paid invoice the amount is refunded (``refund``) or credited."""
        raw = self._call(
            "read the invoice", lambda: self._client.v1.invoices.retrieve(provider_invoice_id)
        ).to_dict()
        params: CreditNoteCreateParams = {
            "invoice": provider_invoice_id,
            "amount": note.amount_minor,
            "metadata": {CREDIT_NOTE_KEY: note.credit_note_id},
        }
        if note.reason in CREDIT_NOTE_REASONS:
            params["reason"] = note.reason
        memo = note.memo if note.reason in CREDIT_NOTE_REASONS else f"{note.reason}: {note.memo}".strip(": ")
        if memo:
            params["memo"] = memo[:500]
        if raw.get("status") == "paid":
            params["refund_amount" if note.refund else "credit_amount"] = note.amount_minor
        created = self._call(
            f"issue a credit note of {format_minor(note.amount_minor, str(raw.get('currency', 'usd')))}",
            lambda: self._client.v1.credit_notes.create(params=params, options=_key(idempotency_key)),
        )
        return _credit_note(created.to_dict())

    def parse_webhook(self, payload: bytes, signature: str) -> ProviderEvent:
        """Verify ``Stripe-Signature`` (HMAC-SHA256, 5-minute tolerance) and parse the event."""
        try:
            event = self._client.construct_event(payload, signature, self._secret, tolerance=self._tolerance)
        except stripe.SignatureVerificationError as exc:
            raise WebhookVerificationError("the webhook signature does not verify") from exc
        except ValueError as exc:
            raise WebhookVerificationError("the webhook body is not a Stripe event") from exc
        raw = event.to_dict()
        obj = (raw.get("data") or {}).get("object") or {}
        kind = obj.get("object")
        return ProviderEvent(
            event_id=str(raw["id"]),
            type=str(raw["type"]),
            created=_when(raw.get("created")) or dt.datetime.now(dt.UTC),
            invoice=_invoice(obj) if kind == "invoice" else None,
            credit_note=_credit_note(obj) if kind == "credit_note" else None,
        )
