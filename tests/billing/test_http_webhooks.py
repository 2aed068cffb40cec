"""The Stripe webhook endpoint over HTTP: signatures verified, bodies bounded, events applied once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from starform_apps.starbase.billing import BillingConfig
from starform_apps.starbase.bounds import MAX_WEBHOOK_BYTES
from starform_testkit.starbase import RunningStarbase, running_starbase
from starform_testkit.stripe_testserver import StripeTestServer, signature_header

SECRET = "whsec_test_" + "a" * 24


@pytest.fixture(scope="module")
def starbase(pg_server: str) -> Iterator[RunningStarbase]:
    """Starbase with the Stripe adapter configured (against a Stripe test server)."""
    with StripeTestServer() as server:
        config = BillingConfig(
            stripe_api_key=server.api_key, stripe_webhook_secret=SECRET, stripe_api_base=server.url
        )
        with running_starbase(server_url=pg_server, billing=config) as running:
            yield running


def _post(sb: RunningStarbase, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return httpx.post(f"{sb.base_url}/v1/billing/webhooks/stripe", content=body, headers=headers, timeout=30)


def _event(event_id: str, event_type: str = "customer.created") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": {"id": "cus_1", "object": "customer"}},
        }
    ).encode()


def test_a_signed_event_is_accepted_once(starbase: RunningStarbase) -> None:
    body = _event("evt_once")
    first = _post(starbase, body, signature_header(SECRET, body, int(time.time())))
    assert first.status_code == 200 and first.json() == {"received": True, "outcome": "ignored"}
    again = _post(starbase, body, signature_header(SECRET, body, int(time.time())))
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"


@pytest.mark.parametrize("case", ["missing", "wrong secret", "tampered", "stale", "not json"])
def test_unverifiable_events_are_refused(starbase: RunningStarbase, case: str) -> None:
    body = _event(f"evt_{case.replace(' ', '_')}")
    now = int(time.time())
    signature = {
        "missing": None,
        "wrong secret": signature_header("whsec_other", body, now),
        "tampered": signature_header(SECRET, body.replace(b"customer.created", b"invoice.paid"), now),
        "stale": signature_header(SECRET, body, now - 3600),
        "not json": signature_header(SECRET, b"{", now),
    }[case]
    answer = _post(starbase, b"{" if case == "not json" else body, signature)
    assert answer.status_code == 400


def test_an_oversized_body_is_refused(starbase: RunningStarbase) -> None:
    body = b" " * (MAX_WEBHOOK_BYTES + 1)
    assert _post(starbase, body, signature_header(SECRET, body, int(time.time()))).status_code == 413
