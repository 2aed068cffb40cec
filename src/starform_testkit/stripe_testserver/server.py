"""The test handle: :class:`StripeTestServer` serves the Stripe API subset on 127.0.0.1.

It is the payment port's shipped double: the official ``stripe`` SDK talks to it over HTTP
(form-encoded requests, ``Idempotency-Key``, Stripe's error shapes) and it delivers signed
webhooks (``Stripe-Signature``) to the endpoints registered through ``/v1/webhook_endpoints``.
Everything it starts (the uvicorn thread, the webhook thread) it stops.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

from starform_testkit.stripe_testserver.app import build_app
from starform_testkit.stripe_testserver.idempotency import IdempotencyStore
from starform_testkit.stripe_testserver.state import StripeState
from starform_testkit.stripe_testserver.webhooks import Delivery, WebhookDispatcher

__all__ = ["StripeTestServer"]

Obj = dict[str, Any]


class StripeTestServer:
    """A Stripe-compatible API server for tests (one account, test mode)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.api_key = "sk_test_" + secrets.token_hex(16)
        self.state = StripeState()
        self.idempotency = IdempotencyStore()
        self.webhooks = WebhookDispatcher()
        self.state.listeners.append(self._dispatch)
        app = build_app(self.state, self.idempotency, self.api_key)
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="stripe-testserver", daemon=True)
        self.url = ""

    def _dispatch(self, event: Obj) -> None:
        for endpoint in self.state.endpoints.values():
            self.webhooks.enqueue(endpoint, event)

    def start(self, *, timeout: float = 10.0) -> StripeTestServer:
        """Serve; returns once the socket listens."""
        self.webhooks.start()
        self._thread.start()
        ready = threading.Event()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            ready.wait(0.01)
        if not self._server.started:
            raise RuntimeError("the Stripe test server did not start")
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self._server.config.host}:{port}"
        return self

    def stop(self) -> None:
        """Stop serving and delivering."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.webhooks.stop()

    def __enter__(self) -> StripeTestServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # test controls -------------------------------------------------------------------------

    def set_default_payment_method(self, customer_id: str, payment_method: str | None) -> None:
        """As a customer adding a card: ``pm_card_visa`` pays, ``pm_card_chargeCustomerFail`` declines."""
        with self.state.lock:
            self.state.update_customer(
                customer_id, {"invoice_settings": {"default_payment_method": payment_method or ""}}
            )

    def expire_idempotency_keys(self) -> None:
        """Forget stored idempotent results, as Stripe does after 24 hours."""
        self.idempotency.expire_all()

    def redeliver(self, event_id: str) -> None:
        """Deliver an event again (Stripe may deliver an event more than once)."""
        with self.state.lock:
            event = next(e for e in self.state.events if e["id"] == event_id)
        self._dispatch(event)

    def events(self, event_type: str | None = None) -> list[Obj]:
        """Events so far, oldest first."""
        with self.state.lock:
            return [e for e in self.state.events if event_type is None or e["type"] == event_type]

    def invoices(self, *, customer: str | None = None) -> list[Obj]:
        """Invoices as the API renders them, oldest first."""
        with self.state.lock:
            found = [i for i in self.state.invoices.values() if customer is None or i["customer"] == customer]
            return [self.state.render(i) for i in found]

    def deliveries(self) -> list[Delivery]:
        """Every webhook delivery attempt so far."""
        return list(self.webhooks.deliveries)

    def wait(self, condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
        """Wait (with a deadline) until ``condition()`` holds."""
        pause = threading.Event()
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met before the deadline")
            pause.wait(0.02)
