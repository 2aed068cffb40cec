"""The monthly close, collection and dunning, end to end on PostgreSQL and the Stripe test server."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import stripe
from prometheus_client import CollectorRegistry
from psycopg_pool import ConnectionPool
from tests.billing.harness import Clock, CrashAfter, RecordingScheduler, billing_on
from tests.billing.receiver import WebhookReceiver
from tests.billing.world import Tenant, change_tier, make_tenant

from starform_adapters.postgres import open_pool
from starform_adapters.postgres.billing import PostgresInvoiceStore
from starform_apps.starbase.billing import Billing
from starform_core.billing import (
    BillingMonth,
    InvoiceStatus,
    LineKind,
    SampleKind,
    UsageSample,
    UsageSnapshot,
)
from starform_core.errors import UsageAuditError, ValidationError
from starform_core.model.tenant import TenantKey
from starform_testkit.stripe_testserver import StripeTestServer

NOVEMBER = BillingMonth(2026, 11)
AFTER = dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def pool(database_url: str) -> Iterator[ConnectionPool]:
    """A pool on the module's database."""
    pool = open_pool(database_url, max_size=4)
    yield pool
    pool.close()


def _run_pods(
    billing: Billing, tenant: Tenant, hours: int, *, cpu: int = 1000, start: dt.datetime | None = None
) -> None:
    """One pod per service running ``hours`` hours from ``start``, in contiguous 5-minute windows."""
    begin = start or dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
    uids = {s: str(uuid.uuid4()) for s in tenant.services}
    for step in range(hours * 12):
        window = begin + dt.timedelta(minutes=5 * step)
        samples = [
            UsageSample(
                SampleKind.POD,
                uids[s],
                TenantKey(tenant.workspace_id, tenant.project_id, tenant.environment, s),
                "Running",
                cpu_millis=cpu,
                memory_bytes=2**30,
            )
            for s in tenant.services
        ]
        snap = UsageSnapshot(
            tenant.cluster_id,
            f"{tenant.project_id}-{int(window.timestamp())}",
            window,
            window + dt.timedelta(minutes=5),
            samples,
        )
        billing.ingestion.ingest(snap)


def _tenant(database_url: str, **kwargs: object) -> Tenant:
    return make_tenant(database_url, owner_email=f"owner-{uuid.uuid4().hex[:6]}@example.com", **kwargs)  # type: ignore[arg-type]


def _card(billing: Billing, server: StripeTestServer, tenant: Tenant, payment_method: str) -> str:
    """The workspace's customer (made with the close's own key) with a default payment method."""
    assert billing.provider is not None
    account = billing.invoices.account(tenant.workspace_id)
    customer = billing.provider.ensure_customer(
        account, idempotency_key=f"starform:customer:{tenant.workspace_id}"
    )
    server.set_default_payment_method(customer, payment_method)
    return customer


def _customer_of(billing: Billing, workspace_id: str) -> str:
    customer = billing.invoices.account(workspace_id).provider_customer_id
    assert customer is not None
    return customer


