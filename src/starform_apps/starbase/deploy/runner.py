"""A worker's part of push to deploy: run one build from its lease to its deployment.

:meth:`BuildRunner.run` claims the build's lease (or learns it must wait: its debounce window,
its workspace's concurrency limit, another worker's live lease), starts it at the build service
(idempotent by an id derived from the build and its attempt, so a worker taking over an expired
lease follows the same external build), then polls it: log lines are copied into Starbase, the
phase is recorded with every heartbeat that renews the lease, and a cancel stored meanwhile (a
newer push) is passed on to the build service. A pushed image's tag is resolved to its digest
through the registry port and the deployment is created in the transaction that bumps the
cluster's generation. A transient failure sends the build back to the queue (a new attempt, with
backoff) a bounded number of times; any other failure ends it. Builder time goes to billing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Protocol

import attrs
import structlog

from starform_apps.starbase.deploy.metrics import DeployMetrics
from starform_core.build import (
    BuildFailure,
    BuildPhase,
    BuildRecord,
    BuildRequest,
    BuildState,
    BuildStatus,
    ClaimOutcome,
    FailureReason,
    SourceRef,
    state_of_phase,
)
from starform_core.errors import (
    BuildTransitionError,
    BuildUnavailableError,
    RegistryError,
    RegistryNotFoundError,
    StarformError,
    StoreConflictError,
    StoreNotFoundError,
)
from starform_core.ports import BuildStore, GitIntegrationStore
from starform_core.ports.build import BuildService
from starform_core.ports.registry import ImageRegistry
from starform_core.registry import ImageReference, parse_repository

__all__ = ["BuildMinutes", "BuildRunner", "RunResult", "RunnerConfig"]

_log = structlog.get_logger("starbase.builds")
_EXTERNAL_IDS = uuid.UUID("0f5c2f4e-9a51-4f0c-9d0e-5a7c1e3b8d21")


class BuildMinutes(Protocol):
    """Where builder time is billed (the usage ledger)."""

    def record(self, build: BuildRecord, *, started_at: dt.datetime, finished_at: dt.datetime) -> None:
        """Record one attempt's builder time (idempotent per build attempt)."""
        ...


@attrs.frozen
class RunnerConfig:
    """How workers run builds.

    ``registry`` is the host builds push to (``repository_prefix/<service id>:build-<id>``);
    ``lease`` how long a worker's claim lasts without a heartbeat; ``max_active`` the builds one
    workspace may run at once; ``max_attempts`` the attempts a transiently failing build gets.
    """

    registry: str
    repository_prefix: str = "starform"
    lease: dt.timedelta = dt.timedelta(seconds=60)
    poll_seconds: float = 2.0
    max_active: int = 2
    max_attempts: int = 3
    retry_backoff: dt.timedelta = dt.timedelta(seconds=30)
    timeout_seconds: int = 1800
    deadline_slack: dt.timedelta = dt.timedelta(minutes=5)


@attrs.frozen
class RunResult:
    """What a run ended with; ``retry_at`` set when the build should be run again then."""

    outcome: str
    state: BuildState | None = None
    retry_at: dt.datetime | None = None


class _CancelledError(StarformError):
    """The build was cancelled while this worker ran it."""


