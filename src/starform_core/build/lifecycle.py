"""The build pipeline's state machine as Starbase keeps it (§16.12).

A build is ``queued`` until a worker starts it at the build service, then ``building`` and
``pushing`` as the service reports, ``deploying`` once its image is resolved to a digest and the
deployment is stored (in the transaction that bumps the cluster's generation), and ``live`` once
the cluster's agent reports that generation applied. It can end ``failed``, ``cancelled`` (a
newer push, or a user) or ``timed_out`` instead. A transient failure while building or pushing
sends it back to ``queued`` for another attempt. Nothing leaves a terminal state.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from starform_core.build.values import BuildPhase
from starform_core.errors import BuildTransitionError

__all__ = ["ACTIVE_STATES", "TRANSITIONS", "BuildState", "check_transition", "state_of_phase"]


class BuildState(enum.StrEnum):
    """Where a build of the pipeline is."""

    QUEUED = "queued"
    BUILDING = "building"
    PUSHING = "pushing"
    DEPLOYING = "deploying"
    LIVE = "live"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def terminal(self) -> bool:
        """True once nothing can change the build any more."""
        return not TRANSITIONS[self]


_STOPPED = frozenset({BuildState.FAILED, BuildState.CANCELLED, BuildState.TIMED_OUT})

TRANSITIONS: Mapping[BuildState, frozenset[BuildState]] = {
    BuildState.QUEUED: frozenset(
        {BuildState.QUEUED, BuildState.BUILDING, BuildState.PUSHING, BuildState.DEPLOYING}
    )
    | _STOPPED,
    BuildState.BUILDING: frozenset({BuildState.QUEUED, BuildState.PUSHING, BuildState.DEPLOYING}) | _STOPPED,
    BuildState.PUSHING: frozenset({BuildState.QUEUED, BuildState.DEPLOYING}) | _STOPPED,
    BuildState.DEPLOYING: frozenset({BuildState.LIVE, BuildState.FAILED}),
    BuildState.LIVE: frozenset(),
    BuildState.FAILED: frozenset(),
    BuildState.CANCELLED: frozenset(),
    BuildState.TIMED_OUT: frozenset(),
}
"""Every legal change of state. A worker that polls the build service may see it skip a phase
(``queued`` straight to ``pushing`` or to a finished image), so forward skips are legal; going
back is only to ``queued``, a new attempt after a transient failure (``queued`` → ``queued``
when the attempt failed before it started building)."""

ACTIVE_STATES = frozenset({BuildState.QUEUED, BuildState.BUILDING, BuildState.PUSHING})
"""The states a newer push to the same service and branch cancels."""


def check_transition(current: BuildState, target: BuildState) -> BuildState:
    """``target`` if a build may move there from ``current``; else :class:`BuildTransitionError`."""
    if target not in TRANSITIONS[current]:
        raise BuildTransitionError(f"a build cannot go from {current.value} to {target.value}")
    return target


_BY_PHASE = {
    BuildPhase.QUEUED: BuildState.QUEUED,
    BuildPhase.BUILDING: BuildState.BUILDING,
    BuildPhase.PUSHING: BuildState.PUSHING,
    BuildPhase.FAILED: BuildState.FAILED,
    BuildPhase.CANCELLED: BuildState.CANCELLED,
    BuildPhase.TIMED_OUT: BuildState.TIMED_OUT,
}


def state_of_phase(phase: BuildPhase) -> BuildState | None:
    """The pipeline state the build service's ``phase`` stands for; ``None`` for ``succeeded``
    (what follows a pushed image, deploying it, is Starbase's step, not the service's)."""
    return _BY_PHASE.get(phase)