def test_a_month_closes_into_one_paid_invoice_however_often_it_is_closed(
    pool: ConnectionPool, database_url: str, stripe_server: StripeTestServer
) -> None:
    clock = Clock(dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
    billing = billing_on(pool, stripe_server, clock=clock)
    tenant = _tenant(database_url, tier="hobby")
    _run_pods(billing, tenant, 20, cpu=10_000)
    with pytest.raises(ValidationError, match="not over"):
        billing.close.close(tenant.workspace_id, NOVEMBER)
    clock.now = AFTER
    # Per service: 20 h x 10 vCPU = 12,000 vCPU-minutes ($5.556) and 1,200 GiB-minutes ($0.2772).
    estimate = billing.close.estimate(tenant.workspace_id, NOVEMBER)
    assert [(x.kind, x.amount_minor) for x in estimate.lines] == [
        (LineKind.PLAN_FEE, 500),
        (LineKind.USAGE, 556),
        (LineKind.USAGE, 28),
        (LineKind.USAGE, 556),
        (LineKind.USAGE, 28),
        (LineKind.PLAN_CREDIT, -500),
    ]
    customer = _card(billing, stripe_server, tenant, "pm_card_visa")
    first = billing.close.close(tenant.workspace_id, NOVEMBER)
    second = billing.close.close(tenant.workspace_id, NOVEMBER)
    assert first is not None and second == first
    assert second.status is InvoiceStatus.PAID and second.total_minor == 500 + 2 * (556 + 28) - 500
    (remote,) = stripe_server.invoices(customer=customer)
    assert (remote["status"], remote["total"], remote["id"]) == (
        "paid",
        second.total_minor,
        second.provider_invoice_id,
    )
    assert billing.close.estimate(tenant.workspace_id, NOVEMBER).lines[0].kind is LineKind.PLAN_FEE
    assert [x.kind for x in billing.close.estimate(tenant.workspace_id, NOVEMBER).lines] == [
        LineKind.PLAN_FEE
    ]


@pytest.mark.parametrize("crash_after", ["create_invoice", "add_lines", "finalize", "pay"])
def test_a_crash_between_the_provider_and_the_database_still_gives_one_invoice(
    pool: ConnectionPool, database_url: str, stripe_server: StripeTestServer, crash_after: str
) -> None:
    clock = Clock(AFTER)
    tenant = _tenant(database_url, tier="pro")
    _run_pods(billing_on(pool, None, clock=clock), tenant, 3)
    crashing = billing_on(pool, stripe_server, clock=clock, wrap=lambda p: CrashAfter(p, crash_after))  # type: ignore[arg-type,return-value]
    _card(crashing, stripe_server, tenant, "pm_card_visa")
    with pytest.raises(KeyboardInterrupt):
        crashing.close.close(tenant.workspace_id, NOVEMBER)
    stripe_server.expire_idempotency_keys()  # the retry comes after the provider's 24-hour window
    healthy = billing_on(pool, stripe_server, clock=clock)
    invoice = healthy.close.close(tenant.workspace_id, NOVEMBER)
    assert invoice is not None and invoice.status is InvoiceStatus.PAID
    (remote,) = stripe_server.invoices(customer=_customer_of(healthy, tenant.workspace_id))
    assert remote["lines"]["total_count"] == len(invoice.lines)
    assert remote["total"] == invoice.total_minor and remote["status"] == "paid"
    assert healthy.close.close(tenant.workspace_id, NOVEMBER) == invoice


def test_a_failed_payment_is_retried_on_the_dunning_schedule_until_paid(
    pool: ConnectionPool, database_url: str, stripe_server: StripeTestServer
) -> None:
    clock = Clock(AFTER)
    scheduler = RecordingScheduler()
    billing = billing_on(pool, stripe_server, clock=clock, scheduler=scheduler)
    tenant = _tenant(database_url, tier="pro")
    _run_pods(billing, tenant, 2, cpu=8000)
    billing.close.close(tenant.workspace_id, NOVEMBER)  # no payment method yet: attempt 1 fails
    invoice = billing.invoices.invoice_for(tenant.workspace_id, NOVEMBER)
    assert invoice is not None and (invoice.status, invoice.attempt_count) == (
        InvoiceStatus.PAYMENT_FAILED,
        1,
    )
    assert scheduler.collects == [(invoice.invoice_id, 2, AFTER + dt.timedelta(days=3))]
    customer = _customer_of(billing, tenant.workspace_id)
    stripe_server.set_default_payment_method(customer, "pm_card_chargeDeclinedInsufficientFunds")
    clock.now = AFTER + dt.timedelta(days=3)
    billing.collection.collect(invoice.invoice_id, 2)
    billing.collection.collect(invoice.invoice_id, 2)  # a duplicate job: no second attempt
    assert scheduler.collects[-1] == (invoice.invoice_id, 3, clock.now + dt.timedelta(days=5))
    stripe_server.set_default_payment_method(customer, "pm_card_visa")
    clock.now += dt.timedelta(days=5)
    paid = billing.collection.collect(invoice.invoice_id, 3)
    assert (paid.status, paid.attempt_count) == (InvoiceStatus.PAID, 3)
    (remote,) = stripe_server.invoices(customer=customer)
    assert (remote["status"], remote["attempt_count"]) == ("paid", 3)
    history = PostgresInvoiceStore(pool).invoice_history(invoice.invoice_id)
    assert [to for _, to, _ in history] == ["draft", "open", "payment_failed", "payment_failed", "paid"]


def test_dunning_gives_up_after_the_last_attempt(
    pool: ConnectionPool, database_url: str, stripe_server: StripeTestServer
) -> None:
    clock = Clock(AFTER)
    scheduler = RecordingScheduler()
    billing = billing_on(pool, stripe_server, clock=clock, scheduler=scheduler)
    tenant = _tenant(database_url, tier="enterprise")
    billing.close.close(tenant.workspace_id, NOVEMBER)
    invoice = billing.invoices.invoice_for(tenant.workspace_id, NOVEMBER)
    assert invoice is not None
    for attempt in (2, 3, 4):
        billing.collection.collect(invoice.invoice_id, attempt)
    final = billing.invoices.invoice(invoice.invoice_id)
    assert (final.status, final.attempt_count) == (InvoiceStatus.UNCOLLECTIBLE, 4)
    assert [a for _, a, _ in scheduler.collects] == [2, 3, 4]
    (remote,) = stripe_server.invoices(customer=_customer_of(billing, tenant.workspace_id))
    assert remote["status"] == "uncollectible"


def test_webhooks_drive_the_lifecycle_once_per_event(
    pool: ConnectionPool,
    database_url: str,
    stripe_server: StripeTestServer,
    hook: tuple[WebhookReceiver, str],
) -> None:
    receiver, secret = hook
    clock = Clock(AFTER)
    scheduler = RecordingScheduler()
    billing = billing_on(pool, stripe_server, clock=clock, scheduler=scheduler, webhook_secret=secret)
    tenant = _tenant(database_url, tier="hobby")
    _run_pods(billing, tenant, 2, cpu=4000)
    invoice = billing.close.close(tenant.workspace_id, NOVEMBER)
    assert invoice is not None and invoice.status is InvoiceStatus.PAYMENT_FAILED
    pid = invoice.provider_invoice_id
    stripe_server.wait(
        lambda: any(
            pid is not None and pid.encode() in r.body and b"invoice.payment_failed" in r.body
            for r in receiver.received
        )
    )
    outcomes = [
        billing.webhooks.handle(r.body, r.signature)
        for r in list(receiver.received)
        if pid.encode() in r.body
    ]
    assert "processed" in outcomes
    assert len(scheduler.collects) == 1  # the job recorded the failure first; the webhook found it done
    again = [
        billing.webhooks.handle(r.body, r.signature)
        for r in list(receiver.received)
        if pid.encode() in r.body
    ]
    assert set(again) == {"duplicate"}
    # The customer pays at the provider (a hosted page, say): only the webhook tells Starbase.
    customer = _customer_of(billing, tenant.workspace_id)
    stripe_server.set_default_payment_method(customer, "pm_card_visa")
    client = stripe.StripeClient(stripe_server.api_key, base_addresses={"api": stripe_server.url})
    client.v1.invoices.pay(pid)
    stripe_server.wait(
        lambda: any(pid.encode() in r.body and b'"invoice.paid"' in r.body for r in receiver.received)
    )
    for delivery in [r for r in receiver.received if pid.encode() in r.body]:
        billing.webhooks.handle(delivery.body, delivery.signature)
    assert billing.invoices.invoice(invoice.invoice_id).status is InvoiceStatus.PAID
    stale = next(
        r for r in receiver.received if pid.encode() in r.body and b"invoice.payment_failed" in r.body
    )
    event = json.loads(stale.body)
    assert event["type"] == "invoice.payment_failed"
    assert billing.invoices.invoice(invoice.invoice_id).status is InvoiceStatus.PAID


def test_refunds_are_credit_notes_recorded_once(
    pool: ConnectionPool,
    database_url: str,
    stripe_server: StripeTestServer,
    hook: tuple[WebhookReceiver, str],
) -> None:
    receiver, secret = hook
    clock = Clock(AFTER)
    billing = billing_on(pool, stripe_server, clock=clock, webhook_secret=secret)
    tenant = _tenant(database_url, tier="pro")
    billing.close.close(tenant.workspace_id, NOVEMBER)  # no card: stays unpaid
    stripe_server.set_default_payment_method(_customer_of(billing, tenant.workspace_id), "pm_card_visa")
    invoice = billing.invoices.invoice_for(tenant.workspace_id, NOVEMBER)
    assert invoice is not None
    paid = billing.collection.collect(invoice.invoice_id, 2)
    assert paid.status is InvoiceStatus.PAID and paid.total_minor == 2000
    note = billing.collection.credit_note(
        invoice.invoice_id, 750, "product_unsatisfactory", memo="outage on Nov 3"
    )
    with pytest.raises(ValidationError, match="amount"):
        billing.collection.credit_note(invoice.invoice_id, 1251, "duplicate")
    stripe_server.wait(
        lambda: any(
            note.provider_credit_note_id and note.provider_credit_note_id.encode() in r.body
            for r in receiver.received
        )
    )
    for delivery in [r for r in receiver.received if b"credit_note.created" in r.body]:
        billing.webhooks.handle(delivery.body, delivery.signature)
    stored = billing.invoices.invoice(invoice.invoice_id)
    assert [(n.amount_minor, n.refund, n.provider_credit_note_id) for n in stored.credit_notes] == [
        (750, True, note.provider_credit_note_id)
    ]
    assert stored.status is InvoiceStatus.PAID


def test_a_mid_month_tier_change_is_prorated_and_rated_per_tier(
    pool: ConnectionPool, database_url: str
) -> None:
    clock = Clock(AFTER)
    billing = billing_on(pool, None, clock=clock)
    tenant = _tenant(database_url, tier="hobby", services=1)
    change = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)
    change_tier(database_url, tenant.project_id, "pro", change)
    _run_pods(billing, tenant, 10, start=change - dt.timedelta(hours=5))
    invoice = billing.close.close(tenant.workspace_id, NOVEMBER)
    assert invoice is not None and invoice.status is InvoiceStatus.DRAFT  # no provider: kept as a draft
    fees = [(x.tier.value, x.amount_minor) for x in invoice.lines if x.kind is LineKind.PLAN_FEE]
    # Oct 1 -> Nov 16 hobby (15 of 30 days: $2.50), Nov 16 -> pro (15 days: $10.00).
    assert fees == [("hobby", 250), ("pro", 1000)]
    usage = {
        (x.tier.value, x.resource.value): x.quantity
        for x in invoice.lines
        if x.kind is LineKind.USAGE and x.resource
    }
    assert usage[("hobby", "vcpu")] == usage[("pro", "vcpu")] == 300


