"""The set-based queries behind one cluster's payload (§32): ten SELECTs, no N+1.

Each query reads one table joined to ``projects`` and filtered by the scope (a cluster or a single
project), and returns the typed rows of ``starform_core.payload.rows``. Run them inside one
REPEATABLE READ transaction so the generation and the rows come from the same snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import psycopg
from psycopg import sql

from starform_adapters.postgres.crypto import Sealed
from starform_core.errors import StoreNotFoundError
from starform_core.model.workload import Autoscaling, Probes
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
)
from starform_core.secrets_values import SecretValue

__all__ = [
    "CLUSTER_COLUMNS",
    "SERVICE_COLUMNS",
    "Opener",
    "cluster_from_record",
    "load_cluster",
    "load_rows",
    "service_from_record",
]

Opener = Callable[[str, str, Sealed], SecretValue]
"""Decrypts one entry: ``(var_group_id, key, sealed) -> SecretValue``."""

Cursor = psycopg.Cursor[Any]

CLUSTER_COLUMNS = (
    "id, name, region, generation, gateway_namespace, gateway_name, storage_class,"
    " gateway_section_name, lb_target_api_version, lb_target_kind, lb_target_namespace,"
    " lb_target_name, lb_size_unit, lb_annotation, prune_max_delete_percent,"
    " prune_max_delete_count, prune_release_held, egress_allow, metrics_namespace, epoch"
)

SERVICE_COLUMNS = (
    "s.id, s.project_id, s.environment_id, s.name, s.type, s.state, s.cpu_request,"
    " s.memory_request, s.cpu_limit, s.memory_limit, s.replicas, s.autoscaling, s.probes,"
    " s.port, s.public, s.cron_schedule, s.cron_time_zone, s.drift_mode, s.drift_ignore_fields"
)


def cluster_from_record(r: tuple[Any, ...]) -> ClusterRow:
    """A :class:`ClusterRow` from a record selected with :data:`CLUSTER_COLUMNS`."""
    return ClusterRow(
        cluster_id=r[0],
        name=r[1],
        region=r[2],
        generation=r[3],
        gateway_namespace=r[4],
        gateway_name=r[5],
        storage_class=r[6],
        gateway_section_name=r[7],
        lb_target_api_version=r[8],
        lb_target_kind=r[9],
        lb_target_namespace=r[10],
        lb_target_name=r[11],
        lb_size_unit=r[12],
        lb_annotation=r[13],
        prune_max_delete_percent=r[14],
        prune_max_delete_count=r[15],
        prune_release_held=r[16],
        egress_allow=tuple(r[17] or ()),
        metrics_namespace=r[18],
        epoch=r[19],
    )


def service_from_record(r: tuple[Any, ...]) -> ServiceRow:
    """A :class:`ServiceRow` from a record selected with :data:`SERVICE_COLUMNS`."""
    return ServiceRow(
        service_id=r[0],
        project_id=r[1],
        environment_id=r[2],
        name=r[3],
        type=r[4],
        state=r[5],
        cpu_request=r[6],
        memory_request=r[7],
        cpu_limit=r[8],
        memory_limit=r[9],
        replicas=r[10],
        autoscaling=None if r[11] is None else converter.structure(r[11], Autoscaling),
        probes=converter.structure(r[12], Probes),
        port=r[13],
        public=r[14],
        cron_schedule=r[15],
        cron_time_zone=r[16],
        drift_mode=r[17],
        drift_ignore_fields=tuple(r[18]),
    )


def load_cluster(cur: Cursor, cluster_id: str, *, lock: bool = False) -> ClusterRow:
    """One cluster row (``StoreNotFoundError`` if unknown)."""
    query = f"SELECT {CLUSTER_COLUMNS} FROM clusters WHERE id = %s" + (" FOR UPDATE" if lock else "")  # noqa: S608
    record = cur.execute(query.encode(), (cluster_id,)).fetchone()
    if record is None:
        raise StoreNotFoundError(f"cluster {cluster_id} not found")
    return cluster_from_record(record)


def load_rows(
    cur: Cursor,
    cluster: ClusterRow,
    *,
    scope: Literal["cluster", "project"],
    scope_id: str,
    opener: Opener,
) -> ClusterRows:
    """All rows of a cluster (``scope="cluster"``) or of one of its projects (``"project"``)."""
    where = sql.SQL("p.cluster_id = %(id)s" if scope == "cluster" else "p.id = %(id)s")
    params = {"id": scope_id}

    def run(template: str) -> list[tuple[Any, ...]]:
        query = sql.SQL(template).format(where=where)
        return cur.execute(query, params).fetchall()

    projects = [
        ProjectRow(project_id=r[0], workspace_id=r[1], cluster_id=r[2], name=r[3], tier=r[4])
        for r in run(
            "SELECT p.id, p.workspace_id, p.cluster_id, p.name, p.tier FROM projects p WHERE {where}"
        )
    ]
    environments = [
        EnvironmentRow(environment_id=r[0], project_id=r[1], name=r[2], is_ephemeral=r[3], protected=r[4])
        for r in run(
            "SELECT e.id, e.project_id, e.name, e.is_ephemeral, e.protected"
            " FROM environments e JOIN projects p ON p.id = e.project_id WHERE {where}"
        )
    ]
    services = [
        service_from_record(r)
        for r in run(
            "SELECT " + SERVICE_COLUMNS + " FROM services s JOIN projects p ON p.id = s.project_id"  # noqa: S608
            " WHERE {where}"
        )
    ]
    deployments = [
        DeploymentRow(
            deployment_id=r[0],
            service_id=r[1],
            version=r[2],
            image=r[3],
            command=None if r[4] is None else tuple(r[4]),
            args=None if r[5] is None else tuple(r[5]),
        )
        for r in run(
            "SELECT DISTINCT ON (d.service_id) d.id, d.service_id, d.version, d.image, d.command,"
            " d.args FROM deployments d JOIN services s ON s.id = d.service_id"
            " JOIN projects p ON p.id = s.project_id WHERE {where}"
            " ORDER BY d.service_id, d.version DESC"
        )
    ]
    var_groups = [
        VarGroupRow(var_group_id=r[0], project_id=r[1], name=r[2], environment_id=r[3])
        for r in run(
            "SELECT g.id, g.project_id, g.name, g.environment_id"
            " FROM var_groups g JOIN projects p ON p.id = g.project_id WHERE {where}"
        )
    ]
    entries = [
        VarGroupEntryRow(
            var_group_id=r[0],
            key=r[1],
            value=opener(r[0], r[1], Sealed(ciphertext=r[2], nonce=r[3], key_id=r[4])),
        )
        for r in run(
            "SELECT v.var_group_id, v.key, v.ciphertext, v.nonce, v.key_id"
            " FROM var_group_entries v JOIN var_groups g ON g.id = v.var_group_id"
            " JOIN projects p ON p.id = g.project_id WHERE {where}"
        )
    ]
    attachments = [
        ServiceVarGroupRow(service_id=r[0], var_group_id=r[1], attach_order=r[2])
        for r in run(
            "SELECT a.service_id, a.var_group_id, a.attach_order"
            " FROM service_var_groups a JOIN projects p ON p.id = a.project_id WHERE {where}"
        )
    ]
    volumes = [
        VolumeRow(volume_id=r[0], service_id=r[1], name=r[2], mount_path=r[3], size=r[4], access_mode=r[5])
        for r in run(
            "SELECT v.id, v.service_id, v.name, v.mount_path, v.size, v.access_mode"
            " FROM volumes v JOIN services s ON s.id = v.service_id"
            " JOIN projects p ON p.id = s.project_id WHERE {where}"
        )
    ]
    hostnames = [
        HostnameRow(service_id=r[0], hostname=r[1])
        for r in run(
            "SELECT h.service_id, h.hostname FROM hostnames h JOIN services s ON s.id = h.service_id"
            " JOIN projects p ON p.id = s.project_id WHERE {where}"
        )
    ]
    return ClusterRows(
        cluster=cluster,
        projects=tuple(projects),
        environments=tuple(environments),
        services=tuple(services),
        deployments=tuple(deployments),
        var_groups=tuple(var_groups),
        var_group_entries=tuple(entries),
        service_var_groups=tuple(attachments),
        volumes=tuple(volumes),
        hostnames=tuple(hostnames),
    )
