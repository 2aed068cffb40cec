"""Users, workspaces, memberships, clusters and projects."""

from __future__ import annotations

import attrs
from psycopg.rows import class_row

from starform_adapters.postgres.fetch import fetch_all, fetch_one
from starform_adapters.postgres.queries import CLUSTER_COLUMNS, CLUSTER_ROW, load_cluster
from starform_adapters.postgres.repository import Cursor, Repository, jsonable
from starform_core.access import Actor, ProjectRole, Roles, UserRecord, WorkspaceRole
from starform_core.errors import StoreConflictError, StoreNotFoundError, ValidationError
from starform_core.membership import check_owner_rules
from starform_core.model.enums import Tier
from starform_core.payload.build import cluster_settings
from starform_core.payload.rows import ClusterRow, ProjectRow, WorkspaceRow

__all__ = ["TenancyRepository"]

_USER_COLUMNS = "id AS user_id, email, name, is_operator"
_PROJECT_COLUMNS = "id AS project_id, workspace_id, cluster_id, name, tier"
_USER_ROW = class_row(UserRecord)
_PROJECT_ROW = class_row(ProjectRow)
_PROJECT_BY_ID = f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE id = %s"  # noqa: S608
_WORKSPACE_ROW = class_row(WorkspaceRow)


def _cluster_audit(cluster: ClusterRow) -> dict[str, object]:
    data: dict[str, object] = jsonable(cluster)
    data.pop("generation", None)
    data.pop("epoch", None)
    return data