def test_late_usage_lands_on_the_next_invoice_at_its_own_months_prices(
    pool: ConnectionPool, database_url: str
) -> None:
    clock = Clock(AFTER)
    billing = billing_on(pool, None, clock=clock)
    tenant = _tenant(database_url, tier="free", services=1)
    _run_pods(billing, tenant, 1)
    november = billing.close.close(tenant.workspace_id, NOVEMBER)
    assert november is not None
    _run_pods(billing, tenant, 1, start=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))  # an outbox drained late
    clock.now = dt.datetime(2027, 1, 1, 6, tzinfo=dt.UTC)
    december = billing.close.close(tenant.workspace_id, BillingMonth(2026, 12))
    assert december is not None
    late = [x for x in december.lines if x.kind is LineKind.USAGE]
    assert late and all(str(x.usage_month) == "2026-11" and "late usage" in x.description for x in late)
    assert [x.quantity for x in late if x.resource and x.resource.value == "vcpu"] == [60]
    assert billing.close.close(tenant.workspace_id, NOVEMBER) == november


def test_the_monthly_job_lists_workspaces_to_close_or_to_finish(
    pool: ConnectionPool, database_url: str, stripe_server: StripeTestServer
) -> None:
    clock = Clock(AFTER)
    scheduler = RecordingScheduler()
    offline = billing_on(pool, None, clock=clock, scheduler=scheduler)
    tenant = _tenant(database_url, tier="hobby")
    assert tenant.workspace_id in offline.close.close_all(NOVEMBER)
    assert (tenant.workspace_id, NOVEMBER) in scheduler.closes
    draft = offline.close.close(tenant.workspace_id, NOVEMBER)
    assert draft is not None and draft.status is InvoiceStatus.DRAFT
    assert tenant.workspace_id in offline.invoices.workspaces_with_charges(NOVEMBER)  # still to finish
    online = billing_on(pool, stripe_server, clock=clock)
    _card(online, stripe_server, tenant, "pm_card_visa")
    sent = online.close.close(tenant.workspace_id, NOVEMBER)
    assert sent is not None and sent.invoice_id == draft.invoice_id and sent.status is InvoiceStatus.PAID
    assert tenant.workspace_id not in online.invoices.workspaces_with_charges(NOVEMBER)
    with psycopg.connect(database_url) as conn:
        count = conn.execute(
            "SELECT count(*) FROM billing_invoices WHERE workspace_id = %s", (tenant.workspace_id,)
        ).fetchone()
    assert count == (1,)


