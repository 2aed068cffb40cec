"""Webhook delivery: every event POSTed to each endpoint that enabled its type, signed as Stripe does.

``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``. A delivery that
does not get a 2xx is retried with a growing delay (bounded number of attempts), so events can
arrive late and out of order, as they do from Stripe.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
from typing import Any

import attrs
import httpx

__all__ = ["Delivery", "WebhookDispatcher", "signature_header"]

Obj = dict[str, Any]
RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0, 4.0)


def signature_header(secret: str, payload: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` header of a payload."""
    signed = f"{timestamp}.".encode() + payload
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


@attrs.define
class Delivery:
    """One attempt to deliver one event to one endpoint."""

    event_id: str
    event_type: str
    url: str
    status: int | None
    attempt: int


class WebhookDispatcher:
    """A background thread that delivers queued events (started and stopped by the server)."""

    def __init__(self) -> None:
        self._queue: list[tuple[float, int, Obj, Obj, int]] = []
        self._order = itertools.count()
        self._cv = threading.Condition()
        self._stop = False
        self._paused = False
        self._thread = threading.Thread(target=self._run, name="stripe-webhooks", daemon=True)
        self.deliveries: list[Delivery] = []

    def start(self) -> None:
        """Start delivering."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (pending deliveries are dropped)."""
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout=10)

    def pause(self, paused: bool = True) -> None:
        """Hold deliveries (events queue up) until resumed."""
        with self._cv:
            self._paused = paused
            self._cv.notify_all()

    def enqueue(self, endpoint: Obj, event: Obj, *, delay: float = 0.0, attempt: int = 1) -> None:
        """Queue ``event`` for ``endpoint`` if the endpoint enabled its type."""
        enabled = endpoint["enabled_events"]
        if "*" not in enabled and event["type"] not in enabled:
            return
        with self._cv:
            heapq.heappush(
                self._queue, (time.monotonic() + delay, next(self._order), endpoint, event, attempt)
            )
            self._cv.notify_all()

    def idle(self) -> bool:
        """Nothing queued (every event delivered or given up)."""
        with self._cv:
            return not self._queue

    def _next(self) -> tuple[Obj, Obj, int] | None:
        with self._cv:
            while not self._stop:
                if self._queue and not self._paused:
                    due, _, endpoint, event, attempt = self._queue[0]
                    wait = due - time.monotonic()
                    if wait <= 0:
                        heapq.heappop(self._queue)
                        return endpoint, event, attempt
                    self._cv.wait(timeout=wait)
                else:
                    self._cv.wait(timeout=0.5)
            return None

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while (item := self._next()) is not None:
                endpoint, event, attempt = item
                payload = json.dumps(event).encode()
                header = signature_header(endpoint["secret"], payload, int(time.time()))
                try:
                    response = client.post(
                        endpoint["url"],
                        content=payload,
                        headers={"Content-Type": "application/json", "Stripe-Signature": header},
                    )
                    status: int | None = response.status_code
                except httpx.HTTPError:
                    status = None
                self.deliveries.append(Delivery(event["id"], event["type"], endpoint["url"], status, attempt))
                if (status is None or status >= 300) and attempt <= len(RETRY_DELAYS):
                    self.enqueue(endpoint, event, delay=RETRY_DELAYS[attempt - 1], attempt=attempt + 1)
