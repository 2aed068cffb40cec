"""The set-based queries behind one cluster's payload (§32): ten SELECTs, no N+1.

Each query reads one table joined to ``projects`` and filtered by the scope (a cluster or a single
project), names its columns as the fields of its row type in ``starform_core.payload.rows``, and
is decoded by name. Run them inside one REPEATABLE READ transaction so the generation and the
rows come from the same snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from psycopg import sql
from psycopg.rows import RowFactory, class_row, kwargs_row
from psycopg.types.string import TextLoader

from starform_adapters.postgres.crypto import Sealed
from starform_adapters.postgres.fetch import Cursor, fetch_all, fetch_one
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
    RevertRow,
    RowMemo,
    ServiceRow,
    ServiceVarGroupRow,
    VarGroupEntryRow,
    VarGroupRow,
    VolumeRow,
)
from starform_core.secrets_values import SecretValue

__all__ = [
    "CLUSTER_COLUMNS",
    "CLUSTER_ROW",
    "CURRENT_RELEASES",
    "DEPLOYMENT_COLUMNS",
    "DEPLOYMENT_ROW",
    "SERVICE_COLUMNS",
    "SERVICE_ROW",
    "Decrypt",
    "current_release",
    "load_cluster",
    "load_rows",
]

T = TypeVar("T")

Decrypt = Callable[[str, str, Sealed], SecretValue]
"""Opens one entry: ``(var_group_id, key, sealed) -> SecretValue``."""

_JSON_TYPES = ("json", "jsonb")

CLUSTER_COLUMNS = (
    "id AS cluster_id, name, region, generation, gateway_namespace, gateway_name, storage_class,"
    " gateway_section_name, lb_target_api_version, lb_target_kind, lb_target_namespace,"
    " lb_target_name, lb_size_unit, lb_annotation, prune_max_delete_percent,"
    " prune_max_delete_count, prune_release_held, egress_allow, metrics_namespace, epoch"
)
CLUSTER_ROW: RowFactory[ClusterRow] = class_row(ClusterRow)

SERVICE_COLUMNS = (
    "s.id AS service_id, s.project_id, s.environment_id, s.name, s.type, s.state, s.cpu_request,"
    " s.memory_request, s.cpu_limit, s.memory_limit, s.replicas, s.autoscaling, s.probes,"
    " s.port, s.public, s.cron_schedule, s.cron_time_zone, s.drift_mode, s.drift_ignore_fields,"
    " s.adoption_policy"
)

DEPLOYMENT_COLUMNS = "d.id AS deployment_id, d.service_id, d.version, d.image, d.command, d.args"


def _service(*, autoscaling: Any, probes: Any, **columns: Any) -> ServiceRow:
    """A service row: its JSON columns structured into the core's values."""
    return ServiceRow(
        autoscaling=None if autoscaling is None else converter.structure(autoscaling, Autoscaling),
        probes=converter.structure(probes, Probes),
        **columns,
    )


def _deployment(*, command: list[str] | None, args: list[str] | None, **columns: Any) -> DeploymentRow:
    """A deployment row: its text arrays frozen into tuples."""
    return DeploymentRow(
        command=None if command is None else tuple(command),
        args=None if args is None else tuple(args),
        **columns,
    )


SERVICE_ROW: RowFactory[ServiceRow] = kwargs_row(_service)
DEPLOYMENT_ROW: RowFactory[DeploymentRow] = kwargs_row(_deployment)

_PROJECTS = (
    "SELECT p.id AS project_id, p.workspace_id, p.cluster_id, p.name, p.tier FROM projects p WHERE {where}"
)
_ENVIRONMENTS = (
    "SELECT e.id AS environment_id, e.project_id, e.name, e.is_ephemeral, e.protected"
    " FROM environments e JOIN projects p ON p.id = e.project_id WHERE {where}"
)
_SERVICES = f"SELECT {SERVICE_COLUMNS} FROM services s JOIN projects p ON p.id = s.project_id WHERE {{where}}"  # noqa: S608
CURRENT_RELEASES = (
    f"SELECT DISTINCT ON (d.service_id) {DEPLOYMENT_COLUMNS}"  # noqa: S608
    " FROM deployments d JOIN services s ON s.id = d.service_id"
    " JOIN projects p ON p.id = s.project_id WHERE {where} ORDER BY d.service_id, d.version DESC"
)
"""The one rule for which release a service runs: its highest version (a rollback is a new, higher
version). Every reader of "the current release" uses this query (the payload's rows, the
service's current spec, the API's and the dashboard's service view), so a long deploy history
costs nothing and no second rule exists; ``{where}`` filters ``d``, ``s`` or ``p``."""
_VAR_GROUPS = (
    "SELECT g.id AS var_group_id, g.project_id, g.name, g.environment_id"
    " FROM var_groups g JOIN projects p ON p.id = g.project_id WHERE {where}"
)
_ENTRIES = (
    "SELECT v.var_group_id, v.key, v.ciphertext, v.nonce, v.key_id"
    " FROM var_group_entries v JOIN var_groups g ON g.id = v.var_group_id"
    " JOIN projects p ON p.id = g.project_id WHERE {where}"
)
_ATTACHMENTS = (
    "SELECT a.service_id, a.var_group_id, a.attach_order"
    " FROM service_var_groups a JOIN projects p ON p.id = a.project_id WHERE {where}"
)
_VOLUMES = (
    "SELECT v.id AS volume_id, v.service_id, v.name, v.mount_path, v.size, v.access_mode"
    " FROM volumes v JOIN services s ON s.id = v.service_id"
    " JOIN projects p ON p.id = s.project_id WHERE {where}"
)
_HOSTNAMES = (
    "SELECT h.service_id, h.hostname FROM hostnames h JOIN services s ON s.id = h.service_id"
    " JOIN projects p ON p.id = s.project_id WHERE {where}"
)

