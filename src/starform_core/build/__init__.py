"""Builds: the values the build port (:mod:`starform_core.ports.build`) speaks, log following,
and the pipeline's state machine and records as Starbase keeps them (§16.12)."""

from starform_core.build.follow import follow_logs
from starform_core.build.lifecycle import (
    ACTIVE_STATES,
    TRANSITIONS,
    BuildState,
    check_transition,
    state_of_phase,
)
from starform_core.build.records import (
    BuildRecord,
    BuildTrigger,
    Claim,
    ClaimOutcome,
    Installation,
    InstallationState,
    PushResult,
    ServiceSource,
)
from starform_core.build.values import (
    COMMAND_MAX,
    LOG_LINE_MAX,
    BuildFailure,
    BuildOverrides,
    BuildPhase,
    BuildRequest,
    BuildStatus,
    FailureReason,
    LogLine,
    LogPage,
    LogStream,
    SourceRef,
)

__all__ = [
    "ACTIVE_STATES",
    "COMMAND_MAX",
    "LOG_LINE_MAX",
    "TRANSITIONS",
    "BuildFailure",
    "BuildOverrides",
    "BuildPhase",
    "BuildRecord",
    "BuildRequest",
    "BuildState",
    "BuildStatus",
    "BuildTrigger",
    "Claim",
    "ClaimOutcome",
    "FailureReason",
    "Installation",
    "InstallationState",
    "LogLine",
    "LogPage",
    "LogStream",
    "PushResult",
    "ServiceSource",
    "SourceRef",
    "check_transition",
    "follow_logs",
    "state_of_phase",
]
