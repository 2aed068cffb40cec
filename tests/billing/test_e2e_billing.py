"""End to end on Starbase's side: days of snapshots over HTTP on a simulated clock, then the month's close.

Pods of two services come and go (rolling deploys, pods starting and stopping mid-window) over
two days across the November/December boundary. Snapshots cover 120-second windows, as an
outbox delivers them: some twice or three times (retries), an hour of them late and out of order
(Starbase was down; nothing is lost), and ninety minutes not at all (Shuttle was down: a gap).
The running totals must equal the pod-time the simulation ran inside the covered windows, to the
microsecond, computed here independently of the metering code. Then the month is closed after a
crash between the provider's answer and the database write, twice more through the CLI, and the
provider holds exactly one invoice, paid, whose webhooks reach Starbase over HTTP.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from decimal import Decimal

import attrs
import httpx
import pytest
import stripe
from click.testing import CliRunner
from prometheus_client import CollectorRegistry
from tests.billing.harness import Clock, CrashAfter
from tests.starbase.world import World, build_world, ok

from starform_adapters.postgres import open_pool
from starform_adapters.postgres.billing import PostgresBillingStore, PostgresUsageAuditTrail
from starform_adapters.stripe import StripePaymentProvider
from starform_apps.starbase.billing import BillingConfig, assemble_billing
from starform_apps.starbase.billing.verify import verify_usage
from starform_apps.starbase.cli import main as starbase_cli
from starform_core.billing import BillingMonth, InvoiceStatus
from starform_testkit.starbase import RunningStarbase, running_starbase
from starform_testkit.stripe_testserver import StripeTestServer

pytestmark = pytest.mark.slow

START = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
DAYS = 2
WINDOW = dt.timedelta(seconds=120)
SHUTTLE_DOWN = (START + dt.timedelta(hours=22), START + dt.timedelta(hours=23, minutes=30))
STARBASE_DOWN = (START + dt.timedelta(hours=40), START + dt.timedelta(hours=41))
NOVEMBER, DECEMBER = BillingMonth(2026, 11), BillingMonth(2026, 12)
US = dt.timedelta(microseconds=1)


@attrs.frozen
class Pod:
    """A simulated pod: its uid, service, environment and lifetime ``[start, stop)``."""

    uid: str
    service_id: str
    environment: str
    start: dt.datetime
    stop: dt.datetime


def _pods(world: World, rng: random.Random) -> list[Pod]:
    """Replicas replaced every few hours (each new pod starts before the old one stops)."""
    end = START + dt.timedelta(days=DAYS)
    pods = []
    for service, environment, replicas in (
        (world.web_id, "staging", 1),
        (world.prod_web_id, "production", 2),
    ):
        for _ in range(replicas):
            begin = START - dt.timedelta(seconds=rng.randint(0, 3600))
            while begin < end:
                life = dt.timedelta(seconds=rng.randint(2 * 3600, 9 * 3600), milliseconds=rng.randint(0, 999))
                pods.append(Pod(str(uuid.uuid4()), service, environment, begin, begin + life))
                begin += life - dt.timedelta(seconds=rng.randint(5, 90))
    return pods


def _windows() -> list[tuple[dt.datetime, dt.datetime]]:
    steps = int(dt.timedelta(days=DAYS) / WINDOW)
    return [(START + WINDOW * i, START + WINDOW * (i + 1)) for i in range(steps)]


def _covered(window: tuple[dt.datetime, dt.datetime]) -> bool:
    return not (SHUTTLE_DOWN[0] <= window[0] < SHUTTLE_DOWN[1])


def _body(world: World, pods: list[Pod], window: tuple[dt.datetime, dt.datetime]) -> dict[str, object]:
    start, end = window
    samples = []
    for pod in pods:
        if pod.stop <= start or pod.start >= end:
            continue
        sample: dict[str, object] = {
            "uid": pod.uid,
            "workspace_id": world.workspace_id,
            "project_id": world.project_id,
            "environment": pod.environment,
            "service_id": pod.service_id,
            "phase": "Succeeded" if pod.stop < end else "Running",
            "cpu": "1",
            "memory": "512Mi",
        }
        if pod.start > start:
            sample["running_since"] = pod.start.isoformat()
        if pod.stop < end:
            sample["running_until"] = pod.stop.isoformat()
        samples.append(sample)
    return {
        "snapshot_id": f"{world.cluster_id}:{int(start.timestamp())}",
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "agent": "shuttle/e2e",
        "pods": samples,
    }


def _expected(pods: list[Pod], month: BillingMonth) -> dict[str, int]:
    """Microseconds each service's pods ran inside covered windows and the month (the oracle)."""
    totals: dict[str, int] = {}
    for window in filter(_covered, _windows()):
        for pod in pods:
            start = max(window[0], pod.start, month.start)
            end = min(window[1], pod.stop, month.end)
            if start < end:
                totals[pod.service_id] = totals.get(pod.service_id, 0) + (end - start) // US
    return totals


