"""The shipped double of the build port: builds that take time on an injected clock, stream
log lines, fail as scripted, and on success push a real image into a registry.

Each build follows a timeline fixed when it starts (its :class:`BuildScript`): queued for
``queue_seconds``, building for ``build_seconds`` (emitting its output lines spread over that
time), pushing for ``push_seconds``; then the image is built (a real OCI image: a layer with
the start script and the revision, a config with the start command, the port and the labels)
and pushed through an :class:`~starform_adapters.registry.ImageWriter`, and the build
succeeds with the pushed digest. Nothing sleeps: whenever the build is looked at, every event
due by the clock's "now" happens, in order. A scripted failure, the request's timeout, a
cancel, or a push the registry refuses end the timeline early.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from starform_adapters.registry.memory import InMemoryRegistry
from starform_adapters.registry.oci_image import ImageFile, ImageSpec, build_image, build_index, push_image
from starform_adapters.registry.writer import ImageWriter
from starform_core.build import (
    LOG_LINE_MAX,
    BuildFailure,
    BuildPhase,
    BuildRequest,
    BuildStatus,
    FailureReason,
    LogLine,
    LogPage,
    LogStream,
)
from starform_core.errors import (
    BuildConflictError,
    BuildError,
    BuildNotFoundError,
    RegistryError,
    RegistryRateLimitedError,
    RegistryUnavailableError,
    ValidationError,
)
from starform_core.ports.build import BuildService
from starform_core.registry import LINUX_AMD64, ExposedPort, Platform

__all__ = ["BuildScript", "Outcome", "SimulatedBuildService"]

_TRUNCATED = " … [line truncated]"


class Outcome(enum.Enum):
    """How a scripted build ends."""

    SUCCEED = "succeed"
    BUILD_ERROR = "build_error"
    SOURCE_ERROR = "source_error"
    IMAGE_TOO_LARGE = "image_too_large"
    INFRASTRUCTURE = "infrastructure"


@attrs.frozen
class BuildScript:
    """How long each phase of a build takes, how it ends, and what it prints and pushes."""

    queue_seconds: float = 2.0
    build_seconds: float = 30.0
    push_seconds: float = 5.0
    outcome: Outcome = Outcome.SUCCEED
    message: str = ""
    output_lines: int = 8
    output: tuple[str, ...] = ()
    platforms: tuple[Platform, ...] = (LINUX_AMD64,)
    port: int = 8080


class _Kind(enum.Enum):
    LOG = "log"
    PHASE = "phase"
    FAIL = "fail"
    TIMEOUT = "timeout"
    PUSH = "push"


@attrs.frozen
class _Event:
    at: datetime
    kind: _Kind
    text: str = ""
    stream: LogStream = LogStream.SYSTEM
    phase: BuildPhase | None = None
    failure: BuildFailure | None = None


@attrs.define
class _Build:
    request: BuildRequest
    script: BuildScript
    status: BuildStatus
    events: list[_Event]
    lines: list[LogLine] = attrs.field(factory=list)
    dropped: bool = False


def _preamble(request: BuildRequest, at: datetime) -> list[_Event]:
    source = request.source
    detect = (
        f"Using Dockerfile {request.dockerfile}"
        if request.dockerfile
        else "Railpack: detecting the build plan"
    )
    lines = [
        f"Building {source.repository}@{source.commit_sha[:12]} (workspace {request.workspace_id})",
        f"Fetching {source.repository} at {source.commit_sha}",
        detect,
    ]
    events = [_Event(at, _Kind.PHASE, phase=BuildPhase.BUILDING)]
    events += [_Event(at, _Kind.LOG, text=line) for line in lines]
    return events


def _output(request: BuildRequest, script: BuildScript, start: datetime) -> list[_Event]:
    command = request.overrides.build_command
    generated = [f"$ {command}"] if command else []
    generated += [f"step {n}/{script.output_lines}: building" for n in range(1, script.output_lines + 1)]
    lines = generated + list(script.output)
    step = script.build_seconds / (len(lines) + 1)
    return [
        _Event(start + timedelta(seconds=step * (n + 1)), _Kind.LOG, text=line, stream=LogStream.STDOUT)
        for n, line in enumerate(lines)
    ]


def _failure(at: datetime, reason: FailureReason, message: str, *, retryable: bool = False) -> _Event:
    return _Event(at, _Kind.FAIL, failure=BuildFailure(reason, message, retryable=retryable))


def _ending(request: BuildRequest, script: BuildScript, built: datetime) -> list[_Event]:
    if script.outcome is Outcome.BUILD_ERROR:
        return [
            _failure(
                built, FailureReason.BUILD_ERROR, script.message or "the build command exited with status 1"
            )
        ]
    if script.outcome is Outcome.IMAGE_TOO_LARGE:
        return [
            _failure(
                built, FailureReason.IMAGE_TOO_LARGE, script.message or "the image is over the size limit"
            )
        ]
    return [
        _Event(built, _Kind.PHASE, phase=BuildPhase.PUSHING),
        _Event(built, _Kind.LOG, text=f"Pushing {request.image}"),
        _Event(built + timedelta(seconds=script.push_seconds), _Kind.PUSH),
    ]


def _timeline(request: BuildRequest, script: BuildScript, created: datetime) -> list[_Event]:
    start = created + timedelta(seconds=script.queue_seconds)
    if script.outcome is Outcome.INFRASTRUCTURE:
        message = script.message or "no builder could be started"
        return [_failure(start, FailureReason.INFRASTRUCTURE, message, retryable=True)]
    events = _preamble(request, start)
    if script.outcome is Outcome.SOURCE_ERROR:
        message = script.message or f"commit {request.source.commit_sha} could not be fetched"
        return [*events, _failure(start, FailureReason.SOURCE_ERROR, message)]
    events += _output(request, script, start)
    events += _ending(request, script, start + timedelta(seconds=script.build_seconds))
    deadline = start + timedelta(seconds=request.timeout_seconds)
    if events[-1].at > deadline:
        message = f"the build ran over its {request.timeout_seconds} s limit"
        timeout = _Event(deadline, _Kind.TIMEOUT, failure=BuildFailure(FailureReason.TIMEOUT, message))
        events = [event for event in events if event.at < deadline] + [timeout]
    return events


def _image(request: BuildRequest, script: BuildScript) -> ImageSpec:
    start = request.overrides.start_command
    labels = {
        "org.opencontainers.image.revision": request.source.commit_sha,
        "org.opencontainers.image.source": f"https://github.com/{request.source.repository}",
        "io.starform.build-id": request.build_id,
    }
    script_body = f"#!/bin/sh\necho 'built from {request.source.commit_sha}'\nexec sleep infinity\n".encode()
    return ImageSpec(
        files=(
            ImageFile("/app/start", script_body, mode=0o755),
            ImageFile("/app/REVISION", request.source.commit_sha.encode() + b"\n"),
        ),
        command=("/bin/sh", "-c", start) if start else ("/app/start",),
        exposed_ports=(ExposedPort(script.port),),
        env=(f"PORT={script.port}",),
        working_dir="/app",
        labels=labels,
    )


class SimulatedBuildService:
    """Implements :class:`~starform_core.ports.build.BuildService` on an injected clock.

    ``script`` decides each build's :class:`BuildScript` (a fixed one, or a function of the
    request); :meth:`script_commit` overrides it for one commit. ``max_log_lines`` caps a
    build's log (a last system line says the rest was dropped).
    """

    def __init__(
        self,
        writer: ImageWriter,
        *,
        clock: Callable[[], datetime],
        script: BuildScript | Callable[[BuildRequest], BuildScript] = BuildScript(),
        max_log_lines: int = 10_000,
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._script = script
        self._by_commit: dict[str, BuildScript] = {}
        self._max_lines = max_log_lines
        self._builds: dict[str, _Build] = {}
        self._faults: list[BuildError] = []
        self._lock = threading.RLock()

    def script_commit(self, commit_sha: str, script: BuildScript) -> None:
        """Build ``commit_sha`` with ``script`` from now on."""
        with self._lock:
            self._by_commit[commit_sha] = script

    def fail_next(self, error: BuildError, *, times: int = 1) -> None:
        """Make the next ``times`` calls raise ``error`` (a service outage, say)."""
        with self._lock:
            self._faults.extend([error] * times)

    @property
    def builds(self) -> Mapping[str, BuildStatus]:
        """Every build's last computed status, by id (for assertions)."""
        with self._lock:
            return {build_id: build.status for build_id, build in self._builds.items()}

    def start(self, request: BuildRequest) -> BuildStatus:
        """Queue a build (the same request again returns the same build)."""
        with self._lock:
            self._raise_fault()
            existing = self._builds.get(request.build_id)
            if existing is not None:
                if existing.request != request:
                    raise BuildConflictError(f"build {request.build_id} exists with a different request")
                return self._advance(existing).status
            now = self._clock()
            script = self._script_for(request)
            status = BuildStatus(
                build_id=request.build_id,
                phase=BuildPhase.QUEUED,
                image=request.image,
                created_at=now,
                pre_deploy_command=request.overrides.pre_deploy_command,
            )
            build = _Build(request, script, status, _timeline(request, script, now))
            self._builds[request.build_id] = build
            self._log(build, now, LogStream.SYSTEM, f"Build {request.build_id} queued for {request.image}")
            return self._advance(build).status

    def status(self, build_id: str) -> BuildStatus:
        """The build's status now."""
        with self._lock:
            self._raise_fault()
            return self._advance(self._get(build_id)).status

    def logs(self, build_id: str, *, after: int = 0, limit: int = 500) -> LogPage:
        """Log lines after the ``after`` cursor, at most ``limit`` (1 to 5000)."""
        if not 1 <= limit <= 5000:
            raise ValidationError("limit", "must be between 1 and 5000")
        with self._lock:
            self._raise_fault()
            build = self._advance(self._get(build_id))
            lines = tuple(line for line in build.lines if line.seq > after)[:limit]
            cursor = lines[-1].seq if lines else max(after, 0)
            last = build.lines[-1].seq if build.lines else 0
            return LogPage(
                lines=lines, next_after=cursor, complete=build.status.phase.terminal and cursor >= last
            )

    def cancel(self, build_id: str) -> BuildStatus:
        """Cancel the build unless it has already finished."""
        with self._lock:
            self._raise_fault()
            build = self._advance(self._get(build_id))
            if not build.status.phase.terminal:
                now = self._clock()
                build.events.clear()
                build.status = attrs.evolve(build.status, phase=BuildPhase.CANCELLED, finished_at=now)
                self._log(build, now, LogStream.SYSTEM, "Build cancelled")
            return build.status

    # internals

    def _raise_fault(self) -> None:
        if self._faults:
            raise self._faults.pop(0)

    def _get(self, build_id: str) -> _Build:
        build = self._builds.get(build_id)
        if build is None:
            raise BuildNotFoundError(f"no build {build_id[:64]}")
        return build

    def _script_for(self, request: BuildRequest) -> BuildScript:
        if request.source.commit_sha in self._by_commit:
            return self._by_commit[request.source.commit_sha]
        return self._script if isinstance(self._script, BuildScript) else self._script(request)

    def _advance(self, build: _Build) -> _Build:
        now = self._clock()
        while build.events and build.events[0].at <= now:
            self._apply(build, build.events.pop(0))
            if build.status.phase.terminal:
                build.events.clear()
        return build

    def _apply(self, build: _Build, event: _Event) -> None:
        status = build.status
        if event.kind is _Kind.LOG:
            self._log(build, event.at, event.stream, event.text)
        elif event.kind is _Kind.PHASE and event.phase is BuildPhase.BUILDING:
            build.status = attrs.evolve(status, phase=BuildPhase.BUILDING, started_at=event.at)
        elif event.kind is _Kind.PHASE:
            build.status = attrs.evolve(status, phase=BuildPhase.PUSHING)
        elif event.kind is _Kind.PUSH:
            self._push(build, event.at)
        elif event.failure is not None:
            phase = BuildPhase.TIMED_OUT if event.kind is _Kind.TIMEOUT else BuildPhase.FAILED
            self._log(build, event.at, LogStream.STDERR, event.failure.message)
            build.status = attrs.evolve(status, phase=phase, finished_at=event.at, failure=event.failure)

    def _log(self, build: _Build, at: datetime, stream: LogStream, text: str) -> None:
        if build.dropped:
            return
        if len(build.lines) >= self._max_lines - 1:
            build.dropped = True
            text, stream = (
                f"log truncated: over {self._max_lines} lines, the rest is dropped",
                LogStream.SYSTEM,
            )
        if len(text) > LOG_LINE_MAX:
            text = text[: LOG_LINE_MAX - len(_TRUNCATED)] + _TRUNCATED
        build.lines.append(LogLine(seq=len(build.lines) + 1, at=at, stream=stream, text=text))

    def _push(self, build: _Build, at: datetime) -> None:
        request, script = build.request, build.script
        images = [build_image(attrs.evolve(_image(request, script), platform=p)) for p in script.platforms]
        try:
            digest = push_image(
                self._writer, request.image, images[0] if len(images) == 1 else build_index(images)
            )
        except RegistryError as error:
            retryable = isinstance(error, RegistryUnavailableError | RegistryRateLimitedError)
            message = f"pushing {request.image} failed: {type(error).__name__}: {str(error)[:300]}"
            self._log(build, at, LogStream.STDERR, message)
            failure = BuildFailure(FailureReason.PUSH_ERROR, message, retryable=retryable)
            build.status = attrs.evolve(
                build.status, phase=BuildPhase.FAILED, finished_at=at, failure=failure
            )
            return
        self._log(build, at, LogStream.SYSTEM, f"Pushed {request.image}@{digest}")
        build.status = attrs.evolve(build.status, phase=BuildPhase.SUCCEEDED, finished_at=at, digest=digest)


if TYPE_CHECKING:
    _port: BuildService = SimulatedBuildService(InMemoryRegistry().client(), clock=lambda: datetime.min)
