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

from starform_apps.starbase.auth import CurrentUser, authorize_workspace
from starform_apps.starbase.billing.closing import estimate_invoice
from starform_apps.starbase.billing.dependencies import BillingRuntimeDep, WebhooksDep
from starform_apps.starbase.http_errors import ERROR_RESPONSES, HttpError
from starform_apps.starbase.ports import InvoicesDep, TenancyDep, UsageDep
from starform_apps.starbase.ratelimit import Quota, RateLimits
from starform_apps.starbase.roles import Action
from starform_apps.starbase.schemas_billing import (
    InvoiceListOut,
    InvoiceOut,
    PriceSheetOut,
    UsageOut,
    WebhookAccepted,
)
from starform_core.billing import BillingMonth
from starform_core.errors import BillingError, StoreError, WebhookVerificationError

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["billing"], responses=ERROR_RESPONSES)


@router.get("/workspaces/{workspace_id}/billing/usage", response_model=UsageOut)
def usage(
    workspace_id: UUID,
    user: CurrentUser,
    tenancy: TenancyDep,
    ledger: UsageDep,
    runtime: BillingRuntimeDep,
    month: Annotated[
        str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (default: this month)")
    ] = None,
) -> UsageOut:
    """The month's usage so far, with fees and credit, priced like its invoice (an estimate)."""
    authorize_workspace(tenancy, user, str(workspace_id), Action.BILLING_READ)
    now = runtime.clock()
    chosen = BillingMonth.parse(month) if month else BillingMonth.of(now)
    return UsageOut.of(estimate_invoice(ledger, str(workspace_id), chosen, book=runtime.book), now)


@router.get("/workspaces/{workspace_id}/invoices", response_model=InvoiceListOut)
def invoices(
    workspace_id: UUID, user: CurrentUser, tenancy: TenancyDep, store: InvoicesDep
) -> InvoiceListOut:
    """The workspace's invoices, newest month first (without lines)."""
    authorize_workspace(tenancy, user, str(workspace_id), Action.BILLING_READ)
    found = store.invoices(str(workspace_id))
    return InvoiceListOut(invoices=[InvoiceOut.of(i, lines=False) for i in found])


@router.get("/workspaces/{workspace_id}/invoices/{invoice_id}", response_model=InvoiceOut)
def invoice(
    workspace_id: UUID, invoice_id: UUID, user: CurrentUser, tenancy: TenancyDep, store: InvoicesDep
) -> InvoiceOut:
    """One invoice with its lines and credit notes."""
    authorize_workspace(tenancy, user, str(workspace_id), Action.BILLING_READ)
    found = store.invoice(str(invoice_id))
    if found.workspace_id != str(workspace_id):
        raise HttpError(404, "invoice not found")
    return InvoiceOut.of(found)


@router.get("/billing/price-sheets", response_model=list[PriceSheetOut])
def price_sheets(user: CurrentUser, runtime: BillingRuntimeDep) -> list[PriceSheetOut]:
    """Every price sheet, oldest first (a month uses the newest one in force on its first day)."""
    return [PriceSheetOut.of(sheet) for sheet in runtime.book.sheets]


@router.post(
    "/billing/webhooks/stripe",
    response_model=WebhookAccepted,
    responses={400: {"description": "The signature does not verify"}, 413: {"description": "Too large"}},
)
async def stripe_webhook(
    request: Request,
    webhooks: WebhooksDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> WebhookAccepted:
    """A Stripe event: verified by its ``Stripe-Signature``, de-duplicated, applied.

    The body guard limits it to :data:`~starform_apps.starbase.bounds.MAX_WEBHOOK_BYTES` before
    it is read; the webhook rate quota applies.
    """
    limits: RateLimits = request.app.state.rate_limits
    limits.charge(Quota.WEBHOOK, "stripe")
    if not stripe_signature:
        raise HttpError(400, "missing Stripe-Signature header")
    body = await request.body()
    try:
        outcome = await run_in_threadpool(webhooks.handle, body, stripe_signature)
    except WebhookVerificationError as exc:
        raise HttpError(400, "the webhook signature does not verify") from exc
    except (StoreError, BillingError) as exc:
        raise HttpError(503, "the event could not be processed now; it will be redelivered") from exc
    return WebhookAccepted(outcome=outcome)
