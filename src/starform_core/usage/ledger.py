"""The pods a cluster ran, as running intervals, fed by the pod watch and read per window.

Each tracked pod has one running interval ``[since, until)``: ``since`` is when its containers
started (from the container statuses; the moment Shuttle saw it running when they do not say),
``until`` when it stopped (its containers' ``finishedAt``; else the moment Shuttle saw it
finish, turn ``Unknown`` or disappear), open while it runs. A pod that stops and runs again
(``Unknown`` then ``Running``) starts a new interval at the moment it is seen running again:
of its two intervals in one window only the later is reported (a snapshot carries one sample
per pod), so such a window bills less, never more.

:meth:`PodLedger.samples` lists the pods that ran during a window with the part of the window
they ran; :meth:`PodLedger.settle` forgets pods that are gone and whose interval ended before a
window end (every later window is after them). Not thread-safe: the caller serialises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from starform_core.model.tenant import TenantKey
from starform_core.usage.pods import FINISHED_PHASES, PodFacts, pod_facts
from starform_core.usage.requests import PodRequests

__all__ = ["PodLedger", "PodSample"]


@attrs.frozen
class PodSample:
    """A pod's part of one window: ``running_since``/``running_until`` only when inside it."""

    uid: str
    tenant: TenantKey
    phase: str
    requests: PodRequests
    running_since: dt.datetime | None = None
    running_until: dt.datetime | None = None


@attrs.define
class _Tracked:
    tenant: TenantKey
    requests: PodRequests
    phase: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    present: bool = True


class PodLedger:
    """Running intervals of the Starform pods of one cluster (see the module rule)."""

    def __init__(self) -> None:
        self._pods: dict[str, _Tracked] = {}

    def observe(self, event: str, pod: Mapping[str, Any], *, at: dt.datetime) -> bool:
        """Apply a watch event (``ADDED``, ``MODIFIED``, ``DELETED``) seen at ``at``; False when
        the pod is not a Starform service's pod (ignored)."""
        facts = pod_facts(pod)
        if facts is None:
            return False
        tracked = self._pods.get(facts.uid)
        if tracked is None:
            tracked = self._pods[facts.uid] = _Tracked(facts.tenant, facts.requests, facts.phase)
        tracked.phase = facts.phase
        if event == "DELETED":
            tracked.present = False
            if tracked.since is not None and tracked.until is None:
                tracked.until = facts.finished or at
            elif tracked.since is None and facts.phase in FINISHED_PHASES:
                _finish(tracked, facts, at)
            return True
        tracked.present = True
        if facts.phase == "Running":
            _run(tracked, facts, at)
        elif tracked.since is not None and tracked.until is None:
            tracked.until = (facts.finished if facts.phase in FINISHED_PHASES else None) or at
        elif tracked.since is None and facts.phase in FINISHED_PHASES:
            _finish(tracked, facts, at)
        return True

    def running(self) -> int:
        """Pods present and running now."""
        return sum(1 for t in self._pods.values() if t.present and t.since is not None and t.until is None)

    def tracked(self) -> int:
        """Pods held (present, or gone but not yet reported to the end)."""
        return len(self._pods)

    def samples(self, start: dt.datetime, end: dt.datetime) -> list[PodSample]:
        """Every pod that ran during ``[start, end)``, by uid."""
        found = []
        for uid in sorted(self._pods):
            tracked = self._pods[uid]
            if tracked.since is None or tracked.since >= end:
                continue
            if tracked.until is not None and tracked.until <= start:
                continue
            stops = tracked.until is not None and tracked.until < end
            finished = stops and tracked.phase in FINISHED_PHASES
            found.append(
                PodSample(
                    uid,
                    tracked.tenant,
                    tracked.phase if finished else "Running",
                    tracked.requests,
                    running_since=tracked.since if tracked.since > start else None,
                    running_until=tracked.until if stops else None,
                )
            )
        return found

    def settle(self, end: dt.datetime) -> None:
        """Forget the pods that are gone and stopped by ``end`` (every window to ``end`` is made)."""
        done = [
            uid
            for uid, t in self._pods.items()
            if not t.present and (t.since is None or (t.until is not None and t.until <= end))
        ]
        for uid in done:
            del self._pods[uid]


def _run(tracked: _Tracked, facts: PodFacts, at: dt.datetime) -> None:
    """The pod is running: open its interval, or keep the open one (the earliest start wins)."""
    if tracked.since is not None and tracked.until is None:
        if facts.started is not None and facts.started < tracked.since:
            tracked.since = facts.started
        return
    restarted = tracked.until is not None
    started = facts.started
    if started is None or (restarted and tracked.until is not None and started < tracked.until):
        started = at  # no start in the statuses, or one from before it stopped: seen running now
    tracked.since, tracked.until = min(started, at), None


def _finish(tracked: _Tracked, facts: PodFacts, at: dt.datetime) -> None:
    """First seen already finished (after a restart): its interval from the statuses, if known."""
    if facts.started is not None:
        tracked.since = facts.started
        tracked.until = max(facts.finished or at, facts.started)
