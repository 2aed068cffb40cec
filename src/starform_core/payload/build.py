"""Fold typed rows into the desired-state payload: pure, deterministic, one pass per table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

import attrs

from starform_core.errors import ValidationError
from starform_core.model.cluster import (
    ClusterSettings,
    GatewayRef,
    LoadBalancerSettings,
    ObjectRef,
    PrunePolicy,
)
from starform_core.model.enums import DriftMode
from starform_core.model.project import Environment, Project
from starform_core.model.service import Service
from starform_core.model.tenant import TenantKey
from starform_core.model.vargroup import VarGroup, VarGroupAttachment
from starform_core.model.workload import CronSchedule, DriftPolicy, Release, Resources, RevertField, Volume
from starform_core.payload.document import DesiredState
from starform_core.payload.rows import (
    ClusterRow,
    ClusterRows,
    DeploymentRow,
    EnvironmentRow,
    ProjectRow,
    ServiceRow,
)
from starform_core.secrets_values import SecretValue, keyed_checksum

__all__ = ["ServiceMemo", "build_payload", "cluster_settings"]

ServiceMemo = MutableMapping[Hashable, Service]
"""Built services by the rows they were built from (see ``build_payload``'s ``memo``)."""


@contextmanager
def _errors_prefixed(where: str) -> Iterator[None]:
    """Prefix a validation error raised inside the block with where it happened (``where.field``)."""
    try:
        yield
    except ValidationError as exc:
        raise ValidationError(f"{where}.{exc.field}", exc.reason) from exc


def _load_balancer(row: ClusterRow) -> LoadBalancerSettings | None:
    if row.lb_target_name is None:
        return None
    if row.lb_size_unit is None or row.lb_target_kind is None or row.lb_target_api_version is None:
        raise ValidationError(
            "cluster.load_balancer",
            "a load-balancer target needs a kind, apiVersion and size unit",
        )
    target = ObjectRef(
        api_version=row.lb_target_api_version,
        kind=row.lb_target_kind,
        name=row.lb_target_name,
        namespace=row.lb_target_namespace,
    )
    if row.lb_annotation is None:
        return LoadBalancerSettings(target=target, size_unit=row.lb_size_unit)
    return LoadBalancerSettings(target=target, size_unit=row.lb_size_unit, annotation=row.lb_annotation)


def cluster_settings(row: ClusterRow) -> ClusterSettings:
    """The cluster's settings from its row."""
    load_balancer = _load_balancer(row)
    with _errors_prefixed("cluster"):
        return ClusterSettings(
            cluster_id=row.cluster_id,
            name=row.name,
            region=row.region,
            gateway=GatewayRef(
                namespace=row.gateway_namespace,
                name=row.gateway_name,
                section_name=row.gateway_section_name,
            ),
            load_balancer=load_balancer,
            storage_class=row.storage_class,
            prune=PrunePolicy(
                max_delete_percent=row.prune_max_delete_percent,
                max_delete_count=row.prune_max_delete_count,
                release_held=row.prune_release_held,
            ),
            egress_allow=row.egress_allow,
            metrics_namespace=row.metrics_namespace,
        )


def _releases(deployments: tuple[DeploymentRow, ...]) -> dict[str, DeploymentRow]:
    """Each service's release by service id. The rows carry the current release only: the store
    chooses it (``ClusterRows.deployments``); two for one service are refused, not chosen between."""
    releases: dict[str, DeploymentRow] = {}
    for row in deployments:
        other = releases.setdefault(row.service_id, row)
        if other is not row:
            raise ValidationError(
                f"deployments[{row.service_id}]",
                f"versions {other.version} and {row.version} both given as the service's current release",
            )
    return releases


@attrs.frozen
class _Scope:
    """The rows of one cluster's projects, indexed by the ids the other tables refer to."""

    projects: tuple[ProjectRow, ...]
    project_ids: frozenset[str]
    environments: Mapping[str, EnvironmentRow]

    @classmethod
    def of(cls, rows: ClusterRows) -> _Scope:
        projects = tuple(p for p in rows.projects if p.cluster_id == rows.cluster.cluster_id)
        ids = {p.project_id for p in projects}
        environments = {e.environment_id: e for e in rows.environments if e.project_id in ids}
        return cls(projects=projects, project_ids=frozenset(ids), environments=environments)


def _var_groups(rows: ClusterRows, scope: _Scope, checksum_key: bytes) -> dict[str, list[VarGroup]]:
    """Each project's var groups with their entries and keyed checksum."""
    entries: defaultdict[str, list[tuple[str, SecretValue]]] = defaultdict(list)
    for entry in rows.var_group_entries:
        entries[entry.var_group_id].append((entry.key, entry.value))
    groups: defaultdict[str, list[VarGroup]] = defaultdict(list)
    for group in rows.var_groups:
        if group.project_id not in scope.project_ids:
            continue
        environment = None
        if group.environment_id is not None:
            env_row = scope.environments.get(group.environment_id)
            if env_row is None:
                raise ValidationError(
                    f"var_groups[{group.var_group_id}].environment_id", "unknown environment"
                )
            environment = env_row.name
        items = entries.get(group.var_group_id, [])
        with _errors_prefixed(f"var_groups[{group.var_group_id}]"):
            groups[group.project_id].append(
                VarGroup(
                    var_group_id=group.var_group_id,
                    name=group.name,
                    checksum=keyed_checksum(checksum_key, items),
                    entries=items,
                    environment=environment,
                )
            )
    return groups


@attrs.frozen
class _ServiceParts:
    """What the other tables contribute to each service, by service id."""

    releases: Mapping[str, DeploymentRow]
    attachments: Mapping[str, list[VarGroupAttachment]]
    volumes: Mapping[str, list[Volume]]
    hostnames: Mapping[str, list[str]]
    reverts: Mapping[str, list[RevertField]]

    @classmethod
    def of(cls, rows: ClusterRows) -> _ServiceParts:
        releases = _releases(rows.deployments)
        attachments: defaultdict[str, list[VarGroupAttachment]] = defaultdict(list)
        for link in rows.service_var_groups:
            with _errors_prefixed(f"service_var_groups[{link.service_id}]"):
                attachments[link.service_id].append(
                    VarGroupAttachment(attach_order=link.attach_order, var_group_id=link.var_group_id)
                )
        volumes: defaultdict[str, list[Volume]] = defaultdict(list)
        for vol in rows.volumes:
            with _errors_prefixed(f"volumes[{vol.volume_id}]"):
                volumes[vol.service_id].append(
                    Volume(
                        name=vol.name, mount_path=vol.mount_path, size=vol.size, access_mode=vol.access_mode
                    )
                )
        hostnames: defaultdict[str, list[str]] = defaultdict(list)
        for host in rows.hostnames:
            hostnames[host.service_id].append(host.hostname)
        reverts: defaultdict[str, list[RevertField]] = defaultdict(list)
        for revert in rows.reverts:
            with _errors_prefixed(f"reverts[{revert.service_id}]"):
                reverts[revert.service_id].append(RevertField(field=revert.field, live=revert.live))
        return cls(
            releases=releases,
            attachments=attachments,
            volumes=volumes,
            hostnames=hostnames,
            reverts=reverts,
        )


def _tenant_of(svc: ServiceRow, scope: _Scope, workspace_of: Mapping[str, str]) -> TenantKey:
    env_row = scope.environments.get(svc.environment_id)
    if env_row is None or env_row.project_id != svc.project_id:
        raise ValidationError(f"services[{svc.service_id}].environment_id", "unknown environment")
    with _errors_prefixed(f"services[{svc.service_id}]"):
        return TenantKey(
            workspace_id=workspace_of[svc.project_id],
            project_id=svc.project_id,
            environment=env_row.name,
            service_id=svc.service_id,
        )


def _services(rows: ClusterRows, scope: _Scope) -> dict[str, list[Service]]:
    """Each project's services, with their release, var groups, volumes and hostnames."""
    parts = _ServiceParts.of(rows)
    workspace_of = {p.project_id: p.workspace_id for p in scope.projects}
    services: defaultdict[str, list[Service]] = defaultdict(list)
    for svc in rows.services:
        if svc.project_id not in scope.project_ids:
            continue
        tenant = _tenant_of(svc, scope, workspace_of)
        with _errors_prefixed(f"services[{svc.service_id}]"):
            services[svc.project_id].append(_service(svc, tenant=tenant, parts=parts))
    return services


def _rows_by_service(rows: ClusterRows) -> defaultdict[str, list[Any]]:
    """Every row of the per-service tables (attachments, volumes, hostnames, reverts), by service id."""
    grouped: defaultdict[str, list[Any]] = defaultdict(list)
    for table in (rows.service_var_groups, rows.volumes, rows.hostnames, rows.reverts):
        for row in table:
            grouped[row.service_id].append(row)
    return grouped


def _memo_services(rows: ClusterRows, scope: _Scope, memo: ServiceMemo) -> dict[str, list[Service]]:
    """:func:`_services`, reusing from ``memo`` each service whose rows are the ones it was
    built from (its service row, current release, attachments, volumes, hostnames, reverts,
    workspace and environment row): only the others are built, with the same checks."""
    releases = _releases(rows.deployments)  # refuses two for a service first, as the full build does
    grouped = _rows_by_service(rows)
    workspace_of = {p.project_id: p.workspace_id for p in scope.projects}
    keyed: list[tuple[ServiceRow, Hashable, Service | None]] = []
    for svc in rows.services:
        if svc.project_id not in scope.project_ids:
            continue
        key: Hashable = (
            svc,
            releases.get(svc.service_id),
            tuple(grouped.get(svc.service_id, ())),
            workspace_of[svc.project_id],
            scope.environments.get(svc.environment_id),
        )
        keyed.append((svc, key, memo.get(key)))
    missed = {svc.service_id for svc, _key, known in keyed if known is None}
    # rows of no service in scope are checked as the full build checks them
    needed = missed | (set(grouped) - {svc.service_id for svc, _key, _known in keyed})
    parts = _ServiceParts.of(_only(rows, needed)) if needed else None
    services: defaultdict[str, list[Service]] = defaultdict(list)
    fresh: dict[Hashable, Service] = {}
    for svc, key, known in keyed:
        built = known
        if built is None:
            tenant = _tenant_of(svc, scope, workspace_of)
            assert parts is not None
            with _errors_prefixed(f"services[{svc.service_id}]"):
                built = _service(svc, tenant=tenant, parts=parts)
        fresh[key] = built
        services[svc.project_id].append(built)
    memo.clear()
    memo.update(fresh)
    return services


def _only(rows: ClusterRows, service_ids: set[str]) -> ClusterRows:
    """The per-service rows of ``service_ids`` (with every release: the versions are checked)."""
    return attrs.evolve(
        rows,
        service_var_groups=tuple(r for r in rows.service_var_groups if r.service_id in service_ids),
        volumes=tuple(r for r in rows.volumes if r.service_id in service_ids),
        hostnames=tuple(r for r in rows.hostnames if r.service_id in service_ids),
        reverts=tuple(r for r in rows.reverts if r.service_id in service_ids),
    )


def _environments(scope: _Scope) -> dict[str, list[Environment]]:
    """Each project's environments."""
    environments: defaultdict[str, list[Environment]] = defaultdict(list)
    for env in scope.environments.values():
        with _errors_prefixed(f"environments[{env.environment_id}]"):
            environments[env.project_id].append(
                Environment(name=env.name, is_ephemeral=env.is_ephemeral, protected=env.protected)
            )
    return environments


def build_payload(rows: ClusterRows, *, checksum_key: bytes, memo: ServiceMemo | None = None) -> DesiredState:
    """Fold one cluster's rows into its :class:`DesiredState`.

    The result does not depend on the order of any row collection. ``checksum_key`` keys the var
    group checksums (§38.7) so they reveal nothing about the values.

    With ``memo`` (an empty dict at first, then the same one for each build of the cluster),
    services whose rows did not change since the previous build are reused (the same objects),
    the others built: the result equals the build without ``memo``, the same errors raised. The
    memo then holds this build's services only.
    """
    scope = _Scope.of(rows)
    var_groups = _var_groups(rows, scope, checksum_key)
    services = _services(rows, scope) if memo is None else _memo_services(rows, scope, memo)
    environments = _environments(scope)
    projects = []
    for p in scope.projects:
        with _errors_prefixed(f"projects[{p.project_id}]"):
            projects.append(
                Project(
                    project_id=p.project_id,
                    workspace_id=p.workspace_id,
                    name=p.name,
                    tier=p.tier,
                    environments=environments.get(p.project_id, []),
                    var_groups=var_groups.get(p.project_id, []),
                    services=services.get(p.project_id, []),
                )
            )
    with _errors_prefixed("payload"):
        return DesiredState(
            generation=rows.cluster.generation,
            epoch=rows.cluster.epoch,
            cluster=cluster_settings(rows.cluster),
            projects=projects,
        )


def _service(
    row: ServiceRow,
    *,
    tenant: TenantKey,
    parts: _ServiceParts,
) -> Service:
    release = parts.releases.get(row.service_id)
    volumes = parts.volumes.get(row.service_id, [])
    cron = None
    if row.cron_schedule is not None:
        cron = CronSchedule(schedule=row.cron_schedule, time_zone=row.cron_time_zone or "UTC")
    return Service(
        tenant=tenant,
        name=row.name,
        type=row.type,
        state=row.state,
        resources=Resources(
            cpu_request=row.cpu_request,
            memory_request=row.memory_request,
            cpu_limit=row.cpu_limit,
            memory_limit=row.memory_limit,
        ),
        release=None
        if release is None
        else Release(
            version=release.version, image=release.image, command=release.command, args=release.args
        ),
        replicas=row.replicas,
        autoscaling=row.autoscaling,
        probes=row.probes,
        port=row.port,
        hostnames=tuple(parts.hostnames.get(row.service_id, [])),
        public=row.public,
        cron=cron,
        volumes=tuple(sorted(volumes, key=lambda v: v.name)),
        var_groups=parts.attachments.get(row.service_id, []),
        drift=DriftPolicy(
            mode=row.drift_mode,
            ignore_fields=tuple(sorted(row.drift_ignore_fields)),
            revert=tuple(parts.reverts.get(row.service_id, ())) if row.drift_mode is DriftMode.ADOPT else (),
        ),
    )