class BuildRunner:
    """Runs builds on the given ports; ``owner`` names this worker in leases."""

    def __init__(
        self,
        *,
        builds: BuildStore,
        git: GitIntegrationStore,
        service: BuildService,
        registry: ImageRegistry,
        config: RunnerConfig,
        owner: str,
        clock: Callable[[], dt.datetime],
        pause: Callable[[float], bool],
        minutes: BuildMinutes | None = None,
        metrics: DeployMetrics | None = None,
    ) -> None:
        self._builds = builds
        self._git = git
        self._service = service
        self._registry = registry
        self._config = config
        self.owner = owner
        self._clock = clock
        self._pause = pause
        self._minutes = minutes
        self._metrics = metrics

    def image_for(self, build: BuildRecord) -> ImageReference:
        """The tag a build pushes to."""
        repository = parse_repository(
            f"{self._config.registry}/{self._config.repository_prefix}/{build.service_id}"
        )
        return repository.tagged(f"build-{build.build_id}")

    def run(self, build_id: str) -> RunResult:
        """Run the build as far as this worker can take it."""
        build = self._builds.get_build(build_id)
        claim = self._builds.claim_build(
            build_id,
            self.owner,
            now=self._clock(),
            lease=self._config.lease,
            max_active=self._config.max_active,
            image=str(self.image_for(build)),
        )
        if claim.outcome is not ClaimOutcome.CLAIMED or claim.build is None:
            state = None if claim.build is None else claim.build.state
            return RunResult(claim.outcome.value, state, claim.retry_at)
        try:
            return self._run_claimed(claim.build)
        except _CancelledError:
            return RunResult("cancelled", BuildState.CANCELLED)
        except StoreConflictError:
            _log.warning("build lease lost", build=build_id, worker=self.owner)
            return RunResult("lease_lost")

    def _request(self, build: BuildRecord) -> BuildRequest | None:
        try:
            source = self._git.get_service_source(build.service_id)
        except StoreNotFoundError:
            return None
        return BuildRequest(
            build_id=str(uuid.uuid5(_EXTERNAL_IDS, f"{build.build_id}/{build.attempts}")),
            workspace_id=build.workspace_id,
            source=SourceRef(
                build.repository, build.commit_sha, branch=build.branch, installation_id=build.installation_id
            ),
            image=self.image_for(build),
            overrides=source.overrides,
            root_directory=source.root_directory,
            dockerfile=source.dockerfile,
            timeout_seconds=self._config.timeout_seconds,
        )

    def _run_claimed(self, build: BuildRecord) -> RunResult:
        request = self._request(build)
        if request is None:
            failure = BuildFailure(
                FailureReason.SOURCE_ERROR, "the service is no longer connected to a repository"
            )
            return self._end(build, BuildState.FAILED, failure, 0.0)
        try:
            status = self._service.start(request)
        except BuildUnavailableError as exc:
            failure = BuildFailure(
                FailureReason.INFRASTRUCTURE, f"the build service is unavailable: {exc}", retryable=True
            )
            return self._retry_or_fail(build, failure, 0.0)
        _log.info("build started", build=build.build_id, attempt=build.attempts, commit=build.commit_sha[:12])
        deadline = self._clock() + dt.timedelta(seconds=request.timeout_seconds) + self._config.deadline_slack
        final = self._follow(build, request, status, deadline)
        if final is None:
            return RunResult("stopped")
        return self._conclude(build, request, final)

    def _follow(
        self, build: BuildRecord, request: BuildRequest, status: BuildStatus, deadline: dt.datetime
    ) -> BuildStatus | None:
        """Poll until the external build is over; ``None`` when the worker is stopping."""
        cursor = self._builds.log_cursor(build.build_id)
        while True:
            cursor = self._copy_logs(build.build_id, request.build_id, cursor)
            state = state_of_phase(status.phase) if not status.phase.terminal else None
            if state is not None:
                stored = self._builds.heartbeat(
                    build.build_id, self.owner, now=self._clock(), lease=self._config.lease, state=state
                )
                if stored is BuildState.CANCELLED:
                    self._cancel_external(build, request)
            if status.phase.terminal:
                return status
            if self._clock() > deadline:
                return attrs.evolve(
                    self._service.cancel(request.build_id),
                    phase=BuildPhase.TIMED_OUT,
                    failure=BuildFailure(FailureReason.TIMEOUT, "the build service never finished the build"),
                )
            if not self._pause(self._config.poll_seconds):
                return None
            try:
                status = self._service.status(request.build_id)
            except BuildUnavailableError:
                _log.warning("build service unavailable while following", build=build.build_id)

    def _cancel_external(self, build: BuildRecord, request: BuildRequest) -> None:
        try:
            status = self._service.cancel(request.build_id)
        except BuildUnavailableError:
            status = None
        self._copy_logs(build.build_id, request.build_id, self._builds.log_cursor(build.build_id))
        seconds = 0.0 if status is None else status.build_seconds
        self._builds.finish_build(
            build.build_id, self.owner, state=BuildState.CANCELLED, now=self._clock(), build_seconds=seconds
        )
        self._bill(build, status)
        _log.info("build cancelled", build=build.build_id)
        raise _CancelledError

    def _copy_logs(self, build_id: str, external_id: str, cursor: int) -> int:
        while True:
            try:
                page = self._service.logs(external_id, after=cursor, limit=500)
            except BuildUnavailableError:
                return cursor
            if page.lines:
                self._builds.append_logs(build_id, page.lines, cursor=page.next_after)
            cursor = page.next_after
            if len(page.lines) < 500:
                return cursor

    def _conclude(self, build: BuildRecord, request: BuildRequest, status: BuildStatus) -> RunResult:
        if status.phase is BuildPhase.SUCCEEDED:
            return self._deploy(build, request, status)
        failure = status.failure or BuildFailure(
            FailureReason.INFRASTRUCTURE, "the build ended without a reason"
        )
        if status.phase is BuildPhase.FAILED and failure.retryable:
            return self._retry_or_fail(build, failure, status.build_seconds, status)
        state = state_of_phase(status.phase) or BuildState.FAILED
        self._bill(build, status)
        return self._end(build, state, failure, status.build_seconds)

    def _end(
        self, build: BuildRecord, state: BuildState, failure: BuildFailure | None, seconds: float
    ) -> RunResult:
        ended = self._builds.finish_build(
            build.build_id, self.owner, state=state, now=self._clock(), failure=failure, build_seconds=seconds
        )
        if self._metrics is not None:
            self._metrics.builds.labels(state=ended.state.value).inc()
        reason = None if failure is None else failure.reason.value
        _log.warning("build did not deploy", build=build.build_id, state=ended.state.value, reason=reason)
        return RunResult("finished", ended.state)

    def _retry_or_fail(
        self, build: BuildRecord, failure: BuildFailure, seconds: float, status: BuildStatus | None = None
    ) -> RunResult:
        self._bill(build, status)
        if build.attempts + 1 >= self._config.max_attempts:
            return self._end(build, BuildState.FAILED, failure, seconds)
        retry_at = self._clock() + self._config.retry_backoff * (2**build.attempts)
        requeued = self._builds.requeue_build(
            build.build_id, self.owner, retry_at=retry_at, failure=failure, build_seconds=seconds
        )
        if requeued.state is BuildState.CANCELLED:
            return RunResult("cancelled", BuildState.CANCELLED)
        _log.warning(
            "build retried", build=build.build_id, attempt=build.attempts, reason=failure.reason.value
        )
        return RunResult("retry", BuildState.QUEUED, retry_at)

    def _deploy(self, build: BuildRecord, request: BuildRequest, status: BuildStatus) -> RunResult:
        self._bill(build, status)
        try:
            resolved = self._registry.resolve(request.image)
        except RegistryNotFoundError:
            failure = BuildFailure(
                FailureReason.PUSH_ERROR, f"the pushed tag {request.image} is not in the registry"
            )
            return self._end(build, BuildState.FAILED, failure, status.build_seconds)
        except RegistryError as exc:
            failure = BuildFailure(
                FailureReason.PUSH_ERROR,
                f"the registry could not resolve {request.image}: {type(exc).__name__}",
                retryable=True,
            )
            return self._retry_or_fail(build, failure, status.build_seconds)
        if status.digest is not None and status.digest != resolved.digest:
            _log.warning("the tag moved after the push", build=build.build_id, image=str(request.image))
        try:
            deployment = self._builds.deploy_build(
                build.build_id,
                self.owner,
                digest=str(resolved.digest),
                image=request.image.with_digest(resolved.digest).pinned(),
                command=None,
                now=self._clock(),
                build_seconds=status.build_seconds,
            )
        except BuildTransitionError:
            _log.info("a cancelled build deploys nothing", build=build.build_id)
            return RunResult("cancelled", BuildState.CANCELLED)
        if self._metrics is not None:
            self._metrics.builds.labels(state=BuildState.DEPLOYING.value).inc()
            self._metrics.build_seconds.observe(status.build_seconds)
        _log.info(
            "build deployed", build=build.build_id, version=deployment.version, digest=str(resolved.digest)
        )
        return RunResult("deployed", BuildState.DEPLOYING)

    def _bill(self, build: BuildRecord, status: BuildStatus | None) -> None:
        if self._minutes is None or status is None or status.started_at is None:
            return
        self._minutes.record(
            build, started_at=status.started_at, finished_at=status.finished_at or self._clock()
        )
