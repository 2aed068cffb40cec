"""Billing fixtures: one embedded PostgreSQL per session, a fresh migrated database per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe
from tests.billing.receiver import WebhookReceiver

from starform_adapters.postgres import migrate, open_pool
from starform_adapters.postgres.billing import PostgresBillingStore
from starform_testkit.postgres import fresh_database, postgres_server
from starform_testkit.stripe_testserver import StripeTestServer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The session's PostgreSQL server URL (embedded, or DATABASE_URL)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def database_url(pg_server: str) -> Iterator[str]:
    """A fresh, migrated database for the module."""
    with fresh_database(pg_server, prefix="starform_billing") as url:
        migrate(url)
        yield url


@pytest.fixture(scope="module")
def billing(database_url: str) -> Iterator[PostgresBillingStore]:
    """The billing store on the module's database."""
    pool = open_pool(database_url, max_size=4)
    yield PostgresBillingStore(pool)
    pool.close()


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[StripeTestServer]:
    """The Stripe test server (one per module)."""
    with StripeTestServer() as server:
        yield server


@pytest.fixture(scope="module")
def hook(stripe_server: StripeTestServer) -> Iterator[tuple[WebhookReceiver, str]]:
    """A webhook endpoint registered at the Stripe test server through its API, and its secret."""
    with WebhookReceiver() as receiver:
        client = stripe.StripeClient(stripe_server.api_key, base_addresses={"api": stripe_server.url})
        endpoint = client.v1.webhook_endpoints.create(params={"url": receiver.url, "enabled_events": ["*"]})
        yield receiver, str(endpoint.secret)
