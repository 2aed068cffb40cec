"""The in-memory store: a test double of the store port with the same rules as PostgreSQL.

Writes validate the affected project exactly as the PostgreSQL store does (by folding it through
``build_payload``), bump the cluster's generation and append an audit entry, atomically: a write
that fails changes nothing. Thread-safe (one lock). Secret values are kept as ``SecretValue``.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from starform_core.errors import (
    AgentReportRefusedError,
    StoreConflictError,
    StoreNotFoundError,
    ValidationError,
)
from starform_core.model.vargroup import check_var_key
from starform_core.payload.build import build_payload, cluster_settings
from starform_core.payload.codec import converter
from starform_core.payload.rows import (
    ClusterRow,
    ClusterRows,
    DeploymentRow,
    EnvironmentRow,
    HostnameRow,
    ProjectRow,
    ServiceRow,
    ServiceVarGroupRow,
    VarGroupEntryRow,
    VarGroupRow,
    VolumeRow,
    WorkspaceRow,
)
from starform_core.ports.store import (
    Actor,
    AuditEntry,
    EventRecord,
    EventsPage,
    NewDeployment,
    ObservedStatus,
    ProjectRole,
    Roles,
    Store,
    UserRecord,
    VarKeyInfo,
    WorkspaceRole,
)
from starform_core.reporting import AgentState, judge_report, next_epoch
from starform_core.secrets_values import SecretValue
from starform_core.validation import check_environment_name, check_image_reference

__all__ = ["MemoryStore"]

_VALIDATION_KEY = b"starform-validation-only-checksum"


def _now() -> datetime:
    return datetime.now(UTC)


@attrs.define
class _State:
    users: dict[str, UserRecord] = attrs.field(factory=dict)
    tokens: dict[bytes, str] = attrs.field(factory=dict)
    workspaces: dict[str, WorkspaceRow] = attrs.field(factory=dict)
    workspace_members: dict[tuple[str, str], WorkspaceRole] = attrs.field(factory=dict)
    project_members: dict[tuple[str, str], ProjectRole] = attrs.field(factory=dict)
    clusters: dict[str, ClusterRow] = attrs.field(factory=dict)
    cluster_tokens: dict[str, bytes] = attrs.field(factory=dict)
    applied: dict[str, tuple[int, datetime]] = attrs.field(factory=dict)
    projects: dict[str, ProjectRow] = attrs.field(factory=dict)
    environments: dict[str, EnvironmentRow] = attrs.field(factory=dict)
    services: dict[str, ServiceRow] = attrs.field(factory=dict)
    deployments: dict[str, DeploymentRow] = attrs.field(factory=dict)
    var_groups: dict[str, VarGroupRow] = attrs.field(factory=dict)
    entries: dict[tuple[str, str], tuple[SecretValue, datetime]] = attrs.field(factory=dict)
    attachments: dict[tuple[str, str], ServiceVarGroupRow] = attrs.field(factory=dict)
    volumes: dict[str, VolumeRow] = attrs.field(factory=dict)
    hostnames: dict[str, HostnameRow] = attrs.field(factory=dict)
    statuses: dict[str, ObservedStatus] = attrs.field(factory=dict)
    report_keys: dict[tuple[str, str], str] = attrs.field(factory=dict)
    agents: dict[str, AgentState] = attrs.field(factory=dict)
    highest_epochs: dict[str, int] = attrs.field(factory=dict)
    events: list[tuple[str, EventRecord]] = attrs.field(factory=list)
    audit: list[tuple[str | None, AuditEntry]] = attrs.field(factory=list)


def _found(table: Mapping[str, Any], key: str, what: str) -> Any:
    try:
        return table[key]
    except KeyError:
        raise StoreNotFoundError(f"{what} {key} not found") from None


class MemoryStore:
    """Every method of :class:`~starform_core.ports.store.Store`, in memory."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.RLock()

    # -- plumbing -----------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[_State]:
        """A copy of the state to change; it replaces the state only if the block succeeds."""
        with self._lock:
            draft = copy.copy(self._state)
            for field in attrs.fields(_State):
                setattr(draft, field.name, copy.copy(getattr(self._state, field.name)))
            yield draft
            self._state = draft

    def _rows(self, st: _State, cluster: ClusterRow, project_ids: set[str]) -> ClusterRows:
        services = [s for s in st.services.values() if s.project_id in project_ids]
        service_ids = {s.service_id for s in services}
        groups = [g for g in st.var_groups.values() if g.project_id in project_ids]
        group_ids = {g.var_group_id for g in groups}
        latest: dict[str, DeploymentRow] = {}
        for dep in st.deployments.values():
            if dep.service_id in service_ids:
                best = latest.get(dep.service_id)
                if best is None or dep.version > best.version:
                    latest[dep.service_id] = dep
        return ClusterRows(
            cluster=cluster,
            projects=tuple(st.projects[p] for p in sorted(project_ids)),
            environments=tuple(e for e in st.environments.values() if e.project_id in project_ids),
            services=tuple(services),
            deployments=tuple(latest.values()),
            var_groups=tuple(groups),
            var_group_entries=tuple(
                VarGroupEntryRow(var_group_id=g, key=k, value=v[0])
                for (g, k), v in st.entries.items()
                if g in group_ids
            ),
            service_var_groups=tuple(a for a in st.attachments.values() if a.service_id in service_ids),
            volumes=tuple(v for v in st.volumes.values() if v.service_id in service_ids),
            hostnames=tuple(h for h in st.hostnames.values() if h.service_id in service_ids),
        )

    def _audit(
        self,
        st: _State,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: str,
        *,
        cluster_id: str | None = None,
        generation: int | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        st.audit.append(
            (
                cluster_id,
                AuditEntry(
                    seq=len(st.audit) + 1,
                    actor=actor.label,
                    action=action,
                    target_type=target_type,
                    target_id=target_id,
                    created_at=_now(),
                    generation=generation,
                    before=before,
                    after=after,
                ),
            )
        )

    def _changed(
        self,
        st: _State,
        project_id: str,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: str,
        *,
        before: Any = None,
        after: Any = None,
    ) -> int:
        project = st.projects[project_id]
        cluster = st.clusters[project.cluster_id]
        build_payload(self._rows(st, cluster, {project_id}), checksum_key=_VALIDATION_KEY)
        bumped = attrs.evolve(cluster, generation=cluster.generation + 1)
        st.clusters[cluster.cluster_id] = bumped
        self._audit(
            st,
            actor,
            action,
            target_type,
            target_id,
            cluster_id=cluster.cluster_id,
            generation=bumped.generation,
            before=None if before is None else converter.unstructure(before),
            after=None if after is None else converter.unstructure(after),
        )
        return bumped.generation

    @staticmethod
    def _unique(condition: bool, message: str) -> None:
        if condition:
            raise StoreConflictError(message)

    # -- agents -------------------------------------------------------------------------------

    def ping(self) -> None:
        """Always answers."""

    def cluster_generation(self, cluster_id: str) -> int:
        """The cluster's generation."""
        cluster: ClusterRow = _found(self._state.clusters, cluster_id, "cluster")
        return cluster.generation

    def cluster_rows(self, cluster_id: str) -> ClusterRows:
        """The cluster's rows in one consistent snapshot."""
        with self._lock:
            st = self._state
            cluster = _found(st.clusters, cluster_id, "cluster")
            ids = {p.project_id for p in st.projects.values() if p.cluster_id == cluster_id}
            return self._rows(st, cluster, ids)

    def cluster_token_hash(self, cluster_id: str) -> bytes:
        """The agent token's hash."""
        token: bytes = _found(self._state.cluster_tokens, cluster_id, "cluster")
        return token

    def cluster_version(self, cluster_id: str) -> tuple[int, int]:
        """The cluster's (epoch, generation)."""
        cluster: ClusterRow = _found(self._state.clusters, cluster_id, "cluster")
        return cluster.epoch, cluster.generation

    def record_status(
        self,
        cluster_id: str,
        *,
        applied_generation: int,
        statuses: Sequence[ObservedStatus],
        agent: str = "",
        report_key: str | None = None,
        epoch: int | None = None,
        attempt: Mapping[str, Any] | None = None,
        reported_at: datetime | None = None,
    ) -> str:
        """Store a report (a refused one is recorded, then raised)."""
        attempted = (attempt or {}).get("generation")
        with self._write() as st:
            cluster = _found(st.clusters, cluster_id, "cluster")
            if report_key is not None and (cluster_id, report_key) in st.report_keys:
                return st.report_keys[(cluster_id, report_key)]
            refusal = judge_report(
                cluster_epoch=cluster.epoch,
                desired_generation=cluster.generation,
                epoch=epoch,
                applied_generation=applied_generation,
                attempted_generation=attempted if isinstance(attempted, int) else None,
            )
            st.highest_epochs[cluster_id] = max(st.highest_epochs.get(cluster_id, 0), epoch or 0)
            state = st.agents.get(cluster_id, AgentState(epoch=cluster.epoch))
            if refusal is not None:
                st.agents[cluster_id] = attrs.evolve(
                    state,
                    refused_reports=state.refused_reports + 1,
                    last_refused_at=_now(),
                    last_refused_reason=f"{refusal.reason.value}: {refusal.detail}",
                )
            else:
                self._store_statuses(st, cluster_id, statuses)
                report_id = str(uuid.uuid4())
                if report_key is not None:
                    st.report_keys[(cluster_id, report_key)] = report_id
                previous = st.applied.get(cluster_id)
                if applied_generation >= 1 and (previous is None or previous[0] <= applied_generation):
                    st.applied[cluster_id] = (applied_generation, _now())
                if state.reported_at is None or reported_at is None or state.reported_at <= reported_at:
                    st.agents[cluster_id] = attrs.evolve(
                        state,
                        agent=agent,
                        reported_epoch=epoch,
                        attempted_generation=attempted if attempt else state.attempted_generation,
                        outcome=attempt.get("outcome") if attempt else state.outcome,
                        attempt=dict(attempt) if attempt else state.attempt,
                        reported_at=reported_at,
                    )
                return report_id
        raise AgentReportRefusedError(refusal.reason.value, refusal.detail)

    @staticmethod
    def _store_statuses(st: _State, cluster_id: str, statuses: Sequence[ObservedStatus]) -> None:
        ids = [s.service_id for s in statuses]
        if len(set(ids)) != len(ids):
            raise ValidationError("statuses", "each service may appear once per report")
        for index, status in enumerate(statuses):
            service = st.services.get(status.service_id)
            if service is None:
                continue  # deleted since the agent's pull
            if st.projects[service.project_id].cluster_id != cluster_id:
                raise ValidationError(f"statuses[{index}].service_id", "names a service of another cluster")
            current = st.statuses.get(status.service_id)
            if current is None or current.observed_at <= status.observed_at:
                st.statuses[status.service_id] = status

    def agent_state(self, cluster_id: str) -> AgentState:
        """What the agent last reported."""
        with self._lock:
            cluster: ClusterRow = _found(self._state.clusters, cluster_id, "cluster")
            state = self._state.agents.get(cluster_id, AgentState(epoch=cluster.epoch))
            return attrs.evolve(state, epoch=cluster.epoch)

    def new_epoch(self, cluster_id: str, *, actor: Actor) -> int:
        """Move the cluster to a new epoch; forget the applied generation."""
        with self._write() as st:
            cluster = _found(st.clusters, cluster_id, "cluster")
            epoch = next_epoch(
                current=cluster.epoch,
                highest_reported=st.highest_epochs.get(cluster_id, 0),
                now_millis=int(_now().timestamp() * 1000),
            )
            st.clusters[cluster_id] = attrs.evolve(cluster, epoch=epoch)
            st.applied.pop(cluster_id, None)
            self._audit(
                st,
                actor,
                "cluster.new_epoch",
                "cluster",
                cluster_id,
                cluster_id=cluster_id,
                generation=cluster.generation,
                before={"epoch": cluster.epoch},
                after={"epoch": epoch},
            )
        return epoch

    def last_applied(self, cluster_id: str) -> tuple[int | None, datetime | None]:
        """The last applied generation and when."""
        _found(self._state.clusters, cluster_id, "cluster")
        applied = self._state.applied.get(cluster_id)
        return (None, None) if applied is None else applied

    def append_events(self, cluster_id: str, events: Sequence[EventRecord]) -> int:
        """Append events, skipping ids already stored for the cluster."""
        with self._write() as st:
            _found(st.clusters, cluster_id, "cluster")
            seen = {e.event_id for c, e in st.events if c == cluster_id}
            stored = 0
            for event in events:
                if event.service_id is not None:
                    service = st.services.get(event.service_id)
                    if service is not None and st.projects[service.project_id].cluster_id != cluster_id:
                        raise ValidationError("events.service_id", "names a service of another cluster")
                if event.event_id in seen:
                    continue
                seen.add(event.event_id)
                st.events.append((cluster_id, attrs.evolve(event, seq=len(st.events) + 1)))
                stored += 1
            return stored

    def service_status(self, service_id: str) -> ObservedStatus | None:
        """The cached status."""
        return self._state.statuses.get(service_id)

    def service_events(self, service_id: str, *, after: int = 0, limit: int = 50) -> EventsPage:
        """A page of the service's events."""
        st = self._state
        service = _found(st.services, service_id, "service")
        cluster_id = st.projects[service.project_id].cluster_id
        matching = [
            e for c, e in st.events if c == cluster_id and e.service_id == service_id and e.seq > after
        ]
        page = tuple(matching[:limit])
        more = len(matching) > limit
        return EventsPage(events=page, next_after=page[-1].seq if more and page else None)

    def cluster_events(self, cluster_id: str, *, after: int = 0, limit: int = 50) -> EventsPage:
        """A page of the cluster's events."""
        _found(self._state.clusters, cluster_id, "cluster")
        matching = [e for c, e in self._state.events if c == cluster_id and e.seq > after]
        page = tuple(matching[:limit])
        more = len(matching) > limit
        return EventsPage(events=page, next_after=page[-1].seq if more and page else None)

    def audit_entries(self, *, cluster_id: str) -> list[AuditEntry]:
        """Audit entries that touched the cluster."""
        return [e for c, e in self._state.audit if c == cluster_id]

    # -- people -------------------------------------------------------------------------------

    def create_user(self, user: UserRecord) -> UserRecord:
        """Create a user."""
        with self._write() as st:
            self._unique(
                any(u.email == user.email for u in st.users.values()),
                "email: a user with this email already exists",
            )
            st.users[user.user_id] = user
            self._audit(st, Actor(label="system"), "user.create", "user", user.user_id)
        return user

    def get_user(self, *, user_id: str | None = None, email: str | None = None) -> UserRecord:
        """A user by id or email."""
        for user in self._state.users.values():
            if (user_id is not None and user.user_id == user_id) or (user_id is None and user.email == email):
                return user
        raise StoreNotFoundError("user not found")

    def create_api_token(self, user_id: str, token_hash: bytes, *, name: str = "") -> str:
        """Store a token hash."""
        with self._write() as st:
            _found(st.users, user_id, "user")
            self._unique(token_hash in st.tokens, "token: already exists")
            st.tokens[token_hash] = user_id
        return str(uuid.uuid4())

    def user_for_token(self, token_hash: bytes) -> UserRecord:
        """The token's user."""
        user_id = self._state.tokens.get(token_hash)
        if user_id is None:
            raise StoreNotFoundError("unknown token")
        user: UserRecord = self._state.users[user_id]
        return user

    def create_workspace(self, workspace: WorkspaceRow, *, owner: Actor) -> WorkspaceRow:
        """Create a workspace owned by ``owner``."""
        if owner.user_id is None:
            raise ValidationError("owner", "a workspace needs an owning user")
        with self._write() as st:
            self._unique(workspace.workspace_id in st.workspaces, "id: already exists")
            st.workspaces[workspace.workspace_id] = workspace
            st.workspace_members[(workspace.workspace_id, owner.user_id)] = WorkspaceRole.OWNER
            self._audit(st, owner, "workspace.create", "workspace", workspace.workspace_id)
        return workspace

    def get_workspace(self, workspace_id: str) -> WorkspaceRow:
        """One workspace."""
        row: WorkspaceRow = _found(self._state.workspaces, workspace_id, "workspace")
        return row

    def list_workspaces(self, user_id: str) -> list[WorkspaceRow]:
        """The user's workspaces."""
        st = self._state
        rows = [st.workspaces[w] for (w, u) in st.workspace_members if u == user_id]
        return sorted(rows, key=lambda w: (w.name, w.workspace_id))

    def set_workspace_member(
        self, workspace_id: str, user_id: str, role: WorkspaceRole, *, actor: Actor
    ) -> None:
        """Add or change a workspace member."""
        with self._write() as st:
            _found(st.workspaces, workspace_id, "workspace")
            _found(st.users, user_id, "user")
            st.workspace_members[(workspace_id, user_id)] = role
            self._audit(st, actor, "workspace.member.set", "user", user_id)

    def set_project_member(self, project_id: str, user_id: str, role: ProjectRole, *, actor: Actor) -> None:
        """Add or change a project member."""
        with self._write() as st:
            _found(st.projects, project_id, "project")
            _found(st.users, user_id, "user")
            st.project_members[(project_id, user_id)] = role
            self._audit(st, actor, "project.member.set", "user", user_id)

    def remove_workspace_member(self, workspace_id: str, user_id: str, *, actor: Actor) -> None:
        """Remove a member and their project roles; the last Owner stays."""
        with self._write() as st:
            owners = [
                u
                for (w, u), r in st.workspace_members.items()
                if w == workspace_id and r is WorkspaceRole.OWNER
            ]
            if owners == [user_id]:
                raise StoreConflictError("user_id: a workspace keeps at least one Owner")
            if st.workspace_members.pop((workspace_id, user_id), None) is None:
                raise StoreNotFoundError("the user is not a member of this workspace")
            for project in st.projects.values():
                if project.workspace_id == workspace_id:
                    st.project_members.pop((project.project_id, user_id), None)
            self._audit(st, actor, "workspace.member.remove", "user", user_id)

    def remove_project_member(self, project_id: str, user_id: str, *, actor: Actor) -> None:
        """Remove a user's project role."""
        with self._write() as st:
            _found(st.projects, project_id, "project")
            if st.project_members.pop((project_id, user_id), None) is None:
                raise StoreNotFoundError("the user has no role in this project")
            self._audit(st, actor, "project.member.remove", "user", user_id)

    def roles_of(self, user_id: str, workspace_id: str, project_id: str | None = None) -> Roles:
        """The user's roles."""
        st = self._state
        return Roles(
            workspace=st.workspace_members.get((workspace_id, user_id)),
            project=None if project_id is None else st.project_members.get((project_id, user_id)),
        )

    # -- clusters and projects ----------------------------------------------------------------

    def register_cluster(self, cluster: ClusterRow, *, agent_token_hash: bytes, actor: Actor) -> ClusterRow:
        """Register a cluster (its epoch starts now, in Unix milliseconds, as in PostgreSQL)."""
        cluster_settings(cluster)
        cluster = attrs.evolve(cluster, epoch=int(_now().timestamp() * 1000))
        with self._write() as st:
            self._unique(cluster.cluster_id in st.clusters, "id: a cluster with this id exists")
            self._unique(
                any(c.name == cluster.name for c in st.clusters.values()),
                "name: a cluster of this name already exists",
            )
            st.clusters[cluster.cluster_id] = cluster
            st.cluster_tokens[cluster.cluster_id] = agent_token_hash
            self._audit(
                st,
                actor,
                "cluster.register",
                "cluster",
                cluster.cluster_id,
                cluster_id=cluster.cluster_id,
                generation=cluster.generation,
            )
        return cluster

    def update_cluster(self, cluster: ClusterRow, *, actor: Actor) -> ClusterRow:
        """Change cluster settings; bumps the generation."""
        cluster_settings(cluster)
        with self._write() as st:
            current = _found(st.clusters, cluster.cluster_id, "cluster")
            if current.region != cluster.region:
                raise StoreConflictError("region: a cluster's region cannot change")
            updated = attrs.evolve(cluster, generation=current.generation + 1)
            st.clusters[cluster.cluster_id] = updated
            self._audit(
                st,
                actor,
                "cluster.update",
                "cluster",
                cluster.cluster_id,
                cluster_id=cluster.cluster_id,
                generation=updated.generation,
            )
        return updated

    def get_cluster(self, cluster_id: str) -> ClusterRow:
        """One cluster."""
        row: ClusterRow = _found(self._state.clusters, cluster_id, "cluster")
        return row

    def list_clusters(self) -> list[ClusterRow]:
        """Every cluster."""
        return sorted(self._state.clusters.values(), key=lambda c: c.name)

    def create_project(self, project: ProjectRow, *, actor: Actor) -> ProjectRow:
        """Create a project."""
        with self._write() as st:
            if project.cluster_id not in st.clusters:
                raise ValidationError("cluster_id", "names no registered cluster")
            _found(st.workspaces, project.workspace_id, "workspace")
            self._unique(project.project_id in st.projects, "id: already exists")
            self._unique(
                any(
                    p.workspace_id == project.workspace_id and p.name == project.name
                    for p in st.projects.values()
                ),
                "name: the workspace already has a project of this name",
            )
            st.projects[project.project_id] = project
            self._changed(st, project.project_id, actor, "project.create", "project", project.project_id)
        return project

    def get_project(self, project_id: str) -> ProjectRow:
        """One project."""
        row: ProjectRow = _found(self._state.projects, project_id, "project")
        return row

    def list_projects(self, workspace_id: str) -> list[ProjectRow]:
        """A workspace's projects."""
        rows = [p for p in self._state.projects.values() if p.workspace_id == workspace_id]
        return sorted(rows, key=lambda p: p.name)

    # -- environments and services ------------------------------------------------------------

    def create_environment(self, environment: EnvironmentRow, *, actor: Actor) -> EnvironmentRow:
        """Create an environment."""
        check_environment_name("name", environment.name)
        with self._write() as st:
            _found(st.projects, environment.project_id, "project")
            self._unique(
                any(
                    e.project_id == environment.project_id and e.name == environment.name
                    for e in st.environments.values()
                ),
                "name: the project already has an environment of this name",
            )
            st.environments[environment.environment_id] = environment
            self._changed(
                st,
                environment.project_id,
                actor,
                "environment.create",
                "environment",
                environment.environment_id,
                after=environment,
            )
        return environment

    def update_environment(self, environment: EnvironmentRow, *, actor: Actor) -> EnvironmentRow:
        """Change an environment's flags."""
        with self._write() as st:
            before = _found(st.environments, environment.environment_id, "environment")
            if (before.project_id, before.name) != (environment.project_id, environment.name):
                raise StoreConflictError("name: an environment's name and project cannot change")
            st.environments[environment.environment_id] = environment
            self._changed(
                st,
                environment.project_id,
                actor,
                "environment.update",
                "environment",
                environment.environment_id,
                before=before,
                after=environment,
            )
        return environment

    def delete_environment(self, environment_id: str, *, actor: Actor) -> None:
        """Delete an environment, its services and its scoped var groups."""
        with self._write() as st:
            env = _found(st.environments, environment_id, "environment")
            for service in [s for s in st.services.values() if s.environment_id == environment_id]:
                self._drop_service(st, service.service_id)
            for group in [g for g in st.var_groups.values() if g.environment_id == environment_id]:
                self._drop_group(st, group.var_group_id)
            del st.environments[environment_id]
            self._changed(
                st, env.project_id, actor, "environment.delete", "environment", environment_id, before=env
            )

    def get_environment(self, environment_id: str) -> EnvironmentRow:
        """One environment."""
        row: EnvironmentRow = _found(self._state.environments, environment_id, "environment")
        return row

    def list_environments(self, project_id: str) -> list[EnvironmentRow]:
        """A project's environments."""
        rows = [e for e in self._state.environments.values() if e.project_id == project_id]
        return sorted(rows, key=lambda e: e.name)

    def _check_service_place(self, st: _State, service: ServiceRow) -> None:
        env = st.environments.get(service.environment_id)
        if env is None or env.project_id != service.project_id:
            raise StoreNotFoundError(f"environment {service.environment_id} not found")
        self._unique(
            any(
                s.environment_id == service.environment_id
                and s.name == service.name
                and s.service_id != service.service_id
                for s in st.services.values()
            ),
            "name: the environment already has a service of this name",
        )

    def create_service(self, service: ServiceRow, *, actor: Actor) -> ServiceRow:
        """Create a service."""
        with self._write() as st:
            _found(st.projects, service.project_id, "project")
            self._check_service_place(st, service)
            self._unique(service.service_id in st.services, "id: already exists")
            st.services[service.service_id] = service
            self._changed(
                st, service.project_id, actor, "service.create", "service", service.service_id, after=service
            )
        return service

    def update_service(self, service: ServiceRow, *, actor: Actor) -> ServiceRow:
        """Replace a service's spec."""
        with self._write() as st:
            before = _found(st.services, service.service_id, "service")
            if (before.project_id, before.environment_id) != (
                service.project_id,
                service.environment_id,
            ):
                raise StoreConflictError("environment_id: a service cannot move")
            self._check_service_place(st, service)
            st.services[service.service_id] = service
            self._changed(
                st,
                service.project_id,
                actor,
                "service.update",
                "service",
                service.service_id,
                before=before,
                after=service,
            )
        return service

    @staticmethod
    def _drop_service(st: _State, service_id: str) -> None:
        del st.services[service_id]
        for table in (st.deployments, st.volumes, st.hostnames):
            for key in [k for k, v in table.items() if v.service_id == service_id]:
                del table[key]
        for link in [k for k in st.attachments if k[0] == service_id]:
            del st.attachments[link]
        st.statuses.pop(service_id, None)

    def delete_service(self, service_id: str, *, actor: Actor) -> None:
        """Delete a service and what hangs off it."""
        with self._write() as st:
            service = _found(st.services, service_id, "service")
            self._drop_service(st, service_id)
            self._changed(
                st, service.project_id, actor, "service.delete", "service", service_id, before=service
            )

    def get_service(self, service_id: str) -> ServiceRow:
        """One service."""
        row: ServiceRow = _found(self._state.services, service_id, "service")
        return row

    def list_services(self, project_id: str) -> list[ServiceRow]:
        """A project's services."""
        rows = [s for s in self._state.services.values() if s.project_id == project_id]
        return sorted(rows, key=lambda s: (s.environment_id, s.name))

    def create_deployment(self, deployment: NewDeployment, *, actor: Actor) -> DeploymentRow:
        """Store the next version."""
        check_image_reference("image", deployment.image)
        with self._write() as st:
            service = _found(st.services, deployment.service_id, "service")
            version = 1 + max(
                (d.version for d in st.deployments.values() if d.service_id == service.service_id),
                default=0,
            )
            row = DeploymentRow(
                deployment_id=deployment.deployment_id,
                service_id=service.service_id,
                version=version,
                image=deployment.image,
                command=deployment.command,
                args=deployment.args,
            )
            st.deployments[row.deployment_id] = row
            self._changed(
                st, service.project_id, actor, "deployment.create", "service", service.service_id, after=row
            )
        return row

    def list_deployments(self, service_id: str) -> list[DeploymentRow]:
        """Newest first."""
        rows = [d for d in self._state.deployments.values() if d.service_id == service_id]
        return sorted(rows, key=lambda d: -d.version)

    def get_deployment(self, service_id: str, version: int) -> DeploymentRow:
        """One version."""
        for row in self._state.deployments.values():
            if row.service_id == service_id and row.version == version:
                return row
        raise StoreNotFoundError(f"service {service_id} has no version {version}")

    def add_volume(self, volume: VolumeRow, *, actor: Actor) -> VolumeRow:
        """Add a volume."""
        with self._write() as st:
            service = _found(st.services, volume.service_id, "service")
            for other in st.volumes.values():
                if other.service_id == volume.service_id:
                    self._unique(other.name == volume.name, "name: the service already has this volume")
                    self._unique(other.mount_path == volume.mount_path, "mount_path: already mounted")
            st.volumes[volume.volume_id] = volume
            self._changed(st, service.project_id, actor, "volume.create", "volume", volume.volume_id)
        return volume

    def delete_volume(self, volume_id: str, *, actor: Actor) -> None:
        """Remove a volume."""
        with self._write() as st:
            volume = _found(st.volumes, volume_id, "volume")
            del st.volumes[volume_id]
            project_id = st.services[volume.service_id].project_id
            self._changed(st, project_id, actor, "volume.delete", "volume", volume_id)

    def get_volume(self, volume_id: str) -> VolumeRow:
        """One volume."""
        row: VolumeRow = _found(self._state.volumes, volume_id, "volume")
        return row

    def list_volumes(self, service_id: str) -> list[VolumeRow]:
        """A service's volumes."""
        rows = [v for v in self._state.volumes.values() if v.service_id == service_id]
        return sorted(rows, key=lambda v: v.name)

    def add_hostname(self, hostname: HostnameRow, *, actor: Actor) -> HostnameRow:
        """Route a hostname (unique across the store)."""
        with self._write() as st:
            service = _found(st.services, hostname.service_id, "service")
            self._unique(hostname.hostname in st.hostnames, "hostname: already routed")
            st.hostnames[hostname.hostname] = hostname
            self._changed(st, service.project_id, actor, "hostname.create", "service", service.service_id)
        return hostname

    def delete_hostname(self, service_id: str, hostname: str, *, actor: Actor) -> None:
        """Stop routing a hostname."""
        with self._write() as st:
            service = _found(st.services, service_id, "service")
            row = st.hostnames.get(hostname)
            if row is None or row.service_id != service_id:
                raise StoreNotFoundError(f"hostname {hostname} is not routed to this service")
            del st.hostnames[hostname]
            self._changed(st, service.project_id, actor, "hostname.delete", "service", service_id)

    def list_hostnames(self, service_id: str) -> list[str]:
        """A service's hostnames."""
        return sorted(h.hostname for h in self._state.hostnames.values() if h.service_id == service_id)

    # -- var groups ---------------------------------------------------------------------------

    def create_var_group(
        self,
        group: VarGroupRow,
        *,
        entries: Mapping[str, SecretValue] | None = None,
        actor: Actor,
    ) -> VarGroupRow:
        """Create a var group."""
        for key in entries or {}:
            check_var_key(f"entries.{key}", key)
        with self._write() as st:
            _found(st.projects, group.project_id, "project")
            if group.environment_id is not None:
                env = st.environments.get(group.environment_id)
                if env is None or env.project_id != group.project_id:
                    raise StoreNotFoundError(f"environment {group.environment_id} not found")
            self._unique(
                any(
                    g.project_id == group.project_id and g.name == group.name for g in st.var_groups.values()
                ),
                "name: the project already has a var group of this name",
            )
            st.var_groups[group.var_group_id] = group
            for key, value in (entries or {}).items():
                st.entries[(group.var_group_id, key)] = (value, _now())
            self._changed(st, group.project_id, actor, "var_group.create", "var_group", group.var_group_id)
        return group

    @staticmethod
    def _drop_group(st: _State, var_group_id: str) -> None:
        del st.var_groups[var_group_id]
        for key in [k for k in st.entries if k[0] == var_group_id]:
            del st.entries[key]
        for key in [k for k in st.attachments if k[1] == var_group_id]:
            del st.attachments[key]

    def delete_var_group(self, var_group_id: str, *, actor: Actor) -> None:
        """Delete a var group."""
        with self._write() as st:
            group = _found(st.var_groups, var_group_id, "var group")
            self._drop_group(st, var_group_id)
            self._changed(st, group.project_id, actor, "var_group.delete", "var_group", var_group_id)

    def get_var_group(self, var_group_id: str) -> VarGroupRow:
        """One var group."""
        row: VarGroupRow = _found(self._state.var_groups, var_group_id, "var group")
        return row

    def list_var_groups(self, project_id: str) -> list[VarGroupRow]:
        """A project's var groups."""
        rows = [g for g in self._state.var_groups.values() if g.project_id == project_id]
        return sorted(rows, key=lambda g: g.name)

    def set_var_entries(self, var_group_id: str, entries: Mapping[str, SecretValue], *, actor: Actor) -> None:
        """Set entries."""
        for key in entries:
            check_var_key(f"entries.{key}", key)
        with self._write() as st:
            group = _found(st.var_groups, var_group_id, "var group")
            for key, value in entries.items():
                st.entries[(var_group_id, key)] = (value, _now())
            self._changed(
                st,
                group.project_id,
                actor,
                "var_group.entries.set",
                "var_group",
                var_group_id,
                after={"keys": sorted(entries)},
            )

    def delete_var_entry(self, var_group_id: str, key: str, *, actor: Actor) -> None:
        """Remove one entry."""
        with self._write() as st:
            group = _found(st.var_groups, var_group_id, "var group")
            if (var_group_id, key) not in st.entries:
                raise StoreNotFoundError(f"var group {var_group_id} has no key {key!r}")
            del st.entries[(var_group_id, key)]
            self._changed(st, group.project_id, actor, "var_group.entries.delete", "var_group", var_group_id)

    def list_var_keys(self, var_group_id: str) -> list[VarKeyInfo]:
        """Keys and metadata (never values)."""
        _found(self._state.var_groups, var_group_id, "var group")
        return [
            VarKeyInfo(key=k, key_id="memory", updated_at=v[1])
            for (g, k), v in sorted(self._state.entries.items())
            if g == var_group_id
        ]

    def attach_var_group(self, link: ServiceVarGroupRow, *, actor: Actor) -> ServiceVarGroupRow:
        """Attach a var group of the same project."""
        with self._write() as st:
            service = _found(st.services, link.service_id, "service")
            group = st.var_groups.get(link.var_group_id)
            if group is None or group.project_id != service.project_id:
                raise StoreNotFoundError(f"var group {link.var_group_id} not found in the project")
            self._unique(
                any(
                    a.attach_order == link.attach_order and a.var_group_id != link.var_group_id
                    for (s, _), a in st.attachments.items()
                    if s == link.service_id
                ),
                "attach_order: another var group is attached at this attach_order",
            )
            st.attachments[(link.service_id, link.var_group_id)] = link
            self._changed(
                st, service.project_id, actor, "var_group.attach", "service", service.service_id, after=link
            )
        return link

    def detach_var_group(self, service_id: str, var_group_id: str, *, actor: Actor) -> None:
        """Detach a var group."""
        with self._write() as st:
            service = _found(st.services, service_id, "service")
            if (service_id, var_group_id) not in st.attachments:
                raise StoreNotFoundError(f"var group {var_group_id} is not attached to the service")
            del st.attachments[(service_id, var_group_id)]
            self._changed(st, service.project_id, actor, "var_group.detach", "service", service_id)

    def list_attachments(self, service_id: str) -> list[ServiceVarGroupRow]:
        """Attachments by order."""
        rows = [a for (s, _), a in self._state.attachments.items() if s == service_id]
        return sorted(rows, key=lambda a: a.attach_order)


if TYPE_CHECKING:
    _conforms: Store = MemoryStore()
