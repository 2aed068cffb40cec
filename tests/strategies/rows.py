"""Hypothesis strategies for Starbase's typed rows, valid by construction."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from starform_core.model.enums import AccessMode, DriftMode, ProbeKind, RunState, ServiceType, Tier
from starform_core.model.workload import Autoscaling, Probe, Probes
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

SECRET_MARKER = "s3cr3t-"
"""Every generated secret value starts with this marker, so leaks are easy to search for."""

uuids = st.uuids(version=4).map(str)
_alnum = string.ascii_lowercase + string.digits


@st.composite
def rfc1123_labels(draw: st.DrawFn, *, max_size: int = 30) -> str:
    """A lower-case RFC 1123 label of at most ``max_size`` characters."""
    first = draw(st.sampled_from(_alnum))
    if max_size == 1 or draw(st.booleans()):
        return first
    middle = draw(st.text(_alnum + "-", max_size=max_size - 2))
    last = draw(st.sampled_from(_alnum))
    return first + middle + last


@st.composite
def dns1035_labels(draw: st.DrawFn, *, max_size: int = 32) -> str:
    """A DNS-1035 label (starts with a letter) of at most ``max_size`` characters."""
    first = draw(st.sampled_from(string.ascii_lowercase))
    rest = draw(st.text(_alnum + "-", max_size=max_size - 2))
    last = draw(st.sampled_from(_alnum)) if rest else ""
    return first + rest + last


env_var_keys = st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,20}\Z")
secret_values = st.text(min_size=0, max_size=24).map(lambda text: SecretValue(SECRET_MARKER + text))
images = st.builds(
    lambda repo, digest: f"registry.example.com/{repo}@sha256:{digest}",
    st.from_regex(r"\A[a-z][a-z0-9]{0,10}(/[a-z][a-z0-9]{0,8})?\Z"),
    st.binary(min_size=32, max_size=32).map(bytes.hex),
)
quantities_cpu = st.sampled_from(["50m", "100m", "250m", "500m", "1", "2", "1500m"])
quantities_mem = st.sampled_from(["64Mi", "128Mi", "256Mi", "1Gi", "512M", "2Gi"])


@st.composite
def probes(draw: st.DrawFn, *, port: int) -> Probe:
    """A valid probe against ``port``."""
    kind = draw(st.sampled_from(list(ProbeKind)))
    return Probe(
        kind=kind,
        port=port,
        path=draw(st.sampled_from(["/healthz", "/ready", "/"])) if kind is ProbeKind.HTTP else None,
        grpc_service=draw(st.none() | st.just("health.v1")) if kind is ProbeKind.GRPC else None,
        period_seconds=draw(st.integers(1, 60)),
        failure_threshold=draw(st.integers(1, 10)),
    )


@st.composite
def cluster_rows(draw: st.DrawFn, *, max_projects: int = 3, max_services: int = 4) -> ClusterRows:
    """A consistent set of rows for one cluster: projects, environments, services and the rest."""
    cluster = ClusterRow(
        cluster_id=draw(uuids),
        name=draw(dns1035_labels(max_size=20)),
        region=draw(st.sampled_from(["fra1", "nyc3", "sgp1"])),
        generation=draw(st.integers(1, 10**9)),
        gateway_namespace="envoy-gateway-system",
        gateway_name="starform-gateway",
        gateway_section_name=draw(st.none() | st.just("https")),
        storage_class="do-block-storage",
        lb_target_api_version="v1",
        lb_target_kind="Service",
        lb_target_namespace="envoy-gateway-system",
        lb_target_name="envoy-lb",
        lb_size_unit=draw(st.integers(1, 200)),
    )
    projects: list[ProjectRow] = []
    environments: list[EnvironmentRow] = []
    services: list[ServiceRow] = []
    deployments: list[DeploymentRow] = []
    groups: list[VarGroupRow] = []
    entries: list[VarGroupEntryRow] = []
    links: list[ServiceVarGroupRow] = []
    volumes: list[VolumeRow] = []
    hostnames: list[HostnameRow] = []
    for p_index in range(draw(st.integers(0, max_projects))):
        project_id = draw(uuids)
        projects.append(
            ProjectRow(
                project_id=project_id,
                workspace_id=draw(uuids),
                cluster_id=cluster.cluster_id,
                name=f"Project {p_index}",
                tier=draw(st.sampled_from(list(Tier))),
            )
        )
        env_names = draw(st.lists(rfc1123_labels(), min_size=1, max_size=3, unique=True))
        env_rows = [
            EnvironmentRow(
                environment_id=draw(uuids),
                project_id=project_id,
                name=name,
                is_ephemeral=draw(st.booleans()),
                protected=draw(st.booleans()),
            )
            for name in env_names
        ]
        environments.extend(env_rows)
        project_groups: list[VarGroupRow] = []
        for g_index in range(draw(st.integers(0, 3))):
            scoped = draw(st.none() | st.sampled_from(env_rows))
            group = VarGroupRow(
                var_group_id=draw(uuids),
                project_id=project_id,
                name=f"group-{g_index}",
                environment_id=None if scoped is None else scoped.environment_id,
            )
            project_groups.append(group)
            for key in draw(st.lists(env_var_keys, max_size=4, unique=True)):
                entries.append(
                    VarGroupEntryRow(var_group_id=group.var_group_id, key=key, value=draw(secret_values))
                )
        groups.extend(project_groups)
        object_names: set[str] = set()  # <service>-<environment> is unique in the project
        for env in env_rows:
            names = draw(st.lists(dns1035_labels(), max_size=max_services, unique=True))
            for name in names:
                if f"{name}-{env.name}" in object_names:
                    continue
                object_names.add(f"{name}-{env.name}")
                service = _service(draw, project_id=project_id, environment_id=env.environment_id, name=name)
                services.append(service)
                for version in draw(st.lists(st.integers(1, 50), max_size=1)):  # the current release
                    deployments.append(
                        DeploymentRow(
                            deployment_id=draw(uuids),
                            service_id=service.service_id,
                            version=version,
                            image=draw(images),
                            command=draw(st.none() | st.just(("/app/run",))),
                        )
                    )
                usable = [g for g in project_groups if g.environment_id in (None, env.environment_id)]
                chosen = (
                    draw(st.lists(st.sampled_from(usable), unique_by=lambda g: g.var_group_id))
                    if usable
                    else []
                )
                orders = draw(
                    st.lists(st.integers(0, 100), min_size=len(chosen), max_size=len(chosen), unique=True)
                )
                links.extend(
                    ServiceVarGroupRow(
                        service_id=service.service_id, var_group_id=g.var_group_id, attach_order=o
                    )
                    for g, o in zip(chosen, orders, strict=True)
                )
                if service.type is not ServiceType.CRON:
                    for v_index in range(draw(st.integers(0, 2))):
                        volumes.append(
                            VolumeRow(
                                volume_id=draw(uuids),
                                service_id=service.service_id,
                                name=f"data{v_index}",
                                mount_path=f"/data/{v_index}",
                                size=draw(st.sampled_from(["1Gi", "5Gi", "10Gi"])),
                                access_mode=draw(st.sampled_from(list(AccessMode))),
                            )
                        )
                if service.type is ServiceType.WEB and service.public:
                    for h_index in range(draw(st.integers(0, 2))):
                        hostnames.append(
                            HostnameRow(
                                service_id=service.service_id,
                                hostname=f"h{h_index}.{service.service_id[:8]}.example.com",
                            )
                        )
    return ClusterRows(
        cluster=cluster,
        projects=tuple(projects),
        environments=tuple(environments),
        services=tuple(services),
        deployments=tuple(deployments),
        var_groups=tuple(groups),
        var_group_entries=tuple(entries),
        service_var_groups=tuple(links),
        volumes=tuple(volumes),
        hostnames=tuple(hostnames),
    )


def _service(draw: st.DrawFn, *, project_id: str, environment_id: str, name: str) -> ServiceRow:
    kind = draw(st.sampled_from(list(ServiceType)))
    port = draw(st.integers(1024, 65535))
    scaled = kind is not ServiceType.CRON and draw(st.booleans())
    autoscaling = None
    if scaled:
        low = draw(st.integers(1, 5))
        autoscaling = Autoscaling(
            min_replicas=low,
            max_replicas=draw(st.integers(low, 20)),
            target_cpu_percent=draw(st.integers(10, 90)),
            target_memory_percent=draw(st.none() | st.integers(10, 90)),
            scale_down_cooldown_seconds=draw(st.integers(0, 3600)),
        )
    with_port = kind is ServiceType.WEB or (kind is ServiceType.WORKER and draw(st.booleans()))
    return ServiceRow(
        service_id=draw(uuids),
        project_id=project_id,
        environment_id=environment_id,
        name=name,
        type=kind,
        state=draw(st.sampled_from(list(RunState))),
        cpu_request=draw(quantities_cpu),
        memory_request=draw(quantities_mem),
        cpu_limit=draw(st.none() | st.just("4")),
        memory_limit=draw(st.none() | st.just("8Gi")),
        replicas=None if kind is ServiceType.CRON or scaled else draw(st.integers(0, 5)),
        autoscaling=autoscaling,
        probes=Probes()
        if kind is ServiceType.CRON or not with_port
        else Probes(
            readiness=draw(st.none() | probes(port=port)),
            liveness=draw(st.none() | probes(port=port)),
            startup=draw(st.none() | probes(port=port)),
        ),
        port=port if with_port else None,
        public=draw(st.booleans()) if kind is not ServiceType.CRON else True,
        cron_schedule=draw(st.sampled_from(["*/5 * * * *", "0 3 * * *", "@hourly"]))
        if kind is ServiceType.CRON
        else None,
        cron_time_zone=draw(st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]))
        if kind is ServiceType.CRON
        else None,
        drift_mode=draw(st.sampled_from(list(DriftMode))),
        drift_ignore_fields=draw(
            st.lists(st.sampled_from(["Deployment:/spec/replicas", "Service:/spec/ports"]), unique=True)
        ),
    )


@st.composite
def permuted(draw: st.DrawFn, rows: ClusterRows) -> ClusterRows:
    """The same rows, every collection in a random order."""

    def shuffle(items: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(draw(st.permutations(items))) if items else items

    return ClusterRows(
        cluster=rows.cluster,
        projects=shuffle(rows.projects),  # type: ignore[arg-type]
        environments=shuffle(rows.environments),  # type: ignore[arg-type]
        services=shuffle(rows.services),  # type: ignore[arg-type]
        deployments=shuffle(rows.deployments),  # type: ignore[arg-type]
        var_groups=shuffle(rows.var_groups),  # type: ignore[arg-type]
        var_group_entries=shuffle(rows.var_group_entries),  # type: ignore[arg-type]
        service_var_groups=shuffle(rows.service_var_groups),  # type: ignore[arg-type]
        volumes=shuffle(rows.volumes),  # type: ignore[arg-type]
        hostnames=shuffle(rows.hostnames),  # type: ignore[arg-type]
    )
