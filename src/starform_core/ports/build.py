"""The build port: the external build service (Railpack on Depot, §16) seen from Starbase's worker.

A build is started once per ``build_id`` (starting it again with the same request returns the
same build; with a different request raises ``BuildConflictError``), then polled: its status and
its log lines after a cursor, so a caller can follow a running build without holding a stream.
Cancelling is idempotent and never un-finishes a finished build.

Errors (all :class:`~starform_core.errors.BuildError`): ``BuildNotFoundError`` for an unknown
id, ``BuildConflictError``, ``BuildUnavailableError`` (transient). A build that fails is not an
error: its status says ``failed`` with a :class:`~starform_core.build.BuildFailure`.
"""

from __future__ import annotations

from typing import Protocol

from starform_core.build.values import BuildRequest, BuildStatus, LogPage

__all__ = ["BuildService"]


class BuildService(Protocol):
    """Start, observe and cancel builds."""

    def start(self, request: BuildRequest) -> BuildStatus:
        """Queue the build (idempotent by ``request.build_id``)."""
        ...

    def status(self, build_id: str) -> BuildStatus:
        """The build's current status."""
        ...

    def logs(self, build_id: str, *, after: int = 0, limit: int = 500) -> LogPage:
        """Up to ``limit`` log lines with ``seq`` above ``after``, oldest first."""
        ...

    def cancel(self, build_id: str) -> BuildStatus:
        """Stop the build if it is still running; returns its status afterwards."""
        ...
