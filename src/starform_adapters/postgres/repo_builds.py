"""Builds of the pipeline (§16.12): leases for the workers running them, state changes checked
against the core's state machine, bounded logs, and the deploy step that stores the deployment
with its digest in the transaction that bumps the cluster's generation."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from psycopg.rows import dict_row

from starform_adapters.postgres.fetch import fetch_all, fetch_one
from starform_adapters.postgres.repo_gitpush import SOURCE_TARGETS, queue_for_service
from starform_adapters.postgres.repo_services import ServiceRepository
from starform_adapters.postgres.repository import Cursor, jsonable
from starform_core.access import Actor
from starform_core.build.lifecycle import ACTIVE_STATES, BuildState, check_transition
from starform_core.build.records import BuildRecord, BuildTrigger, Claim, ClaimOutcome, PushResult
from starform_core.build.values import BuildFailure, FailureReason, LogLine, LogPage, LogStream
from starform_core.errors import BuildTransitionError, StoreConflictError, StoreNotFoundError
from starform_core.payload.rows import DeploymentRow
from starform_core.records import NewDeployment

__all__ = ["MAX_STORED_LOG_LINES", "BuildRepository"]

MAX_STORED_LOG_LINES = 10_000
"""Log lines kept per build (later lines are counted, not stored)."""
CONCURRENCY_RETRY = dt.timedelta(seconds=5)
"""How long a build held back by its workspace's concurrency limit waits before trying again."""

_ACTIVE = [state.value for state in ACTIVE_STATES]
_COLUMNS = (
    "id::text AS build_id, service_id::text AS service_id, workspace_id::text AS workspace_id,"
    " cluster_id::text AS cluster_id, repository, branch, commit_sha, trigger, state, not_before,"
    " created_at, message, installation_id, image, digest, deployment_id::text AS deployment_id,"
    " generation, failure_reason, failure_message, attempts, started_at, finished_at, live_at,"
    " build_seconds, lease_owner, lease_expires_at"
)
_BY_ID = f"SELECT {_COLUMNS} FROM builds WHERE id = %s"  # noqa: S608


def _record(row: dict[str, Any]) -> BuildRecord:
    fields = dict(row)
    fields.pop("lease_owner", None)
    fields.pop("lease_expires_at", None)
    fields["trigger"] = BuildTrigger(fields["trigger"])
    fields["state"] = BuildState(fields["state"])
    reason = fields["failure_reason"]
    fields["failure_reason"] = None if reason is None else FailureReason(reason)
    return BuildRecord(**fields)


def _locked(cur: Cursor, build_id: str) -> dict[str, Any]:
    row = fetch_one(cur, _BY_ID + " FOR UPDATE", (build_id,), dict_row)
    if row is None:
        raise StoreNotFoundError("build not found")
    return row


def _owned(row: dict[str, Any], owner: str) -> None:
    if row["lease_owner"] != owner:
        raise StoreConflictError(f"build {row['build_id']}: the lease is no longer this worker's")


