"""Hypothesis strategies for valid desired-state payloads (valid by construction).

``desired_states()`` draws whole payloads: several projects with environments, var groups and
services of all three types (releases, volumes, hostnames, autoscaling, probes, cron schedules,
paused services, services never deployed). Names are drawn partly from a small pool with hyphens
so ``<service>-<environment>`` clashes (``a-b``/``c`` vs ``a``/``b-c``) do occur.

Every secret value starts with :data:`SECRET_MARKER` followed by 32 random hex characters, so a
value found anywhere outside its Secret is a leak, never a coincidence. ``rows_of(payload)`` is
the inverse of ``build_payload`` (with :data:`CHECKSUM_KEY`), for row-permutation properties.
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import strategies as st

from starform_core.model.cluster import (
    ClusterSettings,
    GatewayRef,
    LoadBalancerSettings,
    ObjectRef,
    PrunePolicy,
)
from starform_core.model.enums import AccessMode, DriftMode, ProbeKind, RunState, ServiceType, Tier
from starform_core.model.project import Environment, Project
from starform_core.model.service import Service
from starform_core.model.tenant import TenantKey
from starform_core.model.vargroup import VarGroup, VarGroupAttachment
from starform_core.model.workload import (
    Autoscaling,
    CronSchedule,
    DriftPolicy,
    Probe,
    Probes,
    Release,
    Resources,
    RevertField,
    Volume,
)
from starform_core.payload.document import DesiredState
from starform_core.payload.rows import (
    ClusterRow,
    ClusterRows,
    DeploymentRow,
    EnvironmentRow,
    HostnameRow,
    ProjectRow,
    RevertRow,
    ServiceRow,
    ServiceVarGroupRow,
    VarGroupEntryRow,
    VarGroupRow,
    VolumeRow,
)
from starform_core.secrets_values import SecretValue, keyed_checksum

__all__ = [
    "CHECKSUM_KEY",
    "SECRET_MARKER",
    "cluster_settings",
    "desired_states",
    "environment_names",
    "projects",
    "rows_of",
    "secret_values",
    "service_names",
]

CHECKSUM_KEY = b"hypothesis-checksum-key-not-secret"
"""The key var group checksums are computed with (as ``build_payload(checksum_key=...)``)."""

SECRET_MARKER = "SFSECRETx"
"""Every generated secret value is this marker plus 32 hex characters."""

_DIGEST = "sha256:" + "ab" * 32
_ROW_NS = uuid.UUID("6f1d3c55-8f1e-4f7a-9a51-2b3c4d5e6f70")


def _uuid_str(value: uuid.UUID) -> str:
    return str(value)


uuids = st.uuids().map(_uuid_str)
"""Canonical lower-case hyphenated UUID strings."""

service_names = st.one_of(
    st.sampled_from(["a", "a-b", "b", "web", "api-v2", "x" * 32, "q" * 31 + "1"]),
    st.from_regex(r"\A[a-z]([-a-z0-9]{0,30}[a-z0-9])?\Z"),
)
"""DNS-1035 labels of at most 32 characters, with a clash-prone pool."""

environment_names = st.one_of(
    st.sampled_from(["b-c", "c", "b", "production", "pr-128", "0", "z" * 30, "9" * 30]),
    st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?\Z"),
)
"""RFC 1123 labels of at most 30 characters."""

_volume_names = st.one_of(
    st.sampled_from(["data", "c-data", "v" * 30]),
    st.from_regex(r"\A[a-z]([-a-z0-9]{0,28}[a-z0-9])?\Z"),
)
_var_keys = st.one_of(
    st.sampled_from(["DATABASE_URL", "LOG_LEVEL", "API_KEY", "_PRIVATE"]),
    st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,20}\Z"),
)
secret_values = st.uuids().map(lambda u: SecretValue(f"{SECRET_MARKER}{u.hex}"))
"""Secret values that cannot occur anywhere by chance."""

_quantities_cpu = st.sampled_from(["50m", "100m", "250m", "500m", "1", "1500m", "2"])
_quantities_memory = st.sampled_from(["64Mi", "128Mi", "256Mi", "512Mi", "1Gi", "2Gi"])
_sizes = st.sampled_from(["1Gi", "5Gi", "10Gi", "100Gi", "500Mi"])


@st.composite
def cluster_settings(draw: st.DrawFn) -> ClusterSettings:
    """Cluster settings, with or without a load balancer and a gateway section name."""
    gateway_ns = draw(st.sampled_from(["envoy-gateway-system", "gateway", "gw-1"]))
    load_balancer = draw(
        st.none()
        | st.builds(
            LoadBalancerSettings,
            target=st.builds(
                ObjectRef,
                api_version=st.just("v1"),
                kind=st.just("Service"),
                name=st.sampled_from(["envoy-gateway", "lb.edge"]),
                namespace=st.just(gateway_ns),
            ),
            size_unit=st.integers(1, 200),
        )
    )
    return ClusterSettings(
        cluster_id=draw(uuids),
        name=draw(st.sampled_from(["fra1-prod-1", "nyc3-a"])),
        region=draw(st.sampled_from(["fra1", "nyc3"])),
        gateway=GatewayRef(
            namespace=gateway_ns,
            name=draw(st.sampled_from(["starform-gateway", "gw.public"])),
            section_name=draw(st.none() | st.sampled_from(["https", "http"])),
        ),
        load_balancer=load_balancer,
        storage_class=draw(st.sampled_from(["do-block-storage", "standard"])),
        prune=PrunePolicy(),
    )


def _probe(port: int) -> st.SearchStrategy[Probe]:
    return st.one_of(
        st.builds(
            Probe,
            kind=st.just(ProbeKind.HTTP),
            port=st.just(port),
            path=st.sampled_from(["/healthz", "/ready", "/"]),
            initial_delay_seconds=st.integers(0, 60),
            period_seconds=st.integers(1, 60),
            timeout_seconds=st.integers(1, 30),
            failure_threshold=st.integers(1, 30),
        ),
        st.builds(Probe, kind=st.just(ProbeKind.TCP), port=st.just(port)),
        st.builds(
            Probe,
            kind=st.just(ProbeKind.GRPC),
            port=st.just(port),
            grpc_service=st.none() | st.just("svc.v1.Health"),
        ),
    )


@st.composite
def _resources(draw: st.DrawFn) -> Resources:
    cpu = draw(_quantities_cpu)
    memory = draw(_quantities_memory)
    return Resources(
        cpu_request=cpu,
        memory_request=memory,
        cpu_limit=draw(st.none() | st.just(cpu) | st.just("4")),
        memory_limit=draw(st.none() | st.just(memory) | st.just("4Gi")),
    )


@st.composite
def _autoscaling(draw: st.DrawFn) -> Autoscaling:
    low = draw(st.integers(1, 10))
    cpu = draw(st.none() | st.integers(1, 1000))
    memory = draw(st.integers(1, 1000)) if cpu is None else draw(st.none() | st.integers(1, 1000))
    return Autoscaling(
        min_replicas=low,
        max_replicas=draw(st.integers(low, 100)),
        target_cpu_percent=cpu,
        target_memory_percent=memory,
        scale_down_cooldown_seconds=draw(st.integers(0, 3600)),
    )


@st.composite
def _volumes(draw: st.DrawFn) -> tuple[Volume, ...]:
    names = draw(st.lists(_volume_names, max_size=2, unique=True))
    return tuple(
        Volume(
            name=name,
            mount_path=f"/mnt/{index}/{name}",
            size=draw(_sizes),
            access_mode=draw(st.sampled_from(AccessMode)),
        )
        for index, name in enumerate(sorted(names))
    )


REVERTS = st.lists(
    st.builds(
        RevertField,
        field=st.sampled_from(
            [
                "Deployment:/spec/replicas",
                "CronJob:/spec/schedule",
                "Deployment:/spec/template/spec/containers/0/resources/limits/memory",
            ]
        ),
        live=st.sampled_from(["3", '"2Gi"', '"*/5 * * * *"', '"ünïcode"']),
    ),
    max_size=3,
)


def _drift(draw: st.DrawFn) -> DriftPolicy:
    """A drift policy; rejected values (``revert``) only under ``adopt``, as Starbase builds them."""
    mode = draw(st.sampled_from(DriftMode))
    return DriftPolicy(
        mode=mode,
        ignore_fields=draw(st.sampled_from([(), ("Deployment:/spec/replicas",)])),
        revert=draw(REVERTS) if mode is DriftMode.ADOPT else (),
    )


@st.composite
def _service(
    draw: st.DrawFn,
    *,
    workspace_id: str,
    project_id: str,
    service_id: str,
    environment: str,
    name: str,
    groups: tuple[VarGroup, ...],
) -> Service:
    kind = draw(st.sampled_from(ServiceType))
    tenant = TenantKey(
        workspace_id=workspace_id,
        project_id=project_id,
        environment=environment,
        service_id=service_id,
    )
    release = draw(
        st.none()
        | st.builds(
            Release,
            version=st.integers(1, 2**31 - 1),
            image=st.just(f"registry.example.com/team/app@{_DIGEST}"),
            command=st.none() | st.just(("/bin/app", "serve")),
            args=st.none() | st.just(("--port", "8080")),
        )
    )
    usable = [g for g in groups if g.environment in (None, environment)]
    chosen = draw(st.lists(st.sampled_from(usable), unique_by=lambda g: g.var_group_id)) if usable else []
    orders = draw(st.lists(st.integers(0, 10_000), min_size=len(chosen), max_size=len(chosen), unique=True))
    attachments = tuple(
        VarGroupAttachment(attach_order=order, var_group_id=group.var_group_id)
        for order, group in zip(orders, chosen, strict=True)
    )
    common: dict[str, Any] = {
        "tenant": tenant,
        "name": name,
        "type": kind,
        "state": draw(st.sampled_from(RunState)),
        "resources": draw(_resources()),
        "release": release,
        "volumes": draw(_volumes()),
        "var_groups": attachments,
        "drift": _drift(draw),
    }
    if kind is ServiceType.CRON:
        common["cron"] = CronSchedule(
            schedule=draw(st.sampled_from(["*/5 * * * *", "30 2 * * *", "@hourly"])),
            time_zone=draw(st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"])),
        )
        return Service(**common)
    port = draw(st.integers(1, 65535)) if kind is ServiceType.WEB else draw(st.none() | st.integers(1, 65535))
    public = draw(st.booleans())
    hostnames: tuple[str, ...] = ()
    if kind is ServiceType.WEB and public:
        count = draw(st.integers(0, 3) | st.just(18))
        tag = uuid.UUID(service_id).hex[:12]
        hostnames = tuple(f"h{index}-{tag}.example.com" for index in range(count))
        if draw(st.booleans()):
            hostnames += (f"*.w-{tag}.example.org",)
    scaling = draw(st.sampled_from(["none", "replicas", "autoscaling"]))
    probes = Probes()
    if port is not None:
        probes = Probes(
            startup=draw(st.none() | _probe(port)),
            liveness=draw(st.none() | _probe(port)),
            readiness=draw(st.none() | _probe(port)),
        )
    return Service(
        **common,
        port=port,
        public=public,
        hostnames=hostnames,
        probes=probes,
        replicas=draw(st.integers(0, 100)) if scaling == "replicas" else None,
        autoscaling=draw(_autoscaling()) if scaling == "autoscaling" else None,
    )


@st.composite
def projects(draw: st.DrawFn, *, used_ids: set[str] | None = None) -> Project:
    """One project: 1-3 environments, 0-3 var groups, 0-5 services (ids unique in ``used_ids``)."""
    used = set() if used_ids is None else used_ids

    def fresh() -> str:
        value = draw(uuids.filter(lambda u: u not in used))
        used.add(value)
        return value

    project_id = fresh()
    workspace_id = draw(uuids)
    env_names = draw(st.lists(environment_names, min_size=1, max_size=3, unique=True))
    environments = tuple(
        Environment(name=name, is_ephemeral=draw(st.booleans()), protected=draw(st.booleans()))
        for name in env_names
    )
    groups = []
    for index in range(draw(st.integers(0, 3))):
        entries = draw(st.dictionaries(_var_keys, secret_values, max_size=4))
        groups.append(
            VarGroup(
                var_group_id=fresh(),
                name=f"group-{index}",
                checksum=keyed_checksum(CHECKSUM_KEY, entries.items()),
                entries=entries,
                environment=draw(st.none() | st.sampled_from(env_names)),
            )
        )
    services = []
    identities: set[tuple[str, str]] = set()
    for _ in range(draw(st.integers(0, 5))):
        environment = draw(st.sampled_from(env_names))
        taken = frozenset(f"{n}-{e}" for e, n in identities)
        name = draw(service_names.filter(lambda n, env=environment, used=taken: f"{n}-{env}" not in used))
        identities.add((environment, name))
        services.append(
            draw(
                _service(
                    workspace_id=workspace_id,
                    project_id=project_id,
                    service_id=fresh(),
                    environment=environment,
                    name=name,
                    groups=tuple(groups),
                )
            )
        )
    return Project(
        project_id=project_id,
        workspace_id=workspace_id,
        name=draw(st.sampled_from(["Shop", "Blog", "ünïcode project"])),
        tier=draw(st.sampled_from(Tier)),
        environments=environments,
        var_groups=groups,
        services=services,
    )


@st.composite
def desired_states(draw: st.DrawFn, *, max_projects: int = 3) -> DesiredState:
    """A whole valid payload: cluster settings and 0..``max_projects`` projects."""
    used: set[str] = set()
    count = draw(st.integers(0, max_projects))
    return DesiredState(
        generation=draw(st.integers(1, 2**53 - 1)),
        cluster=draw(cluster_settings()),
        projects=[draw(projects(used_ids=used)) for _ in range(count)],
    )


def _row_id(*parts: str) -> str:
    return str(uuid.uuid5(_ROW_NS, "/".join(parts)))


def rows_of(payload: DesiredState) -> ClusterRows:
    """The rows ``build_payload(rows, checksum_key=CHECKSUM_KEY)`` folds back into ``payload``.

    Each service with a release gets its current deployment row only, as the store hands them over
    (the store chooses the current release; the build refuses two for one service).
    """
    cluster = payload.cluster
    lb = cluster.load_balancer
    cluster_row = ClusterRow(
        cluster_id=cluster.cluster_id,
        name=cluster.name,
        region=cluster.region,
        generation=payload.generation,
        gateway_namespace=cluster.gateway.namespace,
        gateway_name=cluster.gateway.name,
        gateway_section_name=cluster.gateway.section_name,
        storage_class=cluster.storage_class,
        lb_target_api_version=None if lb is None else lb.target.api_version,
        lb_target_kind=None if lb is None else lb.target.kind,
        lb_target_namespace=None if lb is None else lb.target.namespace,
        lb_target_name=None if lb is None else lb.target.name,
        lb_size_unit=None if lb is None else lb.size_unit,
        lb_annotation=None if lb is None else lb.annotation,
        prune_max_delete_percent=cluster.prune.max_delete_percent,
        prune_max_delete_count=cluster.prune.max_delete_count,
        prune_release_held=cluster.prune.release_held,
    )
    rows: dict[str, Any] = {
        key: []
        for key in (
            "projects",
            "environments",
            "services",
            "deployments",
            "var_groups",
            "var_group_entries",
            "service_var_groups",
            "volumes",
            "hostnames",
            "reverts",
        )
    }
    for project in payload.projects:
        pid = project.project_id
        rows["projects"].append(
            ProjectRow(
                project_id=pid,
                workspace_id=project.workspace_id,
                cluster_id=cluster.cluster_id,
                name=project.name,
                tier=project.tier,
            )
        )
        for env in project.environments:
            rows["environments"].append(
                EnvironmentRow(
                    environment_id=_row_id(pid, env.name),
                    project_id=pid,
                    name=env.name,
                    is_ephemeral=env.is_ephemeral,
                    protected=env.protected,
                )
            )
        for group in project.var_groups:
            rows["var_groups"].append(
                VarGroupRow(
                    var_group_id=group.var_group_id,
                    project_id=pid,
                    name=group.name,
                    environment_id=None if group.environment is None else _row_id(pid, group.environment),
                )
            )
            rows["var_group_entries"].extend(
                VarGroupEntryRow(var_group_id=group.var_group_id, key=key, value=value)
                for key, value in group.entries
            )
        for service in project.services:
            rows["services"].append(_service_row(service))
            sid = service.service_id
            release = service.release
            if release is not None:
                rows["deployments"].append(
                    DeploymentRow(
                        deployment_id=_row_id(sid, str(release.version)),
                        service_id=sid,
                        version=release.version,
                        image=release.image,
                        command=release.command,
                        args=release.args,
                    )
                )
            rows["service_var_groups"].extend(
                ServiceVarGroupRow(service_id=sid, var_group_id=a.var_group_id, attach_order=a.attach_order)
                for a in service.var_groups
            )
            rows["volumes"].extend(
                VolumeRow(
                    volume_id=_row_id(sid, volume.name),
                    service_id=sid,
                    name=volume.name,
                    mount_path=volume.mount_path,
                    size=volume.size,
                    access_mode=volume.access_mode,
                )
                for volume in service.volumes
            )
            rows["hostnames"].extend(HostnameRow(service_id=sid, hostname=h) for h in service.hostnames)
            rows["reverts"].extend(
                RevertRow(service_id=sid, field=r.field, live=r.live) for r in service.drift.revert
            )
    return ClusterRows(cluster=cluster_row, **rows)


def _service_row(service: Service) -> ServiceRow:
    return ServiceRow(
        service_id=service.service_id,
        project_id=service.tenant.project_id,
        environment_id=_row_id(service.tenant.project_id, service.environment),
        name=service.name,
        type=service.type,
        state=service.state,
        cpu_request=service.resources.cpu_request,
        memory_request=service.resources.memory_request,
        cpu_limit=service.resources.cpu_limit,
        memory_limit=service.resources.memory_limit,
        replicas=service.replicas,
        autoscaling=service.autoscaling,
        probes=service.probes,
        port=service.port,
        public=service.public,
        cron_schedule=None if service.cron is None else service.cron.schedule,
        cron_time_zone=None if service.cron is None else service.cron.time_zone,
        drift_mode=service.drift.mode,
        drift_ignore_fields=service.drift.ignore_fields,
    )
