"""The build port's contract, on the shipped double pushing to the real registry and to the
registry double: phases in order on the clock, a real image pushed on success, logs followed by
cursor, scripted failures, timeouts, cancels, idempotent starts."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import uuid

import pytest
from tests.build.conftest import BuildRig

from starform_adapters.build import BuildScript, Outcome, SimulatedBuildService
from starform_core.build import (
    LOG_LINE_MAX,
    BuildOverrides,
    BuildPhase,
    BuildRequest,
    FailureReason,
    LogStream,
    SourceRef,
    follow_logs,
)
from starform_core.errors import (
    BuildConflictError,
    BuildNotFoundError,
    BuildUnavailableError,
    RegistryTagNotFoundError,
    ValidationError,
)
from starform_core.registry import LINUX_AMD64, OCI_INDEX, Platform

WORKSPACE = str(uuid.uuid4())
ARM64 = Platform("linux", "arm64")


def _request(rig: BuildRig, *, overrides: BuildOverrides | None = None, timeout: int = 1800) -> BuildRequest:
    commit = secrets.token_hex(20)
    return BuildRequest(
        build_id=str(uuid.uuid4()),
        workspace_id=WORKSPACE,
        source=SourceRef("acme/web", commit, branch="main", installation_id=42),
        image=rig.registry.repository("web").tagged(commit[:12]),
        overrides=overrides or BuildOverrides(),
        timeout_seconds=timeout,
    )


def _run_to_end(rig: BuildRig, build_id: str, *, step: float = 1.0, limit: int = 10_000) -> list[BuildPhase]:
    phases = [rig.service.status(build_id).phase]
    for _ in range(limit):
        if phases[-1].terminal:
            return phases
        rig.clock.advance(step)
        phase = rig.service.status(build_id).phase
        if phase != phases[-1]:
            phases.append(phase)
    raise AssertionError(f"the build never finished: {phases}")


def test_a_build_moves_through_its_phases_and_pushes_a_real_image(rig: BuildRig) -> None:
    request = _request(rig)
    started = rig.service.start(request)
    assert (started.phase, started.created_at, started.digest) == (BuildPhase.QUEUED, rig.clock.now, None)
    assert _run_to_end(rig, request.build_id) == [
        BuildPhase.QUEUED,
        BuildPhase.BUILDING,
        BuildPhase.PUSHING,
        BuildPhase.SUCCEEDED,
    ]
    done = rig.service.status(request.build_id)
    assert done.digest is not None and done.failure is None
    assert done.started_at == started.created_at + dt.timedelta(seconds=2)
    assert done.finished_at == done.started_at + dt.timedelta(seconds=35)
    assert done.build_seconds == 35.0
    resolved = rig.reader.resolve(request.image)
    assert resolved.digest == done.digest
    config = rig.reader.image_config(request.image)
    assert config.command == ("/app/start",) and config.primary_port == 8080
    assert config.labels["org.opencontainers.image.revision"] == request.source.commit_sha
    assert config.labels["io.starform.build-id"] == request.build_id


def test_overrides_reach_the_image_the_log_and_the_status(rig: BuildRig) -> None:
    overrides = BuildOverrides(
        build_command="npm run build", pre_deploy_command="npm run migrate", start_command="node server.js"
    )
    request = _request(rig, overrides=overrides)
    rig.service.start(request)
    _run_to_end(rig, request.build_id, step=5)
    status = rig.service.status(request.build_id)
    assert status.phase is BuildPhase.SUCCEEDED and status.pre_deploy_command == "npm run migrate"
    assert rig.reader.image_config(request.image).command == ("/bin/sh", "-c", "node server.js")
    texts = [line.text for line in rig.service.logs(request.build_id).lines]
    assert "$ npm run build" in texts


def test_the_log_is_followed_by_cursor_without_gaps_or_repeats(rig: BuildRig) -> None:
    request = _request(rig)
    rig.service.start(request)
    polls = []

    def pause() -> bool:
        polls.append(rig.clock.advance(0.7))
        return True

    lines = list(follow_logs(rig.service, request.build_id, pause=pause, page_size=2))
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
    assert all(a.at <= b.at for a, b in itertools.pairwise(lines))
    assert len(polls) > 10
    digest = rig.service.status(request.build_id).digest
    assert lines[-1].text == f"Pushed {request.image}@{digest}"
    assert {line.stream for line in lines} == {LogStream.SYSTEM, LogStream.STDOUT}
    again = rig.service.logs(request.build_id, after=lines[-1].seq)
    assert again.lines == () and again.complete and again.next_after == lines[-1].seq


def test_a_follower_can_stop_early(rig: BuildRig) -> None:
    request = _request(rig)
    rig.service.start(request)
    lines = list(follow_logs(rig.service, request.build_id, pause=lambda: False))
    assert lines and not rig.service.status(request.build_id).phase.terminal


def test_log_pages_respect_their_limit_and_a_running_build_is_not_complete(rig: BuildRig) -> None:
    request = _request(rig)
    rig.service.start(request)
    rig.clock.advance(20)
    page = rig.service.logs(request.build_id, limit=3)
    assert len(page.lines) == 3 and page.next_after == 3 and not page.complete
    rest = rig.service.logs(request.build_id, after=page.next_after)
    assert rest.lines[0].seq == 4 and not rest.complete
    with pytest.raises(ValidationError):
        rig.service.logs(request.build_id, limit=0)


@pytest.mark.parametrize(
    ("outcome", "reason", "retryable", "ran"),
    [
        (Outcome.BUILD_ERROR, FailureReason.BUILD_ERROR, False, True),
        (Outcome.SOURCE_ERROR, FailureReason.SOURCE_ERROR, False, True),
        (Outcome.IMAGE_TOO_LARGE, FailureReason.IMAGE_TOO_LARGE, False, True),
        (Outcome.INFRASTRUCTURE, FailureReason.INFRASTRUCTURE, True, False),
    ],
)
def test_a_scripted_failure_fails_the_build_and_pushes_nothing(
    rig: BuildRig, outcome: Outcome, reason: FailureReason, retryable: bool, ran: bool
) -> None:
    request = _request(rig)
    rig.service.script_commit(
        request.source.commit_sha, BuildScript(outcome=outcome, message=f"{outcome.value}!")
    )
    rig.service.start(request)
    assert _run_to_end(rig, request.build_id)[-1] is BuildPhase.FAILED
    status = rig.service.status(request.build_id)
    assert status.failure is not None and status.digest is None
    assert (status.failure.reason, status.failure.retryable, status.failure.message) == (
        reason,
        retryable,
        f"{outcome.value}!",
    )
    assert (status.started_at is not None) is ran
    log = rig.service.logs(request.build_id)
    assert (
        log.complete
        and log.lines[-1].stream is LogStream.STDERR
        and log.lines[-1].text == f"{outcome.value}!"
    )
    with pytest.raises(RegistryTagNotFoundError):
        rig.reader.resolve(request.image)


def test_a_build_over_its_time_limit_times_out_at_the_limit(rig: BuildRig) -> None:
    request = _request(rig, timeout=60)
    rig.service.script_commit(request.source.commit_sha, BuildScript(build_seconds=600))
    rig.service.start(request)
    assert _run_to_end(rig, request.build_id, step=7)[-1] is BuildPhase.TIMED_OUT
    status = rig.service.status(request.build_id)
    assert status.failure is not None and status.failure.reason is FailureReason.TIMEOUT
    assert status.build_seconds == 60.0
    with pytest.raises(RegistryTagNotFoundError):
        rig.reader.resolve(request.image)


def test_a_cancelled_build_never_pushes(rig: BuildRig) -> None:
    request = _request(rig)
    rig.service.start(request)
    rig.clock.advance(10)
    assert rig.service.status(request.build_id).phase is BuildPhase.BUILDING
    cancelled = rig.service.cancel(request.build_id)
    assert cancelled.phase is BuildPhase.CANCELLED and cancelled.finished_at == rig.clock.now
    rig.clock.advance(3600)
    assert rig.service.status(request.build_id).phase is BuildPhase.CANCELLED
    assert rig.service.cancel(request.build_id) == cancelled
    log = rig.service.logs(request.build_id)
    assert log.complete and log.lines[-1].text == "Build cancelled"
    with pytest.raises(RegistryTagNotFoundError):
        rig.reader.resolve(request.image)


def test_cancelling_a_queued_build_and_a_finished_one(rig: BuildRig) -> None:
    queued = _request(rig)
    rig.service.start(queued)
    assert rig.service.cancel(queued.build_id).started_at is None
    finished = _request(rig)
    rig.service.start(finished)
    _run_to_end(rig, finished.build_id, step=10)
    assert rig.service.cancel(finished.build_id).phase is BuildPhase.SUCCEEDED


def test_a_push_the_registry_refuses_fails_the_build_as_retryable(rig: BuildRig) -> None:
    request = _request(rig)
    rig.service.start(request)
    rig.break_pushes()
    assert _run_to_end(rig, request.build_id, step=5)[-1] is BuildPhase.FAILED
    failure = rig.service.status(request.build_id).failure
    assert failure is not None and failure.reason is FailureReason.PUSH_ERROR and failure.retryable
    assert "RegistryUnavailableError" in failure.message


def test_starting_again_is_idempotent_and_a_different_request_conflicts(rig: BuildRig) -> None:
    request = _request(rig)
    first = rig.service.start(request)
    rig.clock.advance(5)
    again = rig.service.start(request)
    assert again.created_at == first.created_at and again.phase is BuildPhase.BUILDING
    other = BuildRequest(
        build_id=request.build_id,
        workspace_id=request.workspace_id,
        source=SourceRef("acme/web", secrets.token_hex(20)),
        image=request.image,
    )
    with pytest.raises(BuildConflictError):
        rig.service.start(other)


def test_an_unknown_build_is_not_found(rig: BuildRig) -> None:
    unknown = str(uuid.uuid4())
    for call in (rig.service.status, rig.service.logs, rig.service.cancel):
        with pytest.raises(BuildNotFoundError):
            call(unknown)


def test_a_multi_platform_build_pushes_an_index(rig: BuildRig) -> None:
    request = _request(rig)
    rig.service.script_commit(request.source.commit_sha, BuildScript(platforms=(LINUX_AMD64, ARM64)))
    rig.service.start(request)
    _run_to_end(rig, request.build_id, step=10)
    resolved = rig.reader.resolve(request.image)
    assert resolved.digest == rig.service.status(request.build_id).digest
    assert resolved.media_type == OCI_INDEX
    assert {p.platform for p in resolved.platforms} == {LINUX_AMD64, ARM64}
    assert rig.reader.image_config(request.image, platform=ARM64).platform == ARM64


def test_long_lines_are_cut_and_long_logs_capped(rig: BuildRig) -> None:
    request = _request(rig)
    script = BuildScript(output=("x" * (LOG_LINE_MAX * 3), "short"), output_lines=0)
    rig.service.script_commit(request.source.commit_sha, script)
    rig.service.start(request)
    _run_to_end(rig, request.build_id, step=10)
    texts = [line.text for line in rig.service.logs(request.build_id, limit=5000).lines]
    long_line = next(t for t in texts if t.startswith("xxx"))
    assert len(long_line) == LOG_LINE_MAX and long_line.endswith("[line truncated]")
    assert "short" in texts


def test_a_log_over_its_cap_ends_with_a_note(rig: BuildRig) -> None:
    service = SimulatedBuildService(
        rig.writer, clock=rig.clock, script=BuildScript(output_lines=50), max_log_lines=10
    )
    request = _request(rig)
    service.start(request)
    rig.clock.advance(3600)
    lines = service.logs(request.build_id).lines
    assert len(lines) == 10 and "log truncated" in lines[-1].text
    assert service.status(request.build_id).phase is BuildPhase.SUCCEEDED


def test_a_service_outage_is_a_typed_error(rig: BuildRig) -> None:
    request = _request(rig)
    rig.service.fail_next(BuildUnavailableError("depot: 503"))
    with pytest.raises(BuildUnavailableError):
        rig.service.start(request)
    assert rig.service.start(request).phase is BuildPhase.QUEUED
