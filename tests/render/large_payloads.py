"""Large, varied, deterministic payloads for the render benchmark and the render pins.

``large_payload(2000)`` is what ``benchmarks/bench_render.py`` renders: 20 services to a project,
three environments per project (one ephemeral), a shared and two environment-scoped var groups,
and every kind of service the renderer knows (public web with hostnames and an autoscaler,
private web, workers with and without a port, cron jobs, volumes, paused and never-deployed
services). ``with_new_release`` and ``with_new_var_value`` are the one-service and one-var-group
changes the benchmark re-renders.
"""

from __future__ import annotations

import attrs

from starform_core.model.cluster import ClusterSettings, GatewayRef, LoadBalancerSettings, ObjectRef
from starform_core.model.enums import AccessMode, ProbeKind, RunState, ServiceType, Tier
from starform_core.model.project import Environment, Project
from starform_core.model.service import Service
from starform_core.model.tenant import TenantKey
from starform_core.model.vargroup import VarGroup, VarGroupAttachment
from starform_core.model.workload import (
    Autoscaling,
    CronSchedule,
    Probe,
    Probes,
    Release,
    Resources,
    Volume,
)
from starform_core.payload.document import DesiredState
from starform_core.secrets_values import SecretValue, keyed_checksum

__all__ = ["CHECKSUM_KEY", "large_payload", "with_new_release", "with_new_var_value"]

CHECKSUM_KEY = b"large-payload-checksum-key-not-secret"
"""The key the var group checksums are computed with."""

_DIGEST = "sha256:" + "5e" * 32
_TIERS = (Tier.FREE, Tier.HOBBY, Tier.PRO, Tier.ENTERPRISE)
_ENVIRONMENTS = ("production", "staging")


def _uuid(kind: int, n: int) -> str:
    return f"{kind:08x}-0000-4000-8000-{n:012x}"


def _group(group_id: str, name: str, environment: str | None, *, value: str) -> VarGroup:
    entries = {"LOG_LEVEL": SecretValue(value), f"{name.upper()}_TOKEN": SecretValue(f"t-{group_id}")}
    return VarGroup(
        var_group_id=group_id,
        name=name,
        checksum=keyed_checksum(CHECKSUM_KEY, entries.items()),
        entries=entries,
        environment=environment,
    )


def _shape(s: int, port: int) -> dict[str, object]:
    """Type-specific fields of service number ``s`` (ten shapes, cycling)."""
    shape = s % 10
    http = Probe(kind=ProbeKind.HTTP, port=port, path="/healthz")
    if shape <= 5:
        return {
            "type": ServiceType.WEB,
            "port": port,
            "hostnames": (f"svc-{s}.apps.example.com", f"www.svc-{s}.example.org"),
            "autoscaling": Autoscaling(min_replicas=1, max_replicas=6, target_cpu_percent=70),
            "probes": Probes(startup=http, liveness=http, readiness=http),
        }
    if shape == 6:
        return {"type": ServiceType.WEB, "port": port, "public": False, "replicas": 2}
    if shape == 7:
        return {"type": ServiceType.WORKER, "port": port, "public": False, "replicas": 1}
    if shape == 8:
        volume = Volume(name="data", mount_path="/var/lib/data", size="10Gi")
        return {"type": ServiceType.WORKER, "replicas": 1, "volumes": (volume,)}
    return {
        "type": ServiceType.CRON,
        "cron": CronSchedule(schedule="*/15 * * * *", time_zone="Europe/Berlin"),
    }