class TenancyRepository(Repository):
    """People, workspaces, clusters and projects."""

    def ping(self) -> None:
        """Raise ``StoreError`` unless PostgreSQL answers."""
        with self._read() as cur:
            cur.execute("SELECT 1")

    def create_user(self, user: UserRecord) -> UserRecord:
        """Create a user (``StoreConflictError`` if the email is taken)."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO users (id, email, name, is_operator) VALUES (%s, %s, %s, %s)",
                (user.user_id, user.email, user.name, user.is_operator),
            )
            self._audit(cur, Actor(label="system"), "user.create", "user", user.user_id, after=jsonable(user))
        return user

    def get_user(self, *, user_id: str | None = None, email: str | None = None) -> UserRecord:
        """A user by id or by email."""
        by, value = ("id", user_id) if user_id is not None else ("email", email)
        with self._read() as cur:
            user = fetch_one(cur, f"SELECT {_USER_COLUMNS} FROM users WHERE {by} = %s", (value,), _USER_ROW)  # noqa: S608
        if user is None:
            raise StoreNotFoundError("user not found")
        return user

    def create_workspace(self, workspace: WorkspaceRow, *, owner: Actor) -> WorkspaceRow:
        """Create a workspace; ``owner`` becomes its Owner."""
        if owner.user_id is None:
            raise ValidationError("owner", "a workspace needs an owning user")
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO workspaces (id, name) VALUES (%s, %s)",
                (workspace.workspace_id, workspace.name),
            )
            cur.execute(
                "INSERT INTO workspace_members (workspace_id, user_id, role) VALUES (%s, %s, 'owner')",
                (workspace.workspace_id, owner.user_id),
            )
            self._audit(
                cur,
                owner,
                "workspace.create",
                "workspace",
                workspace.workspace_id,
                workspace_id=workspace.workspace_id,
                after=jsonable(workspace),
            )
        return workspace

    def get_workspace(self, workspace_id: str) -> WorkspaceRow:
        """One workspace."""
        with self._read() as cur:
            row = fetch_one(
                cur,
                "SELECT id AS workspace_id, name FROM workspaces WHERE id = %s",
                (workspace_id,),
                _WORKSPACE_ROW,
            )
        if row is None:
            raise StoreNotFoundError("workspace not found")
        return row

    def list_workspaces(self, user_id: str) -> list[WorkspaceRow]:
        """The workspaces the user belongs to."""
        with self._read() as cur:
            return fetch_all(
                cur,
                "SELECT w.id AS workspace_id, w.name FROM workspaces w JOIN workspace_members m"
                " ON m.workspace_id = w.id WHERE m.user_id = %s ORDER BY w.name, w.id",
                (user_id,),
                _WORKSPACE_ROW,
            )

    @staticmethod
    def _lock_members(cur: Cursor, workspace_id: str) -> dict[str, WorkspaceRole]:
        """Lock the workspace (serialising its membership changes); its members and roles."""
        found = cur.execute(
            "SELECT 1 FROM workspaces WHERE id = %s FOR NO KEY UPDATE", (workspace_id,)
        ).fetchone()
        if found is None:
            raise StoreNotFoundError("workspace not found")
        records = cur.execute(
            "SELECT user_id, role FROM workspace_members WHERE workspace_id = %s", (workspace_id,)
        ).fetchall()
        return {str(r[0]): WorkspaceRole(r[1]) for r in records}

    def set_workspace_member(
        self, workspace_id: str, user_id: str, role: WorkspaceRole, *, actor: Actor
    ) -> None:
        """Add a workspace member or change the role (the Owner rules hold, see :func:`check_owner_rules`)."""
        with self._tx() as cur:
            members = self._lock_members(cur, workspace_id)
            check_owner_rules(members, actor=actor, target=user_id, new_role=role)
            before = members.get(user_id)
            cur.execute(
                "INSERT INTO workspace_members (workspace_id, user_id, role) VALUES (%s, %s, %s)"
                " ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = EXCLUDED.role",
                (workspace_id, user_id, role.value),
            )
            self._audit(
                cur,
                actor,
                "workspace.member.set",
                "user",
                user_id,
                workspace_id=workspace_id,
                before=None if before is None else {"role": before.value},
                after={"role": role.value},
            )

    def set_project_member(self, project_id: str, user_id: str, role: ProjectRole, *, actor: Actor) -> None:
        """Add a project member or change the role."""
        with self._tx() as cur:
            scope = self._scope_of_project(cur, project_id, lock=False)
            before = cur.execute(
                "SELECT role FROM project_members WHERE project_id = %s AND user_id = %s",
                (project_id, user_id),
            ).fetchone()
            cur.execute(
                "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, %s)"
                " ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role",
                (project_id, user_id, role.value),
            )
            self._audit(
                cur,
                actor,
                "project.member.set",
                "user",
                user_id,
                workspace_id=scope.workspace_id,
                project_id=project_id,
                before=None if before is None else {"role": before[0]},
                after={"role": role.value},
            )

    def remove_workspace_member(self, workspace_id: str, user_id: str, *, actor: Actor) -> None:
        """Remove a member and their project roles in the workspace (the Owner rules hold)."""
        with self._tx() as cur:
            members = self._lock_members(cur, workspace_id)
            if user_id not in members:
                raise StoreNotFoundError("user_id: not a member of this workspace")
            check_owner_rules(members, actor=actor, target=user_id, new_role=None)
            cur.execute(
                "DELETE FROM workspace_members WHERE workspace_id = %s AND user_id = %s",
                (workspace_id, user_id),
            )
            cur.execute(
                "DELETE FROM project_members m USING projects p WHERE p.id = m.project_id"
                " AND p.workspace_id = %s AND m.user_id = %s",
                (workspace_id, user_id),
            )
            self._audit(
                cur,
                actor,
                "workspace.member.remove",
                "user",
                user_id,
                workspace_id=workspace_id,
                before={"role": members[user_id].value},
            )

    def remove_project_member(self, project_id: str, user_id: str, *, actor: Actor) -> None:
        """Remove a user's project role."""
        with self._tx() as cur:
            scope = self._scope_of_project(cur, project_id, lock=False)
            cur.execute(
                "DELETE FROM project_members WHERE project_id = %s AND user_id = %s RETURNING role",
                (project_id, user_id),
            )
            removed = cur.fetchone()
            if removed is None:
                raise StoreNotFoundError("the user has no role in this project")
            self._audit(
                cur,
                actor,
                "project.member.remove",
                "user",
                user_id,
                workspace_id=scope.workspace_id,
                project_id=project_id,
                before={"role": removed[0]},
            )

    def roles_of(self, user_id: str, workspace_id: str, project_id: str | None = None) -> Roles:
        """The user's workspace role and project role."""
        with self._read() as cur:
            record = cur.execute(
                "SELECT (SELECT role FROM workspace_members WHERE workspace_id = %s AND user_id = %s),"
                " (SELECT role FROM project_members WHERE project_id = %s AND user_id = %s)",
                (workspace_id, user_id, project_id, user_id),
            ).fetchone()
        assert record is not None
        return Roles(
            workspace=None if record[0] is None else WorkspaceRole(record[0]),
            project=None if record[1] is None else ProjectRole(record[1]),
        )

    def register_cluster(self, cluster: ClusterRow, *, agent_token_hash: bytes, actor: Actor) -> ClusterRow:
        """Register a cluster (and its region if new) at ``cluster.generation``."""
        cluster_settings(cluster)
        with self._tx() as cur:
            cur.execute("INSERT INTO regions (name) VALUES (%s) ON CONFLICT DO NOTHING", (cluster.region,))
            cur.execute(
                "INSERT INTO clusters (id, name, region, generation, gateway_namespace, gateway_name,"
                " storage_class, gateway_section_name, lb_target_api_version, lb_target_kind,"
                " lb_target_namespace, lb_target_name, lb_size_unit, lb_annotation,"
                " prune_max_delete_percent, prune_max_delete_count, prune_release_held,"
                " egress_allow, metrics_namespace, agent_token_hash) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " RETURNING epoch",
                (
                    *attrs.astuple(cluster, recurse=False)[:-3],
                    list(cluster.egress_allow),
                    cluster.metrics_namespace,
                    agent_token_hash,
                ),
            )
            epoch_record = cur.fetchone()
            cluster = attrs.evolve(cluster, epoch=int(epoch_record[0]) if epoch_record else cluster.epoch)
            self._audit(
                cur,
                actor,
                "cluster.register",
                "cluster",
                cluster.cluster_id,
                cluster_id=cluster.cluster_id,
                generation=cluster.generation,
                after=_cluster_audit(cluster),
            )
        return cluster

    def update_cluster(self, cluster: ClusterRow, *, actor: Actor) -> ClusterRow:
        """Change a cluster's settings; bumps its generation."""
        cluster_settings(cluster)
        with self._tx() as cur:
            before = load_cluster(cur, cluster.cluster_id, lock=True)
            if before.region != cluster.region:
                raise StoreConflictError("region: a cluster's region cannot change")
            cur.execute(
                "UPDATE clusters SET name = %s, gateway_namespace = %s, gateway_name = %s,"
                " storage_class = %s, gateway_section_name = %s, lb_target_api_version = %s,"
                " lb_target_kind = %s, lb_target_namespace = %s, lb_target_name = %s,"
                " lb_size_unit = %s, lb_annotation = %s, prune_max_delete_percent = %s,"
                " prune_max_delete_count = %s, prune_release_held = %s, egress_allow = %s,"
                " metrics_namespace = %s WHERE id = %s",
                (
                    cluster.name,
                    cluster.gateway_namespace,
                    cluster.gateway_name,
                    cluster.storage_class,
                    cluster.gateway_section_name,
                    cluster.lb_target_api_version,
                    cluster.lb_target_kind,
                    cluster.lb_target_namespace,
                    cluster.lb_target_name,
                    cluster.lb_size_unit,
                    cluster.lb_annotation,
                    cluster.prune_max_delete_percent,
                    cluster.prune_max_delete_count,
                    cluster.prune_release_held,
                    list(cluster.egress_allow),
                    cluster.metrics_namespace,
                    cluster.cluster_id,
                ),
            )
            generation = self._bump(cur, cluster.cluster_id)
            self._audit(
                cur,
                actor,
                "cluster.update",
                "cluster",
                cluster.cluster_id,
                cluster_id=cluster.cluster_id,
                generation=generation,
                before=_cluster_audit(before),
                after=_cluster_audit(cluster),
            )
        return attrs.evolve(cluster, generation=generation)

    def get_cluster(self, cluster_id: str) -> ClusterRow:
        """One cluster with its current generation."""
        with self._read() as cur:
            return load_cluster(cur, cluster_id)

    def list_clusters(self) -> list[ClusterRow]:
        """Every cluster, by name."""
        with self._read() as cur:
            return fetch_all(cur, f"SELECT {CLUSTER_COLUMNS} FROM clusters ORDER BY name", (), CLUSTER_ROW)  # noqa: S608

    def create_project(self, project: ProjectRow, *, actor: Actor) -> ProjectRow:
        """Create a project pinned to its cluster (bumps that cluster's generation)."""
        with self._tx() as cur:
            found = cur.execute(
                "SELECT 1 FROM clusters WHERE id = %s FOR NO KEY UPDATE", (project.cluster_id,)
            ).fetchone()
            if found is None:
                raise ValidationError("cluster_id", "names no registered cluster")
            if (
                cur.execute("SELECT 1 FROM workspaces WHERE id = %s", (project.workspace_id,)).fetchone()
                is None
            ):
                raise StoreNotFoundError("workspace not found")
            cur.execute(
                "INSERT INTO projects (id, workspace_id, cluster_id, name, tier) VALUES (%s, %s, %s, %s, %s)",
                (
                    project.project_id,
                    project.workspace_id,
                    project.cluster_id,
                    project.name,
                    project.tier.value,
                ),
            )
            scope = self._scope_of_project(cur, project.project_id, lock=False)
            self._finish_change(
                cur, scope, actor, "project.create", "project", project.project_id, after=jsonable(project)
            )
        return project

    def get_project(self, project_id: str) -> ProjectRow:
        """One project."""
        with self._read() as cur:
            row = fetch_one(cur, _PROJECT_BY_ID, (project_id,), _PROJECT_ROW)
        if row is None:
            raise StoreNotFoundError("project not found")
        return row

    def set_project_tier(self, project_id: str, tier: Tier, *, actor: Actor) -> ProjectRow:
        """Move a project to ``tier`` (bumps its cluster's generation; billing's plan periods follow
        through the trigger on ``projects.tier``)."""
        with self._tx() as cur:
            scope = self._scope_of_project(cur, project_id, lock=True)
            before = fetch_one(cur, _PROJECT_BY_ID, (project_id,), _PROJECT_ROW)
            if before is None:
                raise StoreNotFoundError("project not found")
            after = attrs.evolve(before, tier=tier)
            cur.execute("UPDATE projects SET tier = %s WHERE id = %s", (tier.value, project_id))
            self._finish_change(
                cur,
                scope,
                actor,
                "project.tier",
                "project",
                project_id,
                before=jsonable(before),
                after=jsonable(after),
            )
        return after

    def list_projects(self, workspace_id: str) -> list[ProjectRow]:
        """A workspace's projects, by name."""
        with self._read() as cur:
            return fetch_all(
                cur,
                f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE workspace_id = %s ORDER BY name",  # noqa: S608
                (workspace_id,),
                _PROJECT_ROW,
            )
