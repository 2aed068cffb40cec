"""Load ``example_rows()`` into a store through its write API (shared by several tests)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import attrs
from tests.starbase.store_kit import StoreUnderTest

from starform_core.access import Actor, UserRecord
from starform_core.payload.example import example_rows
from starform_core.payload.rows import ClusterRows, WorkspaceRow
from starform_core.records import NewDeployment


def load_rows_via_api(store: StoreUnderTest, rows: ClusterRows | None = None) -> ClusterRows:
    """Write every row through the store port; returns the rows (with the stored epoch and generation)."""
    rows = rows or example_rows()
    user = store.create_user(UserRecord(user_id=str(uuid.uuid4()), email=f"{uuid.uuid4().hex}@example.com"))
    actor = Actor(label=user.email, user_id=user.user_id)
    token_hash = hashlib.sha256(uuid.uuid4().bytes).digest()
    store.register_cluster(rows.cluster, agent_token_hash=token_hash, actor=actor)
    for workspace_id in sorted({p.workspace_id for p in rows.projects}):
        store.create_workspace(WorkspaceRow(workspace_id=workspace_id, name="Example"), owner=actor)
    for project in rows.projects:
        store.create_project(project, actor=actor)
    for env in rows.environments:
        store.create_environment(env, actor=actor)
    for service in rows.services:
        store.create_service(service, actor=actor)
    for dep in rows.deployments:  # each service's current release: deployed as its version-th
        for _ in range(dep.version):
            store.create_deployment(
                NewDeployment(
                    deployment_id=str(uuid.uuid4()),
                    service_id=dep.service_id,
                    image=dep.image,
                    command=dep.command,
                    args=dep.args,
                ),
                actor=actor,
            )
    for group in rows.var_groups:
        entries = {e.key: e.value for e in rows.var_group_entries if e.var_group_id == group.var_group_id}
        store.create_var_group(group, entries=entries, actor=actor)
    for link in rows.service_var_groups:
        store.attach_var_group(link, actor=actor)
    for volume in rows.volumes:
        store.add_volume(volume, actor=actor)
    for host in rows.hostnames:
        store.add_hostname(host, actor=actor)
    epoch, generation = store.cluster_version(rows.cluster.cluster_id)
    return attrs.evolve(rows, cluster=attrs.evolve(rows.cluster, generation=generation, epoch=epoch))


def fresh_ids(rows: ClusterRows) -> ClusterRows:
    """The rows under new ids, cluster name and hostnames, so copies can share a database."""
    mapping: dict[str, str] = {}

    def new(old: str) -> str:
        return mapping.setdefault(old, str(uuid.uuid4()))

    def remap(row: Any) -> Any:
        changes = {
            f.name: new(getattr(row, f.name))
            for f in attrs.fields(type(row))
            if f.name.endswith("_id") and isinstance(getattr(row, f.name), str)
        }
        return attrs.evolve(row, **changes)

    def each(items: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(remap(r) for r in items)

    return ClusterRows(
        cluster=attrs.evolve(
            rows.cluster, cluster_id=new(rows.cluster.cluster_id), name=f"c{uuid.uuid4().hex[:12]}"
        ),
        projects=each(rows.projects),
        environments=each(rows.environments),
        services=each(rows.services),
        deployments=each(rows.deployments),
        var_groups=each(rows.var_groups),
        var_group_entries=each(rows.var_group_entries),
        service_var_groups=each(rows.service_var_groups),
        volumes=each(rows.volumes),
        hostnames=tuple(
            attrs.evolve(h, service_id=new(h.service_id), hostname=f"{uuid.uuid4().hex[:8]}.{h.hostname}")
            for h in rows.hostnames
        ),
    )
