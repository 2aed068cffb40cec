"""The Stripe test server's objects and rules: customers, invoices, invoice items, credit notes, events.

Behaviour follows Stripe's API for the subset Starform uses:

* an invoice is created ``draft``; invoice items attached to it become its lines; ``finalize``
  makes it ``open`` (``paid`` at once when nothing is due);
* ``pay`` charges the customer's ``invoice_settings.default_payment_method``: Stripe's test
  payment methods ``pm_card_chargeCustomerFail``, ``pm_card_chargeDeclined`` and
  ``pm_card_chargeDeclinedInsufficientFunds`` are declined (``402 card_error``; the invoice
  stays ``open``, ``attempt_count`` grows, an ``invoice.payment_failed`` event is sent), any
  other ``pm_card_*`` succeeds (``paid``, ``invoice.paid``); no payment method is a ``400``
  after a failed attempt;
* ``mark_uncollectible`` (from ``open``), ``void`` (from ``open`` or ``uncollectible``);
* credit notes on ``open`` invoices reduce what is due; on ``paid`` invoices they need
  ``refund_amount`` + ``credit_amount`` + ``out_of_band_amount`` to equal the amount, and a
  refund is recorded. The sum of credit notes never exceeds the invoice's total.

Every change appends an event (``evt_...``) that the webhook dispatcher delivers.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from starform_testkit.stripe_testserver.errors import StripeApiError, invalid, missing

__all__ = ["DECLINING_PAYMENT_METHODS", "StripeState"]

Obj = dict[str, Any]

DECLINING_PAYMENT_METHODS = {
    "pm_card_chargeCustomerFail": "generic_decline",
    "pm_card_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
}
"""Stripe's test payment methods whose charges are declined, with their decline codes."""

_CREDIT_REASONS = {"duplicate", "fraudulent", "order_change", "product_unsatisfactory"}
API_VERSION = "2025-01-27.acacia"
EMBEDDED_LINES = 10
"""Like Stripe, an invoice embeds its first 10 lines; the rest are paged from ``/lines``."""


def _metadata(params: Obj) -> dict[str, str]:
    raw = params.get("metadata") or {}
    if not isinstance(raw, dict):
        raise invalid("Invalid metadata: must be a hash", param="metadata")
    if len(raw) > 50 or any(len(k) > 40 or len(str(v)) > 500 for k, v in raw.items()):
        raise invalid("Metadata: at most 50 keys of 40 characters, values of 500", param="metadata")
    return {str(k): str(v) for k, v in raw.items() if v != ""}


def _int(params: Obj, name: str, *, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None:
        if required:
            raise invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"Invalid integer: {str(value)[:50]}", param=name) from None


