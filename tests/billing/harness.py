"""Billing wired for tests: real PostgreSQL, the Stripe test server over HTTP, a settable clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
from prometheus_client import CollectorRegistry

from starform_adapters.postgres.billing import PostgresBillingStore, PostgresUsageAuditTrail
from starform_adapters.stripe import StripePaymentProvider
from starform_apps.starbase.billing import Billing, BillingConfig, assemble_billing
from starform_core.billing import BillingMonth
from starform_core.ports.billing import PaymentProvider
from starform_testkit.stripe_testserver import StripeTestServer


@attrs.define
class Clock:
    """A clock tests move by hand."""

    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


@attrs.define
class RecordingScheduler:
    """Records deferred jobs instead of queueing them (the worker test covers the real queue)."""

    closes: list[tuple[str, BillingMonth]] = attrs.field(factory=list)
    collects: list[tuple[str, int, dt.datetime]] = attrs.field(factory=list)

    def close_workspace_month(self, workspace_id: str, month: BillingMonth) -> None:
        self.closes.append((workspace_id, month))

    def collect_payment(self, invoice_id: str, attempt: int, *, at: dt.datetime) -> None:
        self.collects.append((invoice_id, attempt, at))


class CrashAfter:
    """A payment provider that raises after the real call of one method succeeded, N times.

    It stands for a process killed between the provider's answer and Starbase's database write.
    """

    def __init__(self, inner: PaymentProvider, method: str, *, times: int = 1) -> None:
        self._inner = inner
        self._method = method
        self.remaining = times

    def __getattr__(self, name: str) -> Callable[..., Any]:
        real = getattr(self._inner, name)
        if name != self._method:
            return real  # type: ignore[no-any-return]

        def crashing(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            if self.remaining > 0:
                self.remaining -= 1
                raise KeyboardInterrupt(f"simulated crash after {name}")
            return result

        return crashing


def billing_on(
    pool: Any,
    server: StripeTestServer | None,
    *,
    clock: Clock,
    scheduler: RecordingScheduler | None = None,
    webhook_secret: str = "whsec_unused",
    wrap: Callable[[PaymentProvider], PaymentProvider] | None = None,
) -> Billing:
    """Billing on ``pool`` with the Stripe adapter against ``server`` (or no provider)."""
    store = PostgresBillingStore(pool)
    provider: PaymentProvider | None = None
    if server is not None:
        provider = StripePaymentProvider.connect(
            server.api_key, webhook_secret=webhook_secret, api_base=server.url
        )
        if wrap is not None:
            provider = wrap(provider)
    return assemble_billing(
        config=BillingConfig(),
        ledger=store,
        invoices=store,
        audit=PostgresUsageAuditTrail(pool),
        provider=provider,
        registry=CollectorRegistry(),
        scheduler=scheduler,
        clock=clock,
    )