@pytest.fixture
def stripe_server() -> Iterator[StripeTestServer]:
    """The Stripe test server."""
    with StripeTestServer() as server:
        yield server


def test_days_of_snapshots_bill_the_pod_time_exactly_and_close_into_one_invoice(
    pg_server: str, stripe_server: StripeTestServer
) -> None:
    api = stripe.StripeClient(stripe_server.api_key, base_addresses={"api": stripe_server.url})
    endpoint = api.v1.webhook_endpoints.create(params={"url": "http://127.0.0.1:9/", "enabled_events": ["*"]})
    config = BillingConfig(
        stripe_api_key=stripe_server.api_key,
        stripe_webhook_secret=str(endpoint.secret),
        stripe_api_base=stripe_server.url,
    )
    clock = Clock(START)
    with (
        running_starbase(server_url=pg_server, billing=config, clock=clock) as sb,
        httpx.Client(base_url=sb.base_url, timeout=30) as http,
    ):
        api.v1.webhook_endpoints.update(
            str(endpoint.id), params={"url": f"{sb.base_url}/v1/billing/webhooks/stripe"}
        )
        world = build_world(sb, http)
        _backdate_plan(sb, world)
        pods = _pods(world, random.Random(16))
        _deliver_days_of_snapshots(sb, http, world, pods, clock)
        _assert_totals_match(sb, http, world, pods)
        invoice_id = _close_through_a_crash_and_the_cli(sb, stripe_server, config, world)
        _assert_one_paid_invoice(sb, http, stripe_server, world, invoice_id, pods)


def _backdate_plan(sb: RunningStarbase, world: World) -> None:
    """Fixture of the world: the project has been on its plan since October."""
    import psycopg

    with psycopg.connect(sb.starbase.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE billing_plan_periods SET during = tstzrange('2026-10-01', upper(during))"
            " WHERE project_id = %s",
            (world.project_id,),
        )


def _deliver_days_of_snapshots(
    sb: RunningStarbase, http: httpx.Client, world: World, pods: list[Pod], clock: Clock
) -> None:
    auth = sb.auth(world.agent_token)
    url = f"/v1/clusters/{world.cluster_id}/usage-snapshots"
    held: list[dict[str, object]] = []
    for index, window in enumerate(_windows()):
        clock.now = window[1] + dt.timedelta(seconds=1)
        if not _covered(window):
            continue
        body = _body(world, pods, window)
        if STARBASE_DOWN[0] <= window[0] < STARBASE_DOWN[1]:
            held.append(body)  # the outbox keeps it while Starbase is down
            continue
        if held:
            for late in reversed(held):  # delivered late and out of order
                ok(http.post(url, json=late, headers=auth), 201)
            held.clear()
        ok(http.post(url, json=body, headers=auth), 201)
        for _ in range(1 + (index % 97 == 0)) if index % 41 == 0 else ():
            again = ok(http.post(url, json=body, headers=auth), 200)  # a retry after a lost answer
            assert again["duplicate"] is True


def _assert_totals_match(sb: RunningStarbase, http: httpx.Client, world: World, pods: list[Pod]) -> None:
    billing = sb.starbase.billing
    assert billing is not None
    for month in (NOVEMBER, DECEMBER):
        expected = _expected(pods, month)
        totals = billing.ledger.usage_totals(world.workspace_id, month)
        got = {key.tenant.service_id: q for key, q in totals.items()}
        assert {s: q.pod_us for s, q in got.items()} == expected
        assert all(
            q.cpu_milli_us == 1000 * q.pod_us and q.memory_byte_us == 2**29 * q.pod_us for q in got.values()
        )
        assert verify_usage(billing.ledger, billing.audit, world.workspace_id, month).differences == []
    usage = ok(
        http.get(
            f"/v1/workspaces/{world.workspace_id}/billing/usage",
            params={"month": "2026-11"},
            headers=sb.auth(world.owner),
        )
    )
    minutes = {
        line["service_id"]: Decimal(line["quantity"]) for line in usage["lines"] if line["resource"] == "vcpu"
    }
    expected_minutes = {
        s: (Decimal(us) / 60_000_000).quantize(Decimal("0.000001"))
        for s, us in _expected(pods, NOVEMBER).items()
    }
    assert minutes == expected_minutes