class StripeState:
    """Every object of the test account, guarded by one lock."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.customers: dict[str, Obj] = {}
        self.invoices: dict[str, Obj] = {}
        self.items: dict[str, Obj] = {}
        self.credit_notes: dict[str, Obj] = {}
        self.refunds: dict[str, Obj] = {}
        self.events: list[Obj] = []
        self.endpoints: dict[str, Obj] = {}
        self.listeners: list[Callable[[Obj], None]] = []
        self._counter = itertools.count(1)

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._counter):06d}{secrets.token_hex(6)}"

    def _now(self) -> int:
        return int(self.clock())

    def emit(self, event_type: str, obj: Obj, *, request: str | None = None, key: str | None = None) -> Obj:
        """Record an event carrying a snapshot of ``obj`` and hand it to the dispatcher."""
        event = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self._now(),
            "type": event_type,
            "livemode": False,
            "pending_webhooks": len(self.endpoints),
            "request": {"id": request, "idempotency_key": key},
            "data": {"object": self.render(obj)},
        }
        self.events.append(event)
        for listener in self.listeners:
            listener(event)
        return event

    # customers -----------------------------------------------------------------------------

    def create_customer(self, params: Obj) -> Obj:
        """``POST /v1/customers``."""
        customer: Obj = {
            "id": self._id("cus"),
            "object": "customer",
            "created": self._now(),
            "name": params.get("name"),
            "email": params.get("email"),
            "description": params.get("description"),
            "metadata": _metadata(params),
            "invoice_settings": {"default_payment_method": None},
            "livemode": False,
        }
        self._apply_invoice_settings(customer, params)
        self.customers[customer["id"]] = customer
        self.emit("customer.created", customer)
        return customer

    @staticmethod
    def _apply_invoice_settings(customer: Obj, params: Obj) -> None:
        settings = params.get("invoice_settings") or {}
        if "default_payment_method" in settings:
            method = settings["default_payment_method"] or None
            if method is not None and not str(method).startswith("pm_"):
                raise invalid(
                    f"No such PaymentMethod: '{str(method)[:60]}'",
                    param="invoice_settings[default_payment_method]",
                )
            customer["invoice_settings"]["default_payment_method"] = method

    def customer(self, customer_id: str) -> Obj:
        """``GET /v1/customers/{id}``."""
        if customer_id not in self.customers:
            raise missing("customer", customer_id)
        return self.customers[customer_id]

    def update_customer(self, customer_id: str, params: Obj) -> Obj:
        """``POST /v1/customers/{id}``."""
        customer = self.customer(customer_id)
        for key in ("name", "email", "description"):
            if key in params:
                customer[key] = params[key] or None
        if "metadata" in params:
            customer["metadata"] = {**customer["metadata"], **_metadata(params)}
        self._apply_invoice_settings(customer, params)
        self.emit("customer.updated", customer)
        return customer

    # invoices ------------------------------------------------------------------------------

    def create_invoice(self, params: Obj) -> Obj:
        """``POST /v1/invoices``: a draft for a customer."""
        customer_id = params.get("customer")
        if not customer_id:
            raise invalid("Missing required param: customer.", param="customer", code="parameter_missing")
        self.customer(customer_id)
        currency = str(params.get("currency") or "usd").lower()
        method = params.get("collection_method", "charge_automatically")
        if method not in ("charge_automatically", "send_invoice"):
            raise invalid(f"Invalid collection_method: {str(method)[:40]}", param="collection_method")
        invoice = {
            "id": self._id("in"),
            "object": "invoice",
            "customer": customer_id,
            "currency": currency,
            "status": "draft",
            "collection_method": method,
            "auto_advance": str(params.get("auto_advance", "false")).lower() == "true",
            "description": params.get("description"),
            "metadata": _metadata(params),
            "created": self._now(),
            "attempt_count": 0,
            "attempted": False,
            "next_payment_attempt": None,
            "amount_paid": 0,
            "pre_payment_credit_notes_amount": 0,
            "post_payment_credit_notes_amount": 0,
            "status_transitions": {
                "finalized_at": None,
                "paid_at": None,
                "marked_uncollectible_at": None,
                "voided_at": None,
            },
            "livemode": False,
            "_lines": [],
        }
        self.invoices[invoice["id"]] = invoice
        self.emit("invoice.created", invoice)
        return invoice

    def invoice(self, invoice_id: str) -> Obj:
        """``GET /v1/invoices/{id}``."""
        if invoice_id not in self.invoices:
            raise missing("invoice", invoice_id)
        return self.invoices[invoice_id]

    def list_invoices(self, params: Obj) -> list[Obj]:
        """``GET /v1/invoices`` (filters: ``customer``, ``status``), newest first."""
        found = [
            inv
            for inv in self.invoices.values()
            if (not params.get("customer") or inv["customer"] == params["customer"])
            and (not params.get("status") or inv["status"] == params["status"])
        ]
        return sorted(found, key=lambda inv: (inv["created"], inv["id"]), reverse=True)

    def create_item(self, params: Obj) -> Obj:
        """``POST /v1/invoiceitems``: a line on a draft invoice."""
        customer_id = params.get("customer")
        if not customer_id:
            raise invalid("Missing required param: customer.", param="customer", code="parameter_missing")
        self.customer(customer_id)
        invoice = self.invoice(params["invoice"]) if params.get("invoice") else None
        if invoice is None:
            raise invalid("This test server needs invoice items attached to an invoice.", param="invoice")
        if invoice["status"] != "draft":
            raise invalid(
                f"You can only add invoice items to draft invoices; {invoice['id']} is {invoice['status']}.",
                param="invoice",
            )
        if invoice["customer"] != customer_id:
            raise invalid("The invoice belongs to another customer.", param="invoice")
        amount = _int(params, "amount", required=True)
        currency = str(params.get("currency") or invoice["currency"]).lower()
        if currency != invoice["currency"]:
            raise invalid("The item's currency differs from the invoice's.", param="currency")
        item = {
            "id": self._id("ii"),
            "object": "invoiceitem",
            "customer": customer_id,
            "invoice": invoice["id"],
            "amount": amount,
            "currency": currency,
            "description": params.get("description"),
            "metadata": _metadata(params),
            "date": self._now(),
            "livemode": False,
        }
        self.items[item["id"]] = item
        invoice["_lines"].append(item["id"])
        return item

    def finalize(self, invoice_id: str) -> Obj:
        """``POST /v1/invoices/{id}/finalize``."""
        invoice = self.invoice(invoice_id)
        if invoice["status"] != "draft":
            raise invalid(
                "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
                code="invoice_not_editable",
            )
        invoice["status"] = "open"
        invoice["status_transitions"]["finalized_at"] = self._now()
        self.emit("invoice.finalized", invoice)
        if self.amount_due(invoice) == 0:
            self._mark_paid(invoice)
        return invoice

    def _mark_paid(self, invoice: Obj) -> None:
        invoice["amount_paid"] = self.amount_due(invoice)
        invoice["status"] = "paid"
        invoice["status_transitions"]["paid_at"] = self._now()
        invoice["next_payment_attempt"] = None
        self.emit("invoice.paid", invoice)
        self.emit("invoice.payment_succeeded", invoice)

    def pay(self, invoice_id: str) -> Obj:
        """``POST /v1/invoices/{id}/pay``: charge the customer's default payment method."""
        invoice = self.invoice(invoice_id)
        if invoice["status"] == "paid":
            raise invalid("Invoice is already paid", code="invoice_already_paid")
        if invoice["status"] not in ("open", "uncollectible"):
            raise invalid(
                f"You can only pay an open invoice; this one is {invoice['status']}.", code="invoice_not_open"
            )
        method = self.customers[invoice["customer"]]["invoice_settings"]["default_payment_method"]
        if method is None or method in DECLINING_PAYMENT_METHODS:
            invoice["attempt_count"] += 1
            invoice["attempted"] = True
            self.emit("invoice.payment_failed", invoice)
            if method is None:
                raise invalid(
                    "This customer has no attached payment source or default payment method.",
                    code="invoice_no_customer_payment_method",
                )
            raise StripeApiError(
                402,
                "card_error",
                "Your card was declined.",
                code="card_declined",
                decline_code=DECLINING_PAYMENT_METHODS[method],
            )
        invoice["attempt_count"] += 1
        invoice["attempted"] = True
        self._mark_paid(invoice)
        return invoice

    def mark_uncollectible(self, invoice_id: str) -> Obj:
        """``POST /v1/invoices/{id}/mark_uncollectible``."""
        invoice = self.invoice(invoice_id)
        if invoice["status"] != "open":
            raise invalid(
                f"You can only mark an open invoice uncollectible; this one is {invoice['status']}."
            )
        invoice["status"] = "uncollectible"
        invoice["status_transitions"]["marked_uncollectible_at"] = self._now()
        self.emit("invoice.marked_uncollectible", invoice)
        return invoice

    def void(self, invoice_id: str) -> Obj:
        """``POST /v1/invoices/{id}/void``."""
        invoice = self.invoice(invoice_id)
        if invoice["status"] not in ("open", "uncollectible"):
            raise invalid(
                f"You can only void an open or uncollectible invoice; this one is {invoice['status']}."
            )
        invoice["status"] = "void"
        invoice["status_transitions"]["voided_at"] = self._now()
        self.emit("invoice.voided", invoice)
        return invoice

    def total(self, invoice: Obj) -> int:
        """The sum of the invoice's lines."""
        return sum(self.items[i]["amount"] for i in invoice["_lines"])

    def amount_due(self, invoice: Obj) -> int:
        """What is left to pay before payment (total less pre-payment credit notes)."""
        return max(0, self.total(invoice) - int(invoice["pre_payment_credit_notes_amount"]))

    # credit notes --------------------------------------------------------------------------

    def create_credit_note(self, params: Obj) -> Obj:
        """``POST /v1/credit_notes``."""
        invoice = self.invoice(str(params.get("invoice") or ""))
        if invoice["status"] not in ("open", "paid"):
            raise invalid("You can only create a credit note on an open or paid invoice.", param="invoice")
        amount = _int(params, "amount", required=True) or 0
        reason = params.get("reason")
        if reason is not None and reason not in _CREDIT_REASONS:
            raise invalid(f"Invalid reason: {str(reason)[:40]}", param="reason")
        credited = invoice["pre_payment_credit_notes_amount"] + invoice["post_payment_credit_notes_amount"]
        if amount <= 0 or amount + credited > self.total(invoice):
            raise invalid(
                "The credit note amount must be positive and at most the invoice's remaining total.",
                param="amount",
            )
        refund_amount = _int(params, "refund_amount") or 0
        parts = (
            refund_amount + (_int(params, "credit_amount") or 0) + (_int(params, "out_of_band_amount") or 0)
        )
        post_payment = invoice["status"] == "paid"
        if post_payment and parts != amount:
            raise invalid(
                "refund_amount + credit_amount + out_of_band_amount must equal a paid invoice's amount.",
                param="amount",
            )
        note = {
            "id": self._id("cn"),
            "object": "credit_note",
            "invoice": invoice["id"],
            "customer": invoice["customer"],
            "amount": amount,
            "currency": invoice["currency"],
            "reason": reason,
            "memo": params.get("memo"),
            "metadata": _metadata(params),
            "status": "issued",
            "type": "post_payment" if post_payment else "pre_payment",
            "refund": None,
            "created": self._now(),
            "livemode": False,
        }
        if refund_amount:
            refund: Obj = {
                "id": self._id("re"),
                "object": "refund",
                "amount": refund_amount,
                "status": "succeeded",
            }
            self.refunds[refund["id"]] = refund
            note["refund"] = refund["id"]
        key = "post_payment_credit_notes_amount" if post_payment else "pre_payment_credit_notes_amount"
        invoice[key] += amount
        self.credit_notes[note["id"]] = note
        self.emit("credit_note.created", note)
        if not post_payment and self.amount_due(invoice) == 0:
            self._mark_paid(invoice)
        return note

    def list_credit_notes(self, params: Obj) -> list[Obj]:
        """``GET /v1/credit_notes`` (filter: ``invoice``)."""
        return [
            n
            for n in self.credit_notes.values()
            if not params.get("invoice") or n["invoice"] == params["invoice"]
        ]

    # webhook endpoints and events ----------------------------------------------------------

    def create_endpoint(self, params: Obj) -> Obj:
        """``POST /v1/webhook_endpoints``: the answer carries the signing ``secret`` (once)."""
        url = params.get("url")
        if not url or not str(url).startswith(("http://", "https://")):
            raise invalid("Invalid URL", param="url")
        events = params.get("enabled_events") or []
        if not events:
            raise invalid(
                "Missing required param: enabled_events.", param="enabled_events", code="parameter_missing"
            )
        endpoint = {
            "id": self._id("we"),
            "object": "webhook_endpoint",
            "url": url,
            "enabled_events": list(events),
            "status": "enabled",
            "created": self._now(),
            "secret": "whsec_" + secrets.token_hex(24),
            "livemode": False,
        }
        self.endpoints[endpoint["id"]] = endpoint
        return endpoint

    def update_endpoint(self, endpoint_id: str, params: Obj) -> Obj:
        """``POST /v1/webhook_endpoints/{id}``: change the URL or the enabled events."""
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is None:
            raise missing("webhook_endpoint", endpoint_id)
        if "url" in params:
            if not str(params["url"]).startswith(("http://", "https://")):
                raise invalid("Invalid URL", param="url")
            endpoint["url"] = params["url"]
        if params.get("enabled_events"):
            endpoint["enabled_events"] = list(params["enabled_events"])
        return {k: v for k, v in endpoint.items() if k != "secret"}

    def list_events(self, params: Obj) -> list[Obj]:
        """``GET /v1/events`` (filter: ``type``), newest first."""
        found = [e for e in self.events if not params.get("type") or e["type"] == params["type"]]
        return list(reversed(found))

    # rendering -----------------------------------------------------------------------------

    def render(self, obj: Obj) -> Obj:
        """The API representation of an object (invoices get their totals and lines)."""
        out = {k: v for k, v in obj.items() if not k.startswith("_")}
        if obj.get("object") == "invoice":
            lines = [self._line(self.items[i]) for i in obj["_lines"]]
            total = self.total(obj)
            due = self.amount_due(obj)
            out.update(
                subtotal=total,
                total=total,
                amount_due=due,
                amount_remaining=0 if obj["status"] in ("paid", "void") else due - obj["amount_paid"],
                lines={
                    "object": "list",
                    "data": lines[:EMBEDDED_LINES],
                    "has_more": len(lines) > EMBEDDED_LINES,
                    "total_count": len(lines),
                    "url": f"/v1/invoices/{obj['id']}/lines",
                },
            )
        return out

    def lines(self, invoice_id: str) -> list[Obj]:
        """``GET /v1/invoices/{id}/lines``: every line of an invoice."""
        return [self._line(self.items[i]) for i in self.invoice(invoice_id)["_lines"]]

    @staticmethod
    def _line(item: Obj) -> Obj:
        return {
            "id": "il_" + item["id"][3:],
            "object": "line_item",
            "invoice": item["invoice"],
            "invoice_item": item["id"],
            "amount": item["amount"],
            "currency": item["currency"],
            "description": item["description"],
            "metadata": dict(item["metadata"]),
            "livemode": False,
        }
