"""GitHub installations (webhook secret sealed with the var cipher), service sources, webhook
deliveries de-duplicated by ``X-GitHub-Delivery``, and queueing builds for a push (§16.11)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from psycopg.rows import dict_row

from starform_adapters.postgres.crypto import Sealed
from starform_adapters.postgres.fetch import fetch_all, fetch_one
from starform_adapters.postgres.repository import Cursor, Repository, jsonable
from starform_core.access import Actor
from starform_core.build.lifecycle import ACTIVE_STATES
from starform_core.build.records import (
    BuildTrigger,
    Installation,
    InstallationState,
    PushResult,
    ServiceSource,
)
from starform_core.build.values import BuildOverrides
from starform_core.errors import StoreConflictError, StoreNotFoundError, ValidationError
from starform_core.gitpush.events import InstallationAction, InstallationEvent, PushEvent
from starform_core.secrets_values import SecretValue

__all__ = ["SOURCE_TARGETS", "GitIntegrationRepository", "queue_for_service"]

_SECRET_KEY = "webhook_secret"
_ACTIVE = [state.value for state in ACTIVE_STATES]
_NEXT_STATE = {
    InstallationAction.CREATED: InstallationState.ACTIVE,
    InstallationAction.UNSUSPEND: InstallationState.ACTIVE,
    InstallationAction.SUSPEND: InstallationState.SUSPENDED,
    InstallationAction.DELETED: InstallationState.DELETED,
}
_SOURCE_COLUMNS = (
    "service_id::text AS service_id, installation_id, repository, branch, auto_deploy, root_directory,"
    " dockerfile, build_command, pre_deploy_command, start_command"
)


def _sealed_scope(installation_id: int) -> str:
    return f"github-installation/{installation_id}"


def _source_of(row: dict[str, Any]) -> ServiceSource:
    overrides = BuildOverrides(
        build_command=row["build_command"],
        pre_deploy_command=row["pre_deploy_command"],
        start_command=row["start_command"],
    )
    return ServiceSource(
        service_id=row["service_id"],
        installation_id=row["installation_id"],
        repository=row["repository"],
        branch=row["branch"],
        auto_deploy=row["auto_deploy"],
        root_directory=row["root_directory"],
        dockerfile=row["dockerfile"],
        overrides=overrides,
    )


def queue_for_service(
    cur: Cursor,
    target: dict[str, Any],
    *,
    commit_sha: str,
    message: str,
    trigger: BuildTrigger,
    now: dt.datetime,
    wait: dt.timedelta,
) -> tuple[str, list[str]]:
    """Queue a build of ``commit_sha`` for the service in ``target`` (its source row joined with
    its project's scope, locked by the caller): the build still waiting in its debounce window
    takes the new commit, else older active builds are cancelled and a new one is inserted.
    Returns the queued build's id and the cancelled ones."""
    waiting = cur.execute(
        "SELECT id::text FROM builds WHERE service_id = %s AND branch = %s AND state = 'queued'"
        " AND started_at IS NULL AND not_before > %s FOR UPDATE",
        (target["service_id"], target["branch"], now),
    ).fetchone()
    if waiting is not None and trigger is BuildTrigger.PUSH:
        cur.execute(
            "UPDATE builds SET commit_sha = %s, message = %s, not_before = %s, updated_at = now()"
            " WHERE id = %s",
            (commit_sha, message, now + wait, waiting[0]),
        )
        return str(waiting[0]), []
    cancelled = cur.execute(
        "UPDATE builds SET state = 'cancelled', finished_at = %s, lease_owner = NULL,"
        " lease_expires_at = NULL, failure_message = 'superseded by a newer build of the service',"
        " updated_at = now() WHERE service_id = %s AND state = ANY(%s) RETURNING id::text",
        (now, target["service_id"], _ACTIVE),
    ).fetchall()
    build_id = str(uuid.uuid4())
    cur.execute(
        "INSERT INTO builds (id, service_id, workspace_id, cluster_id, installation_id, repository,"
        " branch, commit_sha, message, trigger, state, not_before)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'queued', %s)",
        (
            build_id,
            target["service_id"],
            target["workspace_id"],
            target["cluster_id"],
            target["installation_id"],
            target["repository"],
            target["branch"],
            commit_sha,
            message,
            trigger.value,
            now + wait,
        ),
    )
    return build_id, [str(row[0]) for row in cancelled]


SOURCE_TARGETS = (
    "SELECT ss.service_id::text AS service_id, ss.installation_id, ss.repository, ss.branch,"
    " p.workspace_id::text AS workspace_id, p.cluster_id::text AS cluster_id"
    " FROM service_sources ss JOIN services s ON s.id = ss.service_id"
    " JOIN projects p ON p.id = s.project_id"
    " JOIN github_installations gi ON gi.id = ss.installation_id AND gi.state = 'active'"
)


class GitIntegrationRepository(Repository):
    """Installations, sources and deliveries."""

    def register_installation(self, installation: Installation, secret: SecretValue, *, actor: Actor) -> None:
        """Store the installation (``pending`` until GitHub's ``created`` event) and its secret."""
        sealed = self._cipher.seal(_sealed_scope(installation.installation_id), _SECRET_KEY, secret)
        with self._tx() as cur:
            inserted = cur.execute(
                "INSERT INTO github_installations (id, workspace_id, account, state, secret_ciphertext,"
                " secret_nonce, secret_key_id) VALUES (%s, %s, %s, 'pending', %s, %s, %s)"
                " ON CONFLICT (id) DO NOTHING RETURNING 1",
                (
                    installation.installation_id,
                    installation.workspace_id,
                    installation.account,
                    sealed.ciphertext,
                    sealed.nonce,
                    sealed.key_id,
                ),
            ).fetchone()
            if inserted is None:
                raise StoreConflictError("installation_id: the installation is registered already")
            self._audit(
                cur,
                actor,
                "github_installation.register",
                "github_installation",
                str(installation.installation_id),
                workspace_id=installation.workspace_id,
                after={"account": installation.account},
            )

    def get_installation(self, installation_id: int) -> Installation:
        """One installation (``StoreNotFoundError`` if unknown)."""
        with self._read() as cur:
            record = cur.execute(
                "SELECT workspace_id::text, account, state FROM github_installations WHERE id = %s",
                (installation_id,),
            ).fetchone()
        if record is None:
            raise StoreNotFoundError("installation not found")
        return Installation(installation_id, record[0], record[1], InstallationState(record[2]))

    def webhook_secret(self, installation_id: int) -> SecretValue:
        """The installation's webhook secret, opened."""
        with self._read() as cur:
            record = cur.execute(
                "SELECT secret_ciphertext, secret_nonce, secret_key_id FROM github_installations"
                " WHERE id = %s",
                (installation_id,),
            ).fetchone()
        if record is None:
            raise StoreNotFoundError("installation not found")
        sealed = Sealed(ciphertext=bytes(record[0]), nonce=bytes(record[1]), key_id=record[2])
        return self._cipher.open(_sealed_scope(installation_id), _SECRET_KEY, sealed)

    def set_service_source(self, source: ServiceSource, *, actor: Actor) -> ServiceSource:
        """Connect the service to a repository branch of an installation of its workspace."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", source.service_id, lock=False)
            owner = cur.execute(
                "SELECT workspace_id::text, state FROM github_installations WHERE id = %s",
                (source.installation_id,),
            ).fetchone()
            if owner is None or owner[0] != scope.workspace_id:
                raise ValidationError("installation_id", "is not an installation of the service's workspace")
            if owner[1] == InstallationState.DELETED.value:
                raise ValidationError("installation_id", "the installation was deleted on GitHub")
            overrides = source.overrides
            cur.execute(
                "INSERT INTO service_sources (service_id, installation_id, repository, branch, auto_deploy,"
                " root_directory, dockerfile, build_command, pre_deploy_command, start_command)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (service_id) DO UPDATE SET"
                " installation_id = EXCLUDED.installation_id, repository = EXCLUDED.repository,"
                " branch = EXCLUDED.branch, auto_deploy = EXCLUDED.auto_deploy,"
                " root_directory = EXCLUDED.root_directory, dockerfile = EXCLUDED.dockerfile,"
                " build_command = EXCLUDED.build_command, pre_deploy_command = EXCLUDED.pre_deploy_command,"
                " start_command = EXCLUDED.start_command, updated_at = now()",
                (
                    source.service_id,
                    source.installation_id,
                    source.repository,
                    source.branch,
                    source.auto_deploy,
                    source.root_directory,
                    source.dockerfile,
                    overrides.build_command,
                    overrides.pre_deploy_command,
                    overrides.start_command,
                ),
            )
            self._audit(
                cur,
                actor,
                "service_source.set",
                "service",
                source.service_id,
                workspace_id=scope.workspace_id,
                project_id=scope.project_id,
                after=jsonable(source),
            )
        return source

    def get_service_source(self, service_id: str) -> ServiceSource:
        """The service's source (``StoreNotFoundError`` if it has none)."""
        with self._read() as cur:
            row = fetch_one(
                cur,
                f"SELECT {_SOURCE_COLUMNS} FROM service_sources WHERE service_id = %s",  # noqa: S608
                (service_id,),
                dict_row,
            )
        if row is None:
            raise StoreNotFoundError("service source not found: connect the service to a repository first")
        return _source_of(row)

    @staticmethod
    def _insert_delivery(
        cur: Cursor, delivery_id: str, event: str, installation_id: int | None, outcome: str, detail: str
    ) -> bool:
        inserted = cur.execute(
            "INSERT INTO webhook_deliveries (delivery_id, event, installation_id, outcome, detail)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (delivery_id) DO NOTHING RETURNING 1",
            (delivery_id, event[:64], installation_id, outcome, detail[:500]),
        ).fetchone()
        return inserted is not None

    def record_delivery(
        self, delivery_id: str, event: str, *, installation_id: int | None, outcome: str, detail: str = ""
    ) -> bool:
        """Remember a delivery that queues nothing (``False``: seen before)."""
        with self._tx() as cur:
            return self._insert_delivery(cur, delivery_id, event, installation_id, outcome, detail)

    def apply_installation_event(self, delivery_id: str, event: InstallationEvent) -> bool:
        """Move the installation to the state the event says, once per delivery."""
        state = _NEXT_STATE[event.action]
        with self._tx() as cur:
            detail = f"installation {event.action.value}"
            if not self._insert_delivery(
                cur, delivery_id, "installation", event.installation_id, "recorded", detail
            ):
                return False
            cur.execute(
                "UPDATE github_installations SET state = %s, updated_at = now() WHERE id = %s"
                " AND state <> 'deleted'",
                (state.value, event.installation_id),
            )
        return True

    def purge_deliveries(self, *, before: dt.datetime) -> int:
        """Delete deliveries received before ``before``."""
        with self._tx() as cur:
            cur.execute("DELETE FROM webhook_deliveries WHERE received_at < %s", (before,))
            return cur.rowcount

    def queue_push(
        self, delivery_id: str, push: PushEvent, *, now: dt.datetime, wait: dt.timedelta
    ) -> PushResult:
        """Queue (or debounce) a build for every auto-deploying service the push matches."""
        with self._tx() as cur:
            if not self._insert_delivery(cur, delivery_id, "push", push.installation_id, "queued", ""):
                return PushResult(duplicate=True)
            if not push.buildable:
                self._set_outcome(cur, delivery_id, "ignored", "a tag push or a branch deletion", [])
                return PushResult()
            targets = fetch_all(
                cur,
                SOURCE_TARGETS + " WHERE ss.installation_id = %s AND lower(ss.repository) = lower(%s)"
                " AND ss.branch = %s AND ss.auto_deploy ORDER BY ss.service_id FOR UPDATE OF ss",
                (push.installation_id, push.repository, push.branch),
                dict_row,
            )
            queued: list[str] = []
            cancelled: list[str] = []
            for target in targets:
                build_id, stopped = queue_for_service(
                    cur,
                    target,
                    commit_sha=push.commit_sha,
                    message=push.message,
                    trigger=BuildTrigger.PUSH,
                    now=now,
                    wait=wait,
                )
                queued.append(build_id)
                cancelled.extend(stopped)
            outcome = "queued" if queued else "ignored"
            detail = "" if queued else "no auto-deploying service builds this branch"
            self._set_outcome(cur, delivery_id, outcome, detail, queued)
        return PushResult(queued=tuple(queued), cancelled=tuple(cancelled))

    @staticmethod
    def _set_outcome(cur: Cursor, delivery_id: str, outcome: str, detail: str, build_ids: list[str]) -> None:
        cur.execute(
            "UPDATE webhook_deliveries SET outcome = %s, detail = %s, build_ids = %s::uuid[]"
            " WHERE delivery_id = %s",
            (outcome, detail, build_ids, delivery_id),
        )