class _FlakyAudit:
    """An audit trail that is down for the first ``failures`` appends."""

    def __init__(self, inner: object, failures: int) -> None:
        self._inner = inner
        self.failures = failures

    def append(self, *args: object, **kwargs: object) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise UsageAuditError("ClickHouse is down")
        self._inner.append(*args, **kwargs)  # type: ignore[attr-defined]

    def snapshots(self, **kwargs: object) -> object:
        return self._inner.snapshots(**kwargs)  # type: ignore[attr-defined]


def test_an_audit_outage_is_retried_without_billing_twice(pool: ConnectionPool, database_url: str) -> None:
    from starform_adapters.postgres.billing import PostgresBillingStore, PostgresUsageAuditTrail
    from starform_apps.starbase.billing import BillingConfig, assemble_billing

    store = PostgresBillingStore(pool)
    audit = _FlakyAudit(PostgresUsageAuditTrail(pool), failures=1)
    billing = assemble_billing(
        config=BillingConfig(),
        ledger=store,
        invoices=store,
        audit=audit,  # type: ignore[arg-type]
        provider=None,
        registry=CollectorRegistry(),
        clock=Clock(AFTER),
    )
    tenant = _tenant(database_url, services=1)
    start = dt.datetime(2026, 11, 12, tzinfo=dt.UTC)
    sample = UsageSample(
        SampleKind.POD,
        str(uuid.uuid4()),
        TenantKey(tenant.workspace_id, tenant.project_id, tenant.environment, tenant.services[0]),
        "Running",
        cpu_millis=1000,
        memory_bytes=1,
    )
    snapshot = UsageSnapshot(tenant.cluster_id, "outage", start, start + dt.timedelta(minutes=1), [sample])
    with pytest.raises(UsageAuditError):
        billing.ingestion.ingest(snapshot)  # answered 503: the agent retries
    again = billing.ingestion.ingest(snapshot)
    assert again.duplicate is True
    (quantities,) = store.usage_totals(tenant.workspace_id, NOVEMBER).values()
    assert quantities.pod_us == 60 * 10**6
    audited = PostgresUsageAuditTrail(pool).snapshots(start=start, end=start + dt.timedelta(minutes=1))
    assert [a.snapshot.snapshot_id for a in audited if a.snapshot.cluster_id == tenant.cluster_id] == [
        "outage"
    ]