class BuildRepository(ServiceRepository):
    """Builds, their leases and logs, and deploying what they built."""

    def queue_build(
        self, service_id: str, commit_sha: str, *, now: dt.datetime, actor: Actor, message: str = ""
    ) -> PushResult:
        """Queue a build of ``commit_sha`` of the service's source now (older builds cancelled)."""
        with self._tx() as cur:
            target = fetch_one(
                cur, SOURCE_TARGETS + " WHERE ss.service_id = %s FOR UPDATE OF ss", (service_id,), dict_row
            )
            if target is None:
                raise StoreNotFoundError(
                    "service source not found (or its installation is not active): connect the service first"
                )
            build_id, cancelled = queue_for_service(
                cur,
                target,
                commit_sha=commit_sha,
                message=message,
                trigger=BuildTrigger.MANUAL,
                now=now,
                wait=dt.timedelta(0),
            )
            self._audit(
                cur,
                actor,
                "build.queue",
                "service",
                service_id,
                workspace_id=target["workspace_id"],
                cluster_id=target["cluster_id"],
                after={"build_id": build_id, "commit_sha": commit_sha},
            )
        return PushResult(queued=(build_id,), cancelled=tuple(cancelled))

    def get_build(self, build_id: str) -> BuildRecord:
        """One build (``StoreNotFoundError`` if unknown)."""
        with self._read() as cur:
            row = fetch_one(cur, _BY_ID, (build_id,), dict_row)
        if row is None:
            raise StoreNotFoundError("build not found")
        return _record(row)

    def list_builds(self, service_id: str, *, limit: int = 50) -> Sequence[BuildRecord]:
        """The service's builds, newest first."""
        with self._read() as cur:
            rows = fetch_all(
                cur,
                f"SELECT {_COLUMNS} FROM builds WHERE service_id = %s"  # noqa: S608
                " ORDER BY created_at DESC, id LIMIT %s",
                (service_id, max(1, min(limit, 200))),
                dict_row,
            )
        return [_record(row) for row in rows]

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
        """Take the build's lease, unless it must wait or another worker holds it."""
        with self._tx() as cur:
            row = _locked(cur, build_id)
            state = BuildState(row["state"])
            if state not in ACTIVE_STATES:
                return Claim(ClaimOutcome.DONE, _record(row))
            held = row["lease_owner"] not in (None, owner) and row["lease_expires_at"] > now
            if held:
                return Claim(ClaimOutcome.HELD, _record(row), retry_at=row["lease_expires_at"])
            if row["not_before"] > now:
                return Claim(ClaimOutcome.WAIT, _record(row), retry_at=row["not_before"])
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtext('starform-builds/' || %s))", (row["workspace_id"],)
            )
            running = cur.execute(
                "SELECT count(*) FROM builds WHERE workspace_id = %s AND id <> %s AND state = ANY(%s)"
                " AND lease_owner IS NOT NULL AND lease_expires_at > %s",
                (row["workspace_id"], build_id, _ACTIVE, now),
            ).fetchone()
            if running is not None and int(running[0]) >= max_active:
                return Claim(ClaimOutcome.WAIT, _record(row), retry_at=now + CONCURRENCY_RETRY)
            claimed = fetch_one(
                cur,
                f"UPDATE builds SET lease_owner = %s, lease_expires_at = %s, image = coalesce(image, %s),"  # noqa: S608
                " started_at = coalesce(started_at, %s), updated_at = now() WHERE id = %s"
                f" RETURNING {_COLUMNS}",
                (owner, now + lease, image, now, build_id),
                dict_row,
            )
        assert claimed is not None
        return Claim(ClaimOutcome.CLAIMED, _record(claimed))

    def heartbeat(
        self, build_id: str, owner: str, *, now: dt.datetime, lease: dt.timedelta, state: BuildState
    ) -> BuildState:
        """Renew the lease and record ``state``; reports a cancel that happened meanwhile."""
        with self._tx() as cur:
            row = _locked(cur, build_id)
            current = BuildState(row["state"])
            if current is BuildState.CANCELLED:
                return current
            _owned(row, owner)
            if state is not current:
                check_transition(current, state)
            cur.execute(
                "UPDATE builds SET state = %s, lease_expires_at = %s, updated_at = now() WHERE id = %s",
                (state.value, now + lease, build_id),
            )
        return state

    def append_logs(self, build_id: str, lines: Sequence[LogLine], *, cursor: int) -> int:
        """Store lines (renumbered after the build's stored ones, up to the cap); moves the cursor."""
        with self._tx() as cur:
            record = cur.execute(
                "SELECT log_lines FROM builds WHERE id = %s FOR UPDATE", (build_id,)
            ).fetchone()
            if record is None:
                raise StoreNotFoundError("build not found")
            stored = int(record[0])
            room = max(0, MAX_STORED_LOG_LINES - stored)
            kept = list(lines[:room])
            cur.executemany(
                "INSERT INTO build_logs (build_id, seq, at, stream, text) VALUES (%s, %s, %s, %s, %s)",
                [
                    (build_id, stored + n, line.at, line.stream.value, line.text.replace("\0", ""))
                    for n, line in enumerate(kept, start=1)
                ],
            )
            cur.execute(
                "UPDATE builds SET log_lines = log_lines + %s, log_cursor = %s WHERE id = %s",
                (len(kept), cursor, build_id),
            )
        return len(kept)

    def log_cursor(self, build_id: str) -> int:
        """The build service's log cursor the build's stored lines reach (for a resuming worker)."""
        with self._read() as cur:
            record = cur.execute("SELECT log_cursor FROM builds WHERE id = %s", (build_id,)).fetchone()
        if record is None:
            raise StoreNotFoundError("build not found")
        return int(record[0])

    def read_logs(self, build_id: str, *, after: int = 0, limit: int = 500) -> LogPage:
        """Stored lines after ``after``, oldest first."""
        with self._read() as cur:
            state = cur.execute("SELECT state, log_lines FROM builds WHERE id = %s", (build_id,)).fetchone()
            if state is None:
                raise StoreNotFoundError("build not found")
            rows = cur.execute(
                "SELECT seq, at, stream, text FROM build_logs WHERE build_id = %s AND seq > %s"
                " ORDER BY seq LIMIT %s",
                (build_id, after, limit),
            ).fetchall()
        lines = tuple(LogLine(seq=r[0], at=r[1], stream=LogStream(r[2]), text=r[3]) for r in rows)
        cursor = lines[-1].seq if lines else max(after, 0)
        over = BuildState(state[0]) not in ACTIVE_STATES
        return LogPage(lines=lines, next_after=cursor, complete=over and cursor >= int(state[1]))

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
        """End the build in ``state`` and release its lease."""
        with self._tx() as cur:
            row = _locked(cur, build_id)
            current = BuildState(row["state"])
            if current is BuildState.CANCELLED:  # cancelled meanwhile: it stays cancelled
                cur.execute(
                    "UPDATE builds SET build_seconds = coalesce(build_seconds, 0) + %s WHERE id = %s",
                    (build_seconds or 0.0, build_id),
                )
                return self._reload(cur, build_id)
            _owned(row, owner)
            check_transition(current, state)
            cur.execute(
                "UPDATE builds SET state = %s, finished_at = %s, failure_reason = %s, failure_message = %s,"
                " build_seconds = coalesce(build_seconds, 0) + %s, lease_owner = NULL,"
                " lease_expires_at = NULL, updated_at = now() WHERE id = %s",
                (
                    state.value,
                    now,
                    None if failure is None else failure.reason.value,
                    None if failure is None else failure.message[:1000],
                    build_seconds or 0.0,
                    build_id,
                ),
            )
            return self._reload(cur, build_id)

    def requeue_build(
        self,
        build_id: str,
        owner: str,
        *,
        retry_at: dt.datetime,
        failure: BuildFailure,
        build_seconds: float = 0.0,
    ) -> BuildRecord:
        """Back to ``queued`` for another attempt at the build service."""
        with self._tx() as cur:
            row = _locked(cur, build_id)
            if BuildState(row["state"]) is BuildState.CANCELLED:
                return self._reload(cur, build_id)
            _owned(row, owner)
            check_transition(BuildState(row["state"]), BuildState.QUEUED)
            cur.execute(
                "UPDATE builds SET state = 'queued', attempts = attempts + 1, not_before = %s,"
                " failure_reason = %s, failure_message = %s, log_cursor = 0,"
                " build_seconds = coalesce(build_seconds, 0) + %s, lease_owner = NULL,"
                " lease_expires_at = NULL, updated_at = now() WHERE id = %s",
                (retry_at, failure.reason.value, failure.message[:1000], build_seconds, build_id),
            )
            return self._reload(cur, build_id)

    @staticmethod
    def _reload(cur: Cursor, build_id: str) -> BuildRecord:
        row = fetch_one(cur, _BY_ID, (build_id,), dict_row)
        assert row is not None
        return _record(row)

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
        """Store the deployment of the built digest and bump the generation, in one transaction."""
        with self._tx() as cur:
            service = cur.execute("SELECT service_id FROM builds WHERE id = %s", (build_id,)).fetchone()
            if service is None:
                raise StoreNotFoundError("build not found")
            scope = self._scope_of(cur, "services", str(service[0]))
            row = _locked(cur, build_id)
            current = BuildState(row["state"])
            if current is BuildState.CANCELLED:
                raise BuildTransitionError(f"build {build_id} was cancelled: it deploys nothing")
            _owned(row, owner)
            check_transition(current, BuildState.DEPLOYING)
            actor = Actor(label=f"build {build_id}")
            deployment = NewDeployment(
                deployment_id=str(uuid.uuid4()), service_id=row["service_id"], image=image, command=command
            )
            created = self._insert_deployment(cur, deployment, actor)
            generation = self._finish_change(
                cur, scope, actor, "deployment.create", "service", created.service_id, after=jsonable(created)
            )
            cur.execute(
                "UPDATE builds SET state = 'deploying', digest = %s, deployment_id = %s, generation = %s,"
                " finished_at = %s, build_seconds = coalesce(build_seconds, 0) + %s, lease_owner = NULL,"
                " lease_expires_at = NULL, updated_at = now() WHERE id = %s",
                (digest, created.deployment_id, generation, now, build_seconds, build_id),
            )
        return created

    def expired_leases(self, *, now: dt.datetime, limit: int = 100) -> Sequence[str]:
        """Active builds whose lease ran out (their worker is gone)."""
        with self._read() as cur:
            rows = cur.execute(
                "SELECT id::text FROM builds WHERE state = ANY(%s) AND lease_expires_at < %s"
                " ORDER BY lease_expires_at LIMIT %s",
                (_ACTIVE, now, limit),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def overdue_builds(self, *, now: dt.datetime, grace: dt.timedelta, limit: int = 100) -> Sequence[str]:
        """Queued, unleased builds due more than ``grace`` ago (their job was lost)."""
        with self._read() as cur:
            rows = cur.execute(
                "SELECT id::text FROM builds WHERE state = 'queued' AND lease_owner IS NULL"
                " AND not_before < %s ORDER BY not_before LIMIT %s",
                (now - grace, limit),
            ).fetchall()
        return [str(r[0]) for r in rows]
