"""The base of every repository mixin: transactions, change scopes, generation bumps, audit.

Each ``repo_*.py`` module is one :class:`Repository` mixin over the same pool and cipher;
:class:`~starform_adapters.postgres.store.PostgresStore` combines them. Billing's repositories
(:mod:`starform_adapters.postgres.billing`) share the pool and its transactions
(:class:`PooledRepository`) but neither the cipher nor the generation bumps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs
import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from starform_adapters.postgres.crypto import Sealed, VarCipher
from starform_adapters.postgres.errors import translate_errors
from starform_adapters.postgres.queries import load_cluster, load_rows
from starform_core.access import Actor
from starform_core.errors import StoreNotFoundError
from starform_core.payload.build import build_payload
from starform_core.payload.codec import converter
from starform_core.secrets_values import SecretValue

__all__ = ["VALIDATION_CHECKSUM_KEY", "Cursor", "PooledRepository", "Repository", "Scope", "jsonable"]

Cursor = psycopg.Cursor[Any]
VALIDATION_CHECKSUM_KEY = b"starform-validation-only-checksum"
"""The checksum key of payloads built only to validate a write (never served)."""


@attrs.frozen
class Scope:
    """Where a change lands: its workspace, project and the cluster whose generation it bumps."""

    workspace_id: str
    project_id: str
    cluster_id: str


def _placeholder(_group: str, _key: str, _sealed: Sealed) -> SecretValue:
    return SecretValue("")


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (attrs values via the payload converter's rules)."""
    return json.loads(json.dumps(converter.unstructure(value), default=str))


class PooledRepository:
    """The connection pool and its transactions: what every repository shares."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        """One transaction: commit on success, roll back on any error; psycopg errors translated."""
        with (
            translate_errors(),
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor() as cur,
        ):
            yield cur

    @contextmanager
    def _read(self) -> Iterator[Cursor]:
        """A cursor for one single-statement read (autocommit: one round trip)."""
        with translate_errors(), self._pool.connection() as conn, conn.cursor() as cur:
            yield cur


class Repository(PooledRepository):
    """The pool, the cipher and the helpers every Starbase repository mixin uses."""

    def __init__(self, pool: ConnectionPool, cipher: VarCipher) -> None:
        super().__init__(pool)
        self._cipher = cipher

    @staticmethod
    def _scope_of_project(cur: Cursor, project_id: str, *, lock: bool) -> Scope:
        """The project's scope; with ``lock`` the cluster row is locked (serialising its writers)."""
        record = cur.execute(
            "SELECT workspace_id, cluster_id FROM projects WHERE id = %s", (project_id,)
        ).fetchone()
        if record is None:
            raise StoreNotFoundError("project not found")
        if lock:
            cur.execute("SELECT 1 FROM clusters WHERE id = %s FOR NO KEY UPDATE", (record[1],))
        return Scope(workspace_id=record[0], project_id=project_id, cluster_id=record[1])

    def _scope_of(self, cur: Cursor, table: str, row_id: str, *, lock: bool = True) -> Scope:
        """The scope of a row of ``services``, ``environments`` or ``var_groups``."""
        query = {
            "services": "SELECT project_id FROM services WHERE id = %s",
            "environments": "SELECT project_id FROM environments WHERE id = %s",
            "var_groups": "SELECT project_id FROM var_groups WHERE id = %s",
        }[table]
        record = cur.execute(query, (row_id,)).fetchone()
        if record is None:
            raise StoreNotFoundError(f"{table.removesuffix('s').replace('_', ' ')} not found")
        return self._scope_of_project(cur, record[0], lock=lock)

    @staticmethod
    def _bump(cur: Cursor, cluster_id: str) -> int:
        """Increase the cluster's generation in this transaction; returns the new value."""
        record = cur.execute(
            "UPDATE clusters SET generation = generation + 1 WHERE id = %s RETURNING generation",
            (cluster_id,),
        ).fetchone()
        if record is None:
            raise StoreNotFoundError("cluster not found")
        return int(record[0])

    @staticmethod
    def _audit(
        cur: Cursor,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: str,
        *,
        workspace_id: str | None = None,
        project_id: str | None = None,
        cluster_id: str | None = None,
        generation: int | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        cur.execute(
            "INSERT INTO audit_log (actor_id, actor, action, target_type, target_id, workspace_id,"
            " project_id, cluster_id, generation, before, after)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                actor.user_id,
                actor.label,
                action,
                target_type,
                target_id,
                workspace_id,
                project_id,
                cluster_id,
                generation,
                None if before is None else Jsonb(before),
                None if after is None else Jsonb(after),
            ),
        )

    def _finish_change(
        self,
        cur: Cursor,
        scope: Scope,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: str,
        *,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> int:
        """Validate the project as the payload would, bump the generation, audit. Returns it.

        The project's rows are folded by the core's ``build_payload`` (secret values replaced by
        placeholders), so a write the payload would refuse never commits.
        """
        cluster = load_cluster(cur, scope.cluster_id)
        rows = load_rows(cur, cluster, scope="project", scope_id=scope.project_id, decrypt=_placeholder)
        build_payload(rows, checksum_key=VALIDATION_CHECKSUM_KEY)
        generation = self._bump(cur, scope.cluster_id)
        self._audit(
            cur,
            actor,
            action,
            target_type,
            target_id,
            workspace_id=scope.workspace_id,
            project_id=scope.project_id,
            cluster_id=scope.cluster_id,
            generation=generation,
            before=before,
            after=after,
        )
        return generation
