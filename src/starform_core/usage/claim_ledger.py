"""The volume claims a cluster held, as bound intervals, fed by the claim watch and read per window.

Each tracked claim has one bound interval ``[since, until)``: open while the claim is ``Bound``
(its storage exists), closed when the watch sees it leave ``Bound`` (``Lost``) or go away
(``DELETED``: a claim that is only *terminating*, held by the ``pvc-protection`` finalizer while a
pod still mounts it, still holds its storage and still bills). ``since`` is the moment the watch
saw the claim turn ``Bound``; a claim first seen already bound (Shuttle started, or restarted,
after it bound) counts from its ``creationTimestamp``, the latest instant the API records before
the binding (the API keeps no binding time), and never later than the moment it was seen. A
claim that binds again after ``Lost`` starts a new interval at the moment it is seen bound: of its
two intervals in one window only the later is reported (a snapshot carries one sample per
claim), so such a window bills less, never more. Likewise a claim expanded during a window is
reported at the smallest size seen bound since the last :meth:`~ClaimLedger.settle` (claims only
grow), at its new size from the next window on.

:meth:`ClaimLedger.samples` lists the claims bound during a window, with their size (capacity
once bound) and the part of the window they were bound; :meth:`ClaimLedger.settle` forgets
claims that are gone and whose interval ended before a window end. Not thread-safe: the caller
serialises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from starform_core.model.tenant import TenantKey
from starform_core.usage.claims import BOUND, claim_facts

__all__ = ["ClaimLedger", "ClaimSample"]


@attrs.frozen
class ClaimSample:
    """A claim's part of one window: ``bound_since``/``bound_until`` only when inside it."""

    uid: str
    tenant: TenantKey
    storage_bytes: int
    bound_since: dt.datetime | None = None
    bound_until: dt.datetime | None = None


@attrs.define
class _Held:
    tenant: TenantKey
    storage_bytes: int
    smallest: int
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    present: bool = True

    @property
    def open(self) -> bool:
        return self.since is not None and self.until is None


class ClaimLedger:
    """Bound intervals of the Starform volume claims of one cluster (see the module rule)."""

    def __init__(self) -> None:
        self._claims: dict[str, _Held] = {}

    def observe(self, event: str, claim: Mapping[str, Any], *, at: dt.datetime) -> bool:
        """Apply a watch event (``ADDED``, ``MODIFIED``, ``DELETED``) seen at ``at``; False when
        the claim is not a Starform service's claim (ignored)."""
        facts = claim_facts(claim)
        if facts is None:
            return False
        held = self._claims.get(facts.uid)
        first_seen = held is None
        if held is None:
            held = self._claims[facts.uid] = _Held(facts.tenant, facts.storage_bytes, facts.storage_bytes)
        if held.open:  # the size while bound: what the window bills (never the pending request)
            held.smallest = min(held.smallest, facts.storage_bytes)
        held.storage_bytes = facts.storage_bytes
        if event == "DELETED":
            held.present = False
            if held.open:
                held.until = at
            return True
        held.present = True
        if facts.phase != BOUND:
            if held.open:
                held.until = at
        elif not held.open:
            created = facts.created if first_seen and facts.created is not None else at
            held.since, held.until = min(created, at), None
            held.smallest = facts.storage_bytes
        return True

    def held(self) -> int:
        """Claims present and bound now."""
        return sum(1 for h in self._claims.values() if h.present and h.open)

    def tracked(self) -> int:
        """Claims held in memory (present, or gone but not yet reported to the end)."""
        return len(self._claims)

    def samples(self, start: dt.datetime, end: dt.datetime) -> list[ClaimSample]:
        """Every claim bound during ``[start, end)``, by uid."""
        found = []
        for uid in sorted(self._claims):
            held = self._claims[uid]
            if held.since is None or held.since >= end:
                continue
            if held.until is not None and held.until <= start:
                continue
            found.append(
                ClaimSample(
                    uid,
                    held.tenant,
                    held.smallest,
                    bound_since=held.since if held.since > start else None,
                    bound_until=held.until if held.until is not None and held.until < end else None,
                )
            )
        return found

    def settle(self, end: dt.datetime) -> None:
        """Forget the claims that are gone and unbound by ``end`` (every window to ``end`` is made);
        the next windows report the others at their size now."""
        for held in self._claims.values():
            held.smallest = held.storage_bytes
        done = [
            uid
            for uid, h in self._claims.items()
            if not h.present and (h.since is None or (h.until is not None and h.until <= end))
        ]
        for uid in done:
            del self._claims[uid]
