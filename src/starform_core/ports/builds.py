"""Push to deploy's persistence (§16.11, §16.12): GitHub installations and service sources, the
de-duplicated webhook deliveries, and builds with their leases and logs.

Errors: :class:`~starform_core.errors.StoreNotFoundError` for an unknown id,
:class:`~starform_core.errors.StoreConflictError` for a clash (an installation registered twice,
a lease lost), :class:`~starform_core.errors.BuildTransitionError` for a state change §16.12
forbids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from starform_core.access import Actor
from starform_core.build.lifecycle import BuildState
from starform_core.build.records import BuildRecord, Claim, Installation, PushResult, ServiceSource
from starform_core.build.values import BuildFailure, LogLine, LogPage
from starform_core.gitpush.events import InstallationEvent, PushEvent
from starform_core.payload.rows import DeploymentRow
from starform_core.secrets_values import SecretValue

__all__ = ["BuildStore", "GitIntegrationStore"]


class GitIntegrationStore(Protocol):
    """Installations, the services they build, and the deliveries GitHub sends."""

    def register_installation(self, installation: Installation, secret: SecretValue, *, actor: Actor) -> None:
        """Register an installation with its webhook secret (sealed at rest)."""
        ...

    def get_installation(self, installation_id: int) -> Installation:
        """One installation."""
        ...

    def webhook_secret(self, installation_id: int) -> SecretValue:
        """The installation's webhook secret (``StoreNotFoundError`` for an unknown one)."""
        ...

    def set_service_source(self, source: ServiceSource, *, actor: Actor) -> ServiceSource:
        """Connect a service to a branch of a repository of one of its workspace's installations."""
        ...

    def get_service_source(self, service_id: str) -> ServiceSource:
        """The service's source."""
        ...

    def record_delivery(
        self, delivery_id: str, event: str, *, installation_id: int | None, outcome: str, detail: str = ""
    ) -> bool:
        """Remember a delivery that queues nothing; ``False`` if the id was delivered before."""
        ...

    def apply_installation_event(self, delivery_id: str, event: InstallationEvent) -> bool:
        """Apply an installation event once (``False``: a replayed delivery)."""
        ...

    def purge_deliveries(self, *, before: dt.datetime) -> int:
        """Forget deliveries received before ``before`` (a replay older than that builds again);
        returns how many."""
        ...

    def queue_push(
        self, delivery_id: str, push: PushEvent, *, now: dt.datetime, wait: dt.timedelta
    ) -> PushResult:
        """For each auto-deploying service whose source matches the push: replace the commit of
        its build still waiting in the debounce window, or queue a new build (waiting ``wait``)
        and cancel its older active builds. Recorded with the delivery in one transaction; a
        replayed delivery changes nothing (``duplicate``)."""
        ...


class BuildStore(Protocol):
    """Builds: leases for the workers that run them, state changes, logs, the deploy step."""

    def queue_build(
        self, service_id: str, commit_sha: str, *, now: dt.datetime, actor: Actor, message: str = ""
    ) -> PushResult:
        """A build of ``commit_sha`` of the service's source asked for by hand."""
        ...

    def get_build(self, build_id: str) -> BuildRecord:
        """One build."""
        ...

    def list_builds(self, service_id: str, *, limit: int = 50) -> Sequence[BuildRecord]:
        """The service's builds, newest first."""
        ...

    def claim_build(
        self,
        build_id: str,
        owner: str,
        *,
        now: dt.datetime,
        lease: dt.timedelta,
        max_active: int,
        image: str,
    ) -> Claim:
        """Take (or renew) the build's lease unless another worker holds a live one, the build is
        waiting for its debounce window, or its workspace already runs ``max_active`` builds.
        ``image`` becomes the build's target tag the first time."""
        ...

    def heartbeat(
        self, build_id: str, owner: str, *, now: dt.datetime, lease: dt.timedelta, state: BuildState
    ) -> BuildState:
        """Extend the lease and move the build to ``state``; returns the stored state, which is
        ``cancelled`` when a newer push cancelled it meanwhile (the lease is then released).
        ``StoreConflictError`` when the lease is no longer the owner's."""
        ...

    def append_logs(self, build_id: str, lines: Sequence[LogLine], *, cursor: int) -> int:
        """Store log lines (at most the store's cap per build); returns the stored count."""
        ...

    def log_cursor(self, build_id: str) -> int:
        """How far into the build service's log the stored lines reach (a resuming worker reads on
        from there)."""
        ...

    def read_logs(self, build_id: str, *, after: int = 0, limit: int = 500) -> LogPage:
        """Stored log lines after ``after``; ``complete`` once the build is over and read."""
        ...

    def finish_build(
        self,
        build_id: str,
        owner: str,
        *,
        state: BuildState,
        now: dt.datetime,
        failure: BuildFailure | None = None,
        build_seconds: float | None = None,
    ) -> BuildRecord:
        """End the build (``failed``, ``cancelled`` or ``timed_out``) and release the lease."""
        ...

    def requeue_build(
        self,
        build_id: str,
        owner: str,
        *,
        retry_at: dt.datetime,
        failure: BuildFailure,
        build_seconds: float = 0.0,
    ) -> BuildRecord:
        """Send the build back to ``queued`` after a transient failure (released lease)."""
        ...

    def deploy_build(
        self,
        build_id: str,
        owner: str,
        *,
        digest: str,
        image: str,
        command: tuple[str, ...] | None,
        now: dt.datetime,
        build_seconds: float,
    ) -> DeploymentRow:
        """In one transaction: the build becomes ``deploying``, the deployment of ``image``
        (digest-pinned) is created and the cluster's generation bumped. A build that is no
        longer the owner's, or was cancelled, deploys nothing (``BuildTransitionError``)."""
        ...

    def expired_leases(self, *, now: dt.datetime, limit: int = 100) -> Sequence[str]:
        """Active builds whose worker stopped renewing its lease (to be run again)."""
        ...

    def overdue_builds(self, *, now: dt.datetime, grace: dt.timedelta, limit: int = 100) -> Sequence[str]:
        """Queued builds nobody claimed ``grace`` after they became due (their job was lost)."""
        ...