def _close_through_a_crash_and_the_cli(
    sb: RunningStarbase, server: StripeTestServer, config: BillingConfig, world: World
) -> str:
    pool = open_pool(sb.starbase.database_url, max_size=2)
    try:
        store = PostgresBillingStore(pool)
        provider = StripePaymentProvider.connect(
            server.api_key, webhook_secret=str(config.stripe_webhook_secret), api_base=server.url
        )
        crashing = assemble_billing(
            config=config,
            ledger=store,
            invoices=store,
            audit=PostgresUsageAuditTrail(pool),
            provider=CrashAfter(provider, "create_invoice"),  # type: ignore[arg-type]
            registry=CollectorRegistry(),
            clock=lambda: dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC),
        )
        with pytest.raises(KeyboardInterrupt):
            crashing.close.close(world.workspace_id, NOVEMBER)
        customer = store.account(world.workspace_id).provider_customer_id
        assert customer is not None and len(server.invoices(customer=customer)) == 1
    finally:
        pool.close()
    server.set_default_payment_method(customer, "pm_card_visa")  # the customer adds a card
    env = {
        "DATABASE_URL": sb.starbase.database_url,
        "STRIPE_API_KEY": server.api_key,
        "STRIPE_WEBHOOK_SECRET": str(config.stripe_webhook_secret),
        "STRIPE_API_BASE": server.url,
    }
    runner = CliRunner()
    first = runner.invoke(starbase_cli, ["billing", "close-month", "--month", "2026-11"], env=env)
    assert first.exit_code == 0, first.output
    (line,) = [x for x in first.output.splitlines() if x.startswith(world.workspace_id)]
    invoice_id = line.split()[2]
    assert line.endswith(" paid")
    again = runner.invoke(starbase_cli, ["billing", "close-month", "--month", "2026-11"], env=env)
    assert again.exit_code == 0 and again.output.strip().endswith("0 workspace(s) closed"), again.output
    one = runner.invoke(
        starbase_cli,
        ["billing", "close-month", "--month", "2026-11", "--workspace", world.workspace_id],
        env=env,
    )
    assert one.exit_code == 0 and invoice_id in one.output, one.output
    return invoice_id


def _assert_one_paid_invoice(
    sb: RunningStarbase,
    http: httpx.Client,
    server: StripeTestServer,
    world: World,
    invoice_id: str,
    pods: list[Pod],
) -> None:
    billing = sb.starbase.billing
    assert billing is not None
    invoice = billing.invoices.invoice(invoice_id)
    customer = billing.invoices.account(world.workspace_id).provider_customer_id
    (remote,) = server.invoices(customer=customer)
    assert (remote["id"], remote["status"], remote["total"]) == (
        invoice.provider_invoice_id,
        "paid",
        invoice.total_minor,
    )
    assert remote["lines"]["total_count"] == len(invoice.lines)

    def paid_event_processed() -> bool:
        return any(
            d.event_type == "invoice.paid" and d.url.startswith(sb.base_url) and d.status == 200
            for d in server.deliveries()
        )

    server.wait(paid_event_processed, timeout=20)
    detail = ok(
        http.get(f"/v1/workspaces/{world.workspace_id}/invoices/{invoice_id}", headers=sb.auth(world.owner))
    )
    assert detail["status"] == InvoiceStatus.PAID.value and detail["total_minor"] == invoice.total_minor
    assert sum(line["amount_minor"] for line in detail["lines"]) == detail["total_minor"]
    vcpu = {
        line["service_id"]: Decimal(line["quantity"])
        for line in detail["lines"]
        if line["resource"] == "vcpu"
    }
    expected = {
        s: (Decimal(us) / 60_000_000).quantize(Decimal("0.000001"))
        for s, us in _expected(pods, NOVEMBER).items()
    }
    assert vcpu == expected
    rejected = [
        d for d in server.deliveries() if d.url.startswith(sb.base_url) and d.status not in (200, None)
    ]
    assert rejected == []
