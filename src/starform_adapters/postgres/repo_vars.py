"""Var groups, their encrypted entries, and their attachment to services."""

from __future__ import annotations

from collections.abc import Mapping

from psycopg.rows import class_row

from starform_adapters.postgres.fetch import fetch_all, fetch_one
from starform_adapters.postgres.repository import Cursor, Repository, jsonable
from starform_core.access import Actor
from starform_core.errors import StoreNotFoundError
from starform_core.kube.limits import check_project_vars_size, check_secret_size
from starform_core.model.vargroup import check_var_key
from starform_core.payload.rows import ServiceVarGroupRow, VarGroupRow
from starform_core.records import VarKeyInfo
from starform_core.secrets_values import SecretValue

__all__ = ["VarGroupRepository"]


_GROUP_COLUMNS = "id AS var_group_id, project_id, name, environment_id"
_GROUP_ROW = class_row(VarGroupRow)
_GROUP_BY_ID = f"SELECT {_GROUP_COLUMNS} FROM var_groups WHERE id = %s"  # noqa: S608


class VarGroupRepository(Repository):
    """Var groups; values are sealed with AES-256-GCM before they reach PostgreSQL."""

    def _write_entries(self, cur: Cursor, var_group_id: str, entries: Mapping[str, SecretValue]) -> None:
        """Seal and upsert entries; the whole group must still fit in one Kubernetes Secret."""
        for key in sorted(entries):
            check_var_key(f"entries.{key}", key)
            sealed = self._cipher.seal(var_group_id, key, entries[key])
            cur.execute(
                "INSERT INTO var_group_entries (var_group_id, key, ciphertext, nonce, key_id)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (var_group_id, key) DO UPDATE SET"
                " ciphertext = EXCLUDED.ciphertext, nonce = EXCLUDED.nonce,"
                " key_id = EXCLUDED.key_id, updated_at = now()",
                (var_group_id, key, sealed.ciphertext, sealed.nonce, sealed.key_id),
            )
        if entries:
            sizes = cur.execute(
                "SELECT key, length(ciphertext) - %s FROM var_group_entries WHERE var_group_id = %s",
                (self._cipher.overhead, var_group_id),
            ).fetchall()
            check_secret_size("entries", ((str(k), int(n)) for k, n in sizes))
            project = cur.execute(
                "SELECT coalesce(sum(octet_length(e.key) + length(e.ciphertext) - %s), 0)"
                " FROM var_group_entries e JOIN var_groups g ON g.id = e.var_group_id"
                " WHERE g.project_id = (SELECT project_id FROM var_groups WHERE id = %s)",
                (self._cipher.overhead, var_group_id),
            ).fetchone()
            check_project_vars_size("entries", int(project[0]) if project else 0)

    def create_var_group(
        self,
        group: VarGroupRow,
        *,
        entries: Mapping[str, SecretValue] | None = None,
        actor: Actor,
    ) -> VarGroupRow:
        """Create a var group with its first entries."""
        with self._tx() as cur:
            scope = self._scope_of_project(cur, group.project_id, lock=True)
            if group.environment_id is not None:
                env = cur.execute(
                    "SELECT project_id FROM environments WHERE id = %s", (group.environment_id,)
                ).fetchone()
                if env is None or env[0] != group.project_id:
                    raise StoreNotFoundError("environment not found")
            cur.execute(
                "INSERT INTO var_groups (id, project_id, name, environment_id) VALUES (%s, %s, %s, %s)",
                (group.var_group_id, group.project_id, group.name, group.environment_id),
            )
            self._write_entries(cur, group.var_group_id, entries or {})
            self._finish_change(
                cur,
                scope,
                actor,
                "var_group.create",
                "var_group",
                group.var_group_id,
                after={**jsonable(group), "keys": sorted(entries or {})},
            )
        return group

    def delete_var_group(self, var_group_id: str, *, actor: Actor) -> None:
        """Delete a var group (detached from every service)."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "var_groups", var_group_id)
            before = self._load_group(cur, var_group_id)
            cur.execute("DELETE FROM var_groups WHERE id = %s", (var_group_id,))
            self._finish_change(
                cur,
                scope,
                actor,
                "var_group.delete",
                "var_group",
                var_group_id,
                before=jsonable(before),
            )

    @staticmethod
    def _load_group(cur: Cursor, var_group_id: str) -> VarGroupRow:
        row = fetch_one(cur, _GROUP_BY_ID, (var_group_id,), _GROUP_ROW)
        if row is None:
            raise StoreNotFoundError("var group not found")
        return row

    def get_var_group(self, var_group_id: str) -> VarGroupRow:
        """One var group."""
        with self._read() as cur:
            return self._load_group(cur, var_group_id)

    def list_var_groups(self, project_id: str) -> list[VarGroupRow]:
        """A project's var groups, by name."""
        with self._read() as cur:
            return fetch_all(
                cur,
                f"SELECT {_GROUP_COLUMNS} FROM var_groups WHERE project_id = %s ORDER BY name",  # noqa: S608
                (project_id,),
                _GROUP_ROW,
            )

    def set_var_entries(self, var_group_id: str, entries: Mapping[str, SecretValue], *, actor: Actor) -> None:
        """Insert or replace entries (the audit log records the keys, never the values)."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "var_groups", var_group_id)
            self._write_entries(cur, var_group_id, entries)
            self._finish_change(
                cur,
                scope,
                actor,
                "var_group.entries.set",
                "var_group",
                var_group_id,
                after={"keys": sorted(entries)},
            )

    def delete_var_entry(self, var_group_id: str, key: str, *, actor: Actor) -> None:
        """Remove one entry."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "var_groups", var_group_id)
            cur.execute(
                "DELETE FROM var_group_entries WHERE var_group_id = %s AND key = %s",
                (var_group_id, key),
            )
            if cur.rowcount != 1:
                raise StoreNotFoundError("key: the var group has no such key")
            self._finish_change(
                cur,
                scope,
                actor,
                "var_group.entries.delete",
                "var_group",
                var_group_id,
                before={"keys": [key]},
            )

    def list_var_keys(self, var_group_id: str) -> list[VarKeyInfo]:
        """Keys and metadata; values are write-only."""
        with self._tx() as cur:
            self._load_group(cur, var_group_id)
            return fetch_all(
                cur,
                "SELECT key, key_id, updated_at FROM var_group_entries WHERE var_group_id = %s ORDER BY key",
                (var_group_id,),
                class_row(VarKeyInfo),
            )

    def attach_var_group(self, link: ServiceVarGroupRow, *, actor: Actor) -> ServiceVarGroupRow:
        """Attach (or re-order) a var group on a service of the same project."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", link.service_id)
            group = cur.execute(
                "SELECT project_id FROM var_groups WHERE id = %s", (link.var_group_id,)
            ).fetchone()
            if group is None or group[0] != scope.project_id:
                raise StoreNotFoundError("var group not found")
            before = cur.execute(
                "SELECT attach_order FROM service_var_groups WHERE service_id = %s AND var_group_id = %s",
                (link.service_id, link.var_group_id),
            ).fetchone()
            cur.execute(
                "INSERT INTO service_var_groups (service_id, var_group_id, project_id, attach_order)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (service_id, var_group_id)"
                " DO UPDATE SET attach_order = EXCLUDED.attach_order",
                (link.service_id, link.var_group_id, scope.project_id, link.attach_order),
            )
            self._finish_change(
                cur,
                scope,
                actor,
                "var_group.attach",
                "service",
                link.service_id,
                before=None
                if before is None
                else {"var_group_id": link.var_group_id, "attach_order": before[0]},
                after=jsonable(link),
            )
        return link

    def detach_var_group(self, service_id: str, var_group_id: str, *, actor: Actor) -> None:
        """Detach a var group from a service."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", service_id)
            cur.execute(
                "DELETE FROM service_var_groups WHERE service_id = %s AND var_group_id = %s",
                (service_id, var_group_id),
            )
            if cur.rowcount != 1:
                raise StoreNotFoundError("var group: not attached to the service")
            self._finish_change(
                cur,
                scope,
                actor,
                "var_group.detach",
                "service",
                service_id,
                before={"var_group_id": var_group_id},
            )

    def list_attachments(self, service_id: str) -> list[ServiceVarGroupRow]:
        """The var groups attached to a service, by attach order."""
        with self._read() as cur:
            return fetch_all(
                cur,
                "SELECT service_id, var_group_id, attach_order FROM service_var_groups"
                " WHERE service_id = %s ORDER BY attach_order",
                (service_id,),
                class_row(ServiceVarGroupRow),
            )
