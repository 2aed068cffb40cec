"""Builds: the values the build port (:mod:`starform_core.ports.build`) speaks, and log following."""

from starform_core.build.follow import follow_logs
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
    "COMMAND_MAX",
    "LOG_LINE_MAX",
    "BuildFailure",
    "BuildOverrides",
    "BuildPhase",
    "BuildRequest",
    "BuildStatus",
    "FailureReason",
    "LogLine",
    "LogPage",
    "LogStream",
    "SourceRef",
    "follow_logs",
]