# Rejected adoptions the agent has not reverted yet, newest 100 per service, adopt services only
_REVERTS = (
    "SELECT r.service_id, r.field, r.live FROM (SELECT a.service_id, a.field, a.live,"
    " row_number() OVER (PARTITION BY a.service_id ORDER BY a.decided_at DESC, a.id) AS n"
    " FROM adoptions a JOIN services s ON s.id = a.service_id JOIN projects p ON p.id = s.project_id"
    " WHERE {where} AND a.status = 'rejected' AND s.drift_mode = 'adopt') r WHERE r.n <= 100"
)


def load_cluster(cur: Cursor, cluster_id: str, *, lock: bool = False) -> ClusterRow:
    """One cluster row (``StoreNotFoundError`` if unknown); ``lock`` takes it ``FOR UPDATE``."""
    query = f"SELECT {CLUSTER_COLUMNS} FROM clusters WHERE id = %s" + (" FOR UPDATE" if lock else "")  # noqa: S608
    row = fetch_one(cur, query, (cluster_id,), CLUSTER_ROW)
    if row is None:
        raise StoreNotFoundError("cluster not found")
    return row


def current_release(cur: Cursor, service_id: str) -> DeploymentRow | None:
    """The release ``service_id`` runs (``None`` before its first deployment)."""
    query = sql.SQL(CURRENT_RELEASES).format(where=sql.SQL("d.service_id = %(id)s"))
    return fetch_one(cur, query, {"id": service_id}, DEPLOYMENT_ROW)


def _entry_row(decrypt: Decrypt) -> RowFactory[VarGroupEntryRow]:
    def entry(
        *, var_group_id: str, key: str, ciphertext: bytes, nonce: bytes, key_id: str
    ) -> VarGroupEntryRow:
        sealed = Sealed(ciphertext=ciphertext, nonce=nonce, key_id=key_id)
        return VarGroupEntryRow(var_group_id=var_group_id, key=key, value=decrypt(var_group_id, key, sealed))

    return kwargs_row(entry)


def _hashable(values: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(tuple(value) if isinstance(value, list) else value for value in values)


def _memoised(
    cur: Cursor,
    template: str,
    query: sql.Composed,
    params: dict[str, str],
    row: RowFactory[T],
    memos: tuple[RowMemo, RowMemo],
) -> list[T]:
    """``fetch_all``, decoding only the records ``memo`` does not hold decoded already (JSON
    columns arrive as text, so a record is hashable and decoded only when new). ``memos`` is
    (the previous read's, this read's)."""
    memo, fresh = memos
    with cur.connection.cursor() as raw:
        for name in _JSON_TYPES:
            raw.adapters.register_loader(name, TextLoader)
        raw.execute(query, params)
        make = row(raw)
        json_oids = {raw.adapters.types[name].oid for name in _JSON_TYPES}
        json_columns = [i for i, column in enumerate(raw.description or ()) if column.type_code in json_oids]
        decoded = []
        for record in raw.fetchall():
            key = (template, _hashable(record))
            value = memo.get(key)
            if value is None:
                values = list(record)
                for index in json_columns:
                    values[index] = None if values[index] is None else json.loads(values[index])
                value = make(values)
            fresh[key] = value
            decoded.append(value)
        return decoded


def load_rows(
    cur: Cursor,
    cluster: ClusterRow,
    *,
    scope: Literal["cluster", "project"],
    scope_id: str,
    decrypt: Decrypt,
    memo: RowMemo | None = None,
) -> ClusterRows:
    """All rows of a cluster (``scope="cluster"``) or of one of its projects (``"project"``).

    ``decrypt`` opens each var group entry (a placeholder when the rows only validate a write).
    With ``memo`` (an empty dict at first, then the same one for each read of the scope), a
    record read before is not decoded again: the row decoded then is returned (the same object,
    so what was built from it can be reused); the memo then holds this read's rows only.
    """
    where = sql.SQL("p.cluster_id = %(id)s" if scope == "cluster" else "p.id = %(id)s")
    fresh: RowMemo = {}

    def rows(template: str, row: RowFactory[T]) -> tuple[T, ...]:
        query = sql.SQL(template).format(where=where)
        if memo is None:
            return tuple(fetch_all(cur, query, {"id": scope_id}, row))
        return tuple(_memoised(cur, template, query, {"id": scope_id}, row, (memo, fresh)))

    loaded = ClusterRows(
        cluster=cluster,
        projects=rows(_PROJECTS, class_row(ProjectRow)),
        environments=rows(_ENVIRONMENTS, class_row(EnvironmentRow)),
        services=rows(_SERVICES, SERVICE_ROW),
        deployments=rows(CURRENT_RELEASES, DEPLOYMENT_ROW),
        var_groups=rows(_VAR_GROUPS, class_row(VarGroupRow)),
        var_group_entries=rows(_ENTRIES, _entry_row(decrypt)),
        service_var_groups=rows(_ATTACHMENTS, class_row(ServiceVarGroupRow)),
        volumes=rows(_VOLUMES, class_row(VolumeRow)),
        hostnames=rows(_HOSTNAMES, class_row(HostnameRow)),
        reverts=rows(_REVERTS, class_row(RevertRow)),
    )
    if memo is not None:
        memo.clear()
        memo.update(fresh)
    return loaded