def _service(s: int, project: Project, groups: tuple[VarGroup, ...]) -> Service:
    environment = project.environments[s % len(project.environments)].name
    release = (
        None if s % 17 == 16 else Release(version=1 + s % 7, image=f"registry.example.com/app-{s}@{_DIGEST}")
    )
    attachments = tuple(
        VarGroupAttachment(attach_order=order, var_group_id=group.var_group_id)
        for order, group in enumerate(g for g in groups if g.environment in (None, environment))
    )
    volumes = (Volume(name="cache", mount_path="/cache", size="1Gi", access_mode=AccessMode.READ_WRITE_MANY),)
    fields = {"volumes": volumes if s % 10 == 3 else (), **_shape(s, 8000 + s % 100)}
    return Service(
        tenant=TenantKey(
            workspace_id=project.workspace_id,
            project_id=project.project_id,
            environment=environment,
            service_id=_uuid(4, s),
        ),
        name=f"svc-{s}",
        state=RunState.PAUSED if s % 13 == 12 else RunState.ACTIVE,
        resources=Resources(cpu_request="250m", memory_request="256Mi", memory_limit="512Mi"),
        release=release,
        var_groups=attachments,
        **fields,  # type: ignore[arg-type]
    )


def _project(p: int, first: int, last: int) -> Project:
    environments = (
        Environment(name="production", protected=True),
        Environment(name="staging"),
        Environment(name=f"pr-{p}", is_ephemeral=True),
    )
    groups = (
        _group(_uuid(3, 3 * p), "shared", None, value="info"),
        *(_group(_uuid(3, 3 * p + 1 + i), env, env, value="debug") for i, env in enumerate(_ENVIRONMENTS)),
    )
    project = Project(
        project_id=_uuid(1, p),
        workspace_id=_uuid(9, p % 10),
        name=f"project {p}",
        tier=_TIERS[p % len(_TIERS)],
        environments=environments,
        var_groups=groups,
    )
    return attrs.evolve(project, services=tuple(_service(s, project, groups) for s in range(first, last)))


def large_payload(services: int, *, per_project: int = 20, generation: int = 1) -> DesiredState:
    """A valid payload of ``services`` services, ``per_project`` to a project (deterministic)."""
    gateway_namespace = "envoy-gateway-system"
    cluster = ClusterSettings(
        cluster_id="0c0c0c0c-0000-4000-8000-000000000001",
        name="bench-1",
        region="fra1",
        gateway=GatewayRef(namespace=gateway_namespace, name="starform-gateway", section_name="https"),
        load_balancer=LoadBalancerSettings(
            target=ObjectRef(api_version="v1", kind="Service", name="envoy-lb", namespace=gateway_namespace),
            size_unit=4,
        ),
        storage_class="do-block-storage",
        egress_allow=("10.110.0.0/20",),
        metrics_namespace="monitoring",
    )
    projects = tuple(
        _project(p, p * per_project, min(services, (p + 1) * per_project))
        for p in range((services + per_project - 1) // per_project)
    )
    return DesiredState(generation=generation, cluster=cluster, projects=projects)


def _replace_project(payload: DesiredState, index: int, project: Project) -> DesiredState:
    projects = list(payload.projects)
    projects[index] = project
    return attrs.evolve(payload, generation=payload.generation + 1, projects=tuple(projects))


def with_new_release(
    payload: DesiredState, *, project_index: int = 0, service_index: int = 0
) -> DesiredState:
    """``payload`` with one service deployed at the next version (a new image)."""
    project = payload.projects[project_index]
    services = list(project.services)
    service = services[service_index]
    version = 1 if service.release is None else service.release.version + 1
    services[service_index] = attrs.evolve(
        service, release=Release(version=version, image=f"registry.example.com/next-{version}@{_DIGEST}")
    )
    return _replace_project(payload, project_index, attrs.evolve(project, services=tuple(services)))


def with_new_var_value(
    payload: DesiredState, *, project_index: int = 0, group_index: int = 0
) -> DesiredState:
    """``payload`` with one var group's ``LOG_LEVEL`` changed (new entries, new checksum)."""
    project = payload.projects[project_index]
    groups = list(project.var_groups)
    group = groups[group_index]
    value = "warning" if dict(group.entries)["LOG_LEVEL"].reveal() != "warning" else "error"
    groups[group_index] = _group(group.var_group_id, group.name, group.environment, value=value)
    return _replace_project(payload, project_index, attrs.evolve(project, var_groups=tuple(groups)))
