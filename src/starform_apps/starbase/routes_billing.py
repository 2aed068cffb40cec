"""Billing for people (Owner and Billing roles: money, not code), price sheets, provider webhooks.

==========================================================  =====================================
``GET /v1/workspaces/{id}/billing/usage?month=YYYY-MM``      usage so far (default: this month),
                                                             priced as its invoice would be now
``GET /v1/workspaces/{id}/invoices``                         the workspace's invoices
``GET /v1/workspaces/{id}/invoices/{invoice_id}``            one invoice with lines, credit notes
``GET /v1/billing/price-sheets``                             every price sheet (any user)
``POST /v1/billing/webhooks/stripe``                         the provider's events (signed)
==========================================================  =====================================
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool

from starform_apps.starbase.auth import CurrentUser, authorize_workspace, store_of
from starform_apps.starbase.http_errors import ERROR_RESPONSES, HttpError
from starform_apps.starbase.roles import Action
from starform_apps.starbase.routes_usage import billing_of
from starform_apps.starbase.schemas_billing import (
    InvoiceListOut,
    InvoiceOut,
    PriceSheetOut,
    UsageOut,
    WebhookAccepted,
)
from starform_core.billing import BillingMonth
from starform_core.errors import BillingError, StoreError, WebhookVerificationError

__all__ = ["MAX_WEBHOOK_BYTES", "router"]

router = APIRouter(prefix="/v1", tags=["billing"], responses=ERROR_RESPONSES)
MAX_WEBHOOK_BYTES = 512 * 1024
"""The largest provider event accepted."""


@router.get("/workspaces/{workspace_id}/billing/usage", response_model=UsageOut)
def usage(
    workspace_id: UUID,
    request: Request,
    user: CurrentUser,
    month: Annotated[
        str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (default: this month)")
    ] = None,
) -> UsageOut:
    """The month's usage so far, with fees and credit, priced like its invoice (an estimate)."""
    authorize_workspace(store_of(request), user, str(workspace_id), Action.BILLING_READ)
    billing = billing_of(request)
    now = billing.clock()
    chosen = BillingMonth.parse(month) if month else BillingMonth.of(now)
    return UsageOut.of(billing.close.estimate(str(workspace_id), chosen), now)


@router.get("/workspaces/{workspace_id}/invoices", response_model=InvoiceListOut)
def invoices(workspace_id: UUID, request: Request, user: CurrentUser) -> InvoiceListOut:
    """The workspace's invoices, newest month first (without lines)."""
    authorize_workspace(store_of(request), user, str(workspace_id), Action.BILLING_READ)
    found = billing_of(request).invoices.invoices(str(workspace_id))
    return InvoiceListOut(invoices=[InvoiceOut.of(i, lines=False) for i in found])


@router.get("/workspaces/{workspace_id}/invoices/{invoice_id}", response_model=InvoiceOut)
def invoice(workspace_id: UUID, invoice_id: UUID, request: Request, user: CurrentUser) -> InvoiceOut:
    """One invoice with its lines and credit notes."""
    authorize_workspace(store_of(request), user, str(workspace_id), Action.BILLING_READ)
    found = billing_of(request).invoices.invoice(str(invoice_id))
    if found.workspace_id != str(workspace_id):
        raise HttpError(404, "invoice not found")
    return InvoiceOut.of(found)


@router.get("/billing/price-sheets", response_model=list[PriceSheetOut])
def price_sheets(request: Request, user: CurrentUser) -> list[PriceSheetOut]:
    """Every price sheet, oldest first (a month uses the newest one in force on its first day)."""
    return [PriceSheetOut.of(sheet) for sheet in billing_of(request).book.sheets]


@router.post(
    "/billing/webhooks/stripe",
    response_model=WebhookAccepted,
    responses={400: {"description": "The signature does not verify"}, 413: {"description": "Too large"}},
)
async def stripe_webhook(
    request: Request, stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None
) -> WebhookAccepted:
    """A Stripe event: verified by its ``Stripe-Signature``, de-duplicated, applied."""
    billing = billing_of(request)
    if billing.provider is None:
        raise HttpError(404, "no payment provider is configured on this Starbase (STRIPE_API_KEY)")
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise HttpError(413, f"a webhook body may be at most {MAX_WEBHOOK_BYTES} bytes")
    if not stripe_signature:
        raise HttpError(400, "missing Stripe-Signature header")
    try:
        outcome = await run_in_threadpool(billing.webhooks.handle, body, stripe_signature)
    except WebhookVerificationError as exc:
        raise HttpError(400, "the webhook signature does not verify") from exc
    except (StoreError, BillingError) as exc:
        raise HttpError(503, "the event could not be processed now; it will be redelivered") from exc
    return WebhookAccepted(outcome=outcome)
