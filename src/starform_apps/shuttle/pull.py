"""Pull: ask Starbase for the payload, judge it, keep the one in force.

A new payload is parsed and validated, then judged by ``(epoch, generation)``
(:func:`~starform_core.reporting.judge_payload`): accepted ones are stored before they are
used; an invalid one, an older generation in the same epoch or an older epoch is rejected
(once per ETag: the same bytes served again are not parsed nor reported again) and the one held
stays in force. When Starbase cannot be reached, the held payload stays in force too.

With ``wait`` the pull is a long-poll (:class:`~starform_apps.shuttle.notify.PullChannel` runs
it); the answer may carry reconcile requests, handed on in :attr:`Pulled.reconcile_requests`.
One pull runs at a time (a lock); :attr:`Puller.held` is swapped whole, so a reconcile reads it
while the next long-poll is under way.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import attrs

from starform_apps.shuttle.held import HeldPayload, PayloadStore
from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.reports import EventType, event_report
from starform_core.errors import ContractError, DesiredStateSourceError
from starform_core.payload import PayloadReuse, parse_payload
from starform_core.ports.source import DesiredStateSource, Fetched, NotModified
from starform_core.reporting import PayloadVerdict, judge_payload

__all__ = ["PullOutcome", "Pulled", "Puller"]

_log = logging.getLogger("starform.shuttle")


class PullOutcome(enum.StrEnum):
    """What one pull gave."""

    NEW = "new"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"


@attrs.frozen
class Pulled:
    """The result of one pull; ``new_epoch`` when the accepted payload starts a new epoch,
    ``reconcile_requests`` the reconciles Starbase asked for (run one now, with a fresh listing),
    ``long_polled`` whether Starbase held the request (it honoured ``Prefer: wait``)."""

    outcome: PullOutcome
    error: str = ""
    new_epoch: bool = False
    reconcile_requests: tuple[str, ...] = ()
    long_polled: bool = False

    @property
    def source_ok(self) -> bool:
        """True when Starbase answered (the payload held is the current one, or was refused)."""
        return self.outcome is not PullOutcome.UNREACHABLE


class Puller:
    """Holds the payload in force; :meth:`pull` asks Starbase for a newer one."""

    def __init__(
        self,
        source: DesiredStateSource,
        store: PayloadStore,
        outbox: Outbox,
        metrics: ShuttleMetrics,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._source = source
        self._store = store
        self._outbox = outbox
        self._metrics = metrics
        self._now = now
        self._rejected_etag: str | None = None
        self._down = False
        self._lock = threading.Lock()
        self._reuse = PayloadReuse()  # the projects and services of the last payload parsed, by their JSON
        self.rejected: dict[str, object] | None = None
        """The last payload refused since the one held was accepted (reason, etag, version)."""
        self.held: HeldPayload | None = store.load()
        """The payload in force (the last good one)."""
        if self.held is not None:
            self._show(self.held)

    def _show(self, held: HeldPayload) -> None:
        self._metrics.desired_epoch.set(held.version[0])
        self._metrics.desired_generation.set(held.version[1])

    def pull(self, *, wait: int = 0) -> Pulled:
        """One conditional GET (a long-poll of up to ``wait`` seconds when ``wait``); never raises
        for Starbase failures or bad payloads."""
        with self._lock:
            try:
                fetched = self._source.fetch(etag=self._known_etag(), wait=wait)
            except DesiredStateSourceError as exc:
                return self._unreachable(str(exc))
            pulled = self._judge(fetched)
        return attrs.evolve(
            pulled, reconcile_requests=fetched.reconcile_requests, long_polled=fetched.waited is not None
        )

    def _known_etag(self) -> str | None:
        """The ETag of the newest bytes seen: a refused payload's (so Starbase holds the long-poll
        until something newer), else the held one's."""
        return self._rejected_etag or (self.held.etag if self.held else None)

    def _judge(self, fetched: Fetched | NotModified) -> Pulled:
        self._metrics.starbase_up.set(1)
        if self._down:
            self._down = False
            _log.info("starbase reachable again")
        if not isinstance(fetched, Fetched) or fetched.etag == self._rejected_etag:
            return Pulled(PullOutcome.UNCHANGED)
        try:
            document = parse_payload(fetched.body, reuse=self._reuse)
        except ContractError as exc:
            return self._reject(
                fetched.etag, "invalid", f"{exc.pointer or '/'}: {exc.reason}", {"pointer": exc.pointer}
            )
        offered = HeldPayload(document=document, body=fetched.body, etag=fetched.etag)
        held_version = self.held.version if self.held else None
        verdict = judge_payload(held_version, offered.version)
        if not verdict.accepted:
            self.rejected = {"epoch": offered.version[0], "generation": offered.version[1]}
            return self._reject(
                fetched.etag,
                verdict.value,
                f"epoch {offered.version[0]} generation {offered.version[1]} is older than the "
                f"payload held (epoch {held_version[0] if held_version else 0} "
                f"generation {held_version[1] if held_version else 0})",
                {"offered": list(offered.version), "held": list(held_version or (0, 0))},
            )
        self._store.save(offered)
        self.held, self._rejected_etag, self.rejected = offered, None, None
        self._show(offered)
        if verdict is PayloadVerdict.NEW_EPOCH:
            self._start_epoch(held_version, offered)
        return Pulled(PullOutcome.NEW, new_epoch=verdict is PayloadVerdict.NEW_EPOCH)

    def _unreachable(self, error: str) -> Pulled:
        self._metrics.starbase_up.set(0)
        if not self._down:
            self._down = True
            self._outbox.add(
                event_report(
                    EventType.RECONCILE_DEFERRED,
                    now=self._now(),
                    reason="starbase-unreachable",
                    message=error,
                )
            )
            _log.warning(
                "starbase unreachable: enforcing the last good payload, pruning nothing new",
                extra={"error": error, "held": self.held is not None},
            )
        return Pulled(PullOutcome.UNREACHABLE, error=error)

    def _reject(self, etag: str, reason: str, message: str, data: dict[str, object]) -> Pulled:
        self._rejected_etag = etag
        # a new dict, swapped whole: a reconcile may be reading the last one (the long-poll's thread)
        self.rejected = {
            "epoch": None,
            "generation": None,
            **(self.rejected or {}),
            "reason": reason,
            "etag": etag,
            "detail": message[:500],
        }
        self._metrics.payload_rejected.labels(reason=reason).inc()
        self._outbox.add(
            event_report(
                EventType.PAYLOAD_REJECTED,
                now=self._now(),
                reason=reason,
                message=message,
                data={**data, "etag": etag},
            )
        )
        _log.warning("payload rejected", extra={"reason": reason, "detail": message, "etag": etag})
        return Pulled(PullOutcome.REJECTED, error=f"{reason} payload: {message}")

    def _start_epoch(self, previous: tuple[int, int] | None, held: HeldPayload) -> None:
        epoch, generation = held.version
        self._outbox.add(
            event_report(
                EventType.EPOCH_STARTED,
                now=self._now(),
                reason="new-epoch",
                message=f"epoch {epoch} (generation {generation}) replaces epoch {(previous or (0, 0))[0]}",
                data={"epoch": epoch, "generation": generation, "previous": list(previous or (0, 0))},
            )
        )
        _log.warning(
            "new epoch: applying the payload from scratch",
            extra={"epoch": epoch, "generation": generation, "previous": list(previous or (0, 0))},
        )
