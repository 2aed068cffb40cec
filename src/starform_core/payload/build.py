"""Fold typed rows into the desired-state payload: pure, deterministic, one pass per table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TypeVar

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
from starform_core.payload.rows import ClusterRow, ClusterRows, DeploymentRow, ServiceRow
from starform_core.secrets_values import SecretValue, keyed_checksum

__all__ = ["build_payload", "cluster_settings"]

T = TypeVar("T")


def _within(where: str, make: Callable[[], T]) -> T:
    """Run a constructor and prefix any validation error with where it happened."""
    try:
        return make()
    except ValidationError as exc:
        raise ValidationError(f"{where}.{exc.field}", exc.reason) from exc


def cluster_settings(row: ClusterRow) -> ClusterSettings:
    """The cluster's settings from its row."""
    load_balancer = None
    if row.lb_target_name is not None:
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
        load_balancer = (
            LoadBalancerSettings(target=target, size_unit=row.lb_size_unit, annotation=row.lb_annotation)
            if row.lb_annotation is not None
            else LoadBalancerSettings(target=target, size_unit=row.lb_size_unit)
        )
    return _within(
        "cluster",
        lambda: ClusterSettings(
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
        ),
    )


def _current_releases(deployments: tuple[DeploymentRow, ...]) -> dict[str, DeploymentRow]:
    current: dict[str, DeploymentRow] = {}
    for row in deployments:
        best = current.get(row.service_id)
        if best is None or row.version > best.version:
            current[row.service_id] = row
        elif row.version == best.version and row != best:
            raise ValidationError(
                f"deployments[{row.service_id}].version",
                f"version {row.version} appears twice for one service",
            )
    return current


def build_payload(rows: ClusterRows, *, checksum_key: bytes) -> DesiredState:
    """Fold one cluster's rows into its :class:`DesiredState`.

    The result does not depend on the order of any row collection. ``checksum_key`` keys the var
    group checksums (§38.7) so they reveal nothing about the values.
    """
    cluster_id = rows.cluster.cluster_id
    projects = [p for p in rows.projects if p.cluster_id == cluster_id]
    project_ids = {p.project_id for p in projects}
    env_by_id = {e.environment_id: e for e in rows.environments if e.project_id in project_ids}

    entries: defaultdict[str, list[tuple[str, SecretValue]]] = defaultdict(list)
    for entry in rows.var_group_entries:
        entries[entry.var_group_id].append((entry.key, entry.value))
    groups_by_project: defaultdict[str, list[VarGroup]] = defaultdict(list)
    for group in rows.var_groups:
        if group.project_id not in project_ids:
            continue
        environment = None
        if group.environment_id is not None:
            env_row = env_by_id.get(group.environment_id)
            if env_row is None:
                raise ValidationError(
                    f"var_groups[{group.var_group_id}].environment_id", "unknown environment"
                )
            environment = env_row.name
        items = entries.get(group.var_group_id, [])
        groups_by_project[group.project_id].append(
            _within(
                f"var_groups[{group.var_group_id}]",
                lambda group=group, items=items, environment=environment: VarGroup(  # type: ignore[misc]
                    var_group_id=group.var_group_id,
                    name=group.name,
                    checksum=keyed_checksum(checksum_key, items),
                    entries=items,
                    environment=environment,
                ),
            )
        )

    releases = _current_releases(rows.deployments)
    attachments: defaultdict[str, list[VarGroupAttachment]] = defaultdict(list)
    for link in rows.service_var_groups:
        attachments[link.service_id].append(
            _within(
                f"service_var_groups[{link.service_id}]",
                lambda link=link: VarGroupAttachment(  # type: ignore[misc]
                    attach_order=link.attach_order, var_group_id=link.var_group_id
                ),
            )
        )
    volumes: defaultdict[str, list[Volume]] = defaultdict(list)
    for vol in rows.volumes:
        volumes[vol.service_id].append(
            _within(
                f"volumes[{vol.volume_id}]",
                lambda vol=vol: Volume(  # type: ignore[misc]
                    name=vol.name,
                    mount_path=vol.mount_path,
                    size=vol.size,
                    access_mode=vol.access_mode,
                ),
            )
        )
    hostnames: defaultdict[str, list[str]] = defaultdict(list)
    for host in rows.hostnames:
        hostnames[host.service_id].append(host.hostname)
    reverts: defaultdict[str, list[RevertField]] = defaultdict(list)
    for revert in rows.reverts:
        reverts[revert.service_id].append(
            _within(
                f"reverts[{revert.service_id}]",
                lambda revert=revert: RevertField(field=revert.field, live=revert.live),  # type: ignore[misc]
            )
        )

    workspace_of = {p.project_id: p.workspace_id for p in projects}
    services_by_project: defaultdict[str, list[Service]] = defaultdict(list)
    for svc in rows.services:
        if svc.project_id not in project_ids:
            continue
        env_row = env_by_id.get(svc.environment_id)
        if env_row is None or env_row.project_id != svc.project_id:
            raise ValidationError(f"services[{svc.service_id}].environment_id", "unknown environment")
        services_by_project[svc.project_id].append(
            _within(
                f"services[{svc.service_id}]",
                lambda svc=svc, env=env_row.name: _service(  # type: ignore[misc]
                    svc,
                    tenant=TenantKey(
                        workspace_id=workspace_of[svc.project_id],
                        project_id=svc.project_id,
                        environment=env,
                        service_id=svc.service_id,
                    ),
                    release=releases.get(svc.service_id),
                    attachments=attachments.get(svc.service_id, []),
                    volumes=volumes.get(svc.service_id, []),
                    hostnames=hostnames.get(svc.service_id, []),
                    reverts=reverts.get(svc.service_id, []),
                ),
            )
        )

    environments_by_project: defaultdict[str, list[Environment]] = defaultdict(list)
    for env in env_by_id.values():
        environments_by_project[env.project_id].append(
            _within(
                f"environments[{env.environment_id}]",
                lambda env=env: Environment(  # type: ignore[misc]
                    name=env.name, is_ephemeral=env.is_ephemeral, protected=env.protected
                ),
            )
        )

    built = [
        _within(
            f"projects[{p.project_id}]",
            lambda p=p: Project(  # type: ignore[misc]
                project_id=p.project_id,
                workspace_id=p.workspace_id,
                name=p.name,
                tier=p.tier,
                environments=environments_by_project.get(p.project_id, []),
                var_groups=groups_by_project.get(p.project_id, []),
                services=services_by_project.get(p.project_id, []),
            ),
        )
        for p in projects
    ]
    return _within(
        "payload",
        lambda: DesiredState(
            generation=rows.cluster.generation,
            epoch=rows.cluster.epoch,
            cluster=cluster_settings(rows.cluster),
            projects=built,
        ),
    )


def _service(
    row: ServiceRow,
    *,
    tenant: TenantKey,
    release: DeploymentRow | None,
    attachments: list[VarGroupAttachment],
    volumes: list[Volume],
    hostnames: list[str],
    reverts: list[RevertField],
) -> Service:
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
        hostnames=tuple(hostnames),
        public=row.public,
        cron=cron,
        volumes=tuple(sorted(volumes, key=lambda v: v.name)),
        var_groups=attachments,
        drift=DriftPolicy(
            mode=row.drift_mode,
            ignore_fields=tuple(sorted(row.drift_ignore_fields)),
            revert=tuple(reverts) if row.drift_mode is DriftMode.ADOPT else (),
        ),
    )
