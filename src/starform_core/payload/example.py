"""A complete, realistic payload that uses every feature of the contract.

Used by ``starform payload example``, the docs and the contract tests. Secret values here are
obviously fake.
"""

from __future__ import annotations

from starform_core.model.enums import DriftMode, ProbeKind, RunState, ServiceType, Tier
from starform_core.model.workload import Autoscaling, Probe, Probes
from starform_core.payload.build import build_payload
from starform_core.payload.document import DesiredState
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

__all__ = ["EXAMPLE_CHECKSUM_KEY", "example_payload", "example_rows"]

EXAMPLE_CHECKSUM_KEY = b"example-checksum-key-not-secret!"
"""The checksum key the example payload is built with (a real Starbase derives its own)."""

WS = "2f0c0b8e-6f1c-4a57-9d59-0b7c8a2f1e01"
SHOP = "7d9a6f52-3c1e-4e0b-8f7a-1a2b3c4d5e6f"
BLOG = "c4e1f0a2-9b8d-4c7e-a6f5-0d1e2f3a4b5c"
DIGEST = "sha256:" + "4f" * 32


def _id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def example_rows() -> ClusterRows:
    """The rows behind :func:`example_payload`: two projects, three environments, every type."""
    cluster = ClusterRow(
        cluster_id="9b2e7c1d-4a5f-4e8b-b0c9-d8e7f6a5b4c3",
        name="fra1-prod-1",
        region="fra1",
        generation=42,
        gateway_namespace="envoy-gateway-system",
        gateway_name="starform-gateway",
        gateway_section_name="https",
        storage_class="do-block-storage",
        lb_target_api_version="v1",
        lb_target_kind="Service",
        lb_target_namespace="envoy-gateway-system",
        lb_target_name="envoy-starform-gateway",
        lb_size_unit=3,
        egress_allow=("10.110.0.0/20",),
        metrics_namespace="monitoring",
        epoch=1767225600000,
    )
    projects = (
        ProjectRow(project_id=SHOP, workspace_id=WS, cluster_id=cluster.cluster_id, name="Shop", tier="pro"),
        ProjectRow(
            project_id=BLOG,
            workspace_id=WS,
            cluster_id=cluster.cluster_id,
            name="Blog",
            tier=Tier.HOBBY,
        ),
    )
    environments = (
        EnvironmentRow(environment_id=_id(1), project_id=SHOP, name="production", protected=True),
        EnvironmentRow(environment_id=_id(2), project_id=SHOP, name="pr-128", is_ephemeral=True),
        EnvironmentRow(environment_id=_id(3), project_id=BLOG, name="staging"),
    )
    http_probe = Probe(kind=ProbeKind.HTTP, port=8080, path="/healthz")
    services = (
        ServiceRow(
            service_id=_id(101),
            project_id=SHOP,
            environment_id=_id(1),
            name="storefront",
            type=ServiceType.WEB,
            state=RunState.ACTIVE,
            cpu_request="250m",
            memory_request="256Mi",
            cpu_limit="1",
            memory_limit="512Mi",
            port=8080,
            autoscaling=Autoscaling(
                min_replicas=2,
                max_replicas=10,
                target_cpu_percent=70,
                target_memory_percent=80,
                scale_down_cooldown_seconds=300,
            ),
            probes=Probes(
                startup=Probe(kind=ProbeKind.HTTP, port=8080, path="/healthz", failure_threshold=30),
                liveness=http_probe,
                readiness=Probe(kind=ProbeKind.HTTP, port=8080, path="/ready"),
            ),
        ),
        ServiceRow(
            service_id=_id(102),
            project_id=SHOP,
            environment_id=_id(1),
            name="orders-api",
            type=ServiceType.WEB,
            state=RunState.ACTIVE,
            port=9090,
            public=False,
            replicas=2,
            probes=Probes(
                readiness=Probe(kind=ProbeKind.GRPC, port=9090, grpc_service="orders.v1.Orders"),
                liveness=Probe(kind=ProbeKind.TCP, port=9090),
            ),
        ),
        ServiceRow(
            service_id=_id(103),
            project_id=SHOP,
            environment_id=_id(1),
            name="mailer",
            type=ServiceType.WORKER,
            state=RunState.ACTIVE,
            replicas=1,
            cpu_request="100m",
            memory_request="128Mi",
            drift_mode=DriftMode.DETECT,
            drift_ignore_fields=(
                "Deployment:/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt",
            ),
        ),
        ServiceRow(
            service_id=_id(104),
            project_id=SHOP,
            environment_id=_id(1),
            name="nightly-report",
            type=ServiceType.CRON,
            state=RunState.ACTIVE,
            cron_schedule="30 2 * * *",
            cron_time_zone="Europe/Berlin",
        ),
        ServiceRow(
            service_id=_id(105),
            project_id=SHOP,
            environment_id=_id(2),
            name="storefront",
            type=ServiceType.WEB,
            state=RunState.ACTIVE,
            port=8080,
            replicas=1,
        ),
        ServiceRow(
            service_id=_id(106),
            project_id=SHOP,
            environment_id=_id(1),
            name="search",
            type=ServiceType.WORKER,
            state=RunState.ACTIVE,
            replicas=1,
            port=7700,
            public=False,
            cpu_request="500m",
            memory_request="1Gi",
        ),
        ServiceRow(
            service_id=_id(201),
            project_id=BLOG,
            environment_id=_id(3),
            name="ghost",
            type=ServiceType.WEB,
            state=RunState.PAUSED,
            port=2368,
            replicas=1,
        ),
    )
    deployments = (
        DeploymentRow(
            deployment_id=_id(1001),
            service_id=_id(101),
            version=6,
            image=f"registry.digitalocean.com/starform/shop-storefront@{DIGEST}",
        ),
        DeploymentRow(
            deployment_id=_id(1000),
            service_id=_id(101),
            version=5,
            image=f"registry.digitalocean.com/starform/shop-storefront@sha256:{'3e' * 32}",
        ),
        DeploymentRow(
            deployment_id=_id(1002),
            service_id=_id(102),
            version=3,
            image=f"registry.digitalocean.com/starform/shop-orders:v3@{DIGEST}",
            command=("/app/orders",),
            args=("--listen", ":9090"),
        ),
        DeploymentRow(
            deployment_id=_id(1003),
            service_id=_id(103),
            version=1,
            image=f"registry.digitalocean.com/starform/shop-mailer@{DIGEST}",
        ),
        DeploymentRow(
            deployment_id=_id(1004),
            service_id=_id(104),
            version=2,
            image=f"registry.digitalocean.com/starform/shop-reports@{DIGEST}",
            command=("python", "-m", "reports.nightly"),
        ),
        DeploymentRow(
            deployment_id=_id(1005),
            service_id=_id(105),
            version=1,
            image=f"registry.digitalocean.com/starform/shop-storefront@{DIGEST}",
        ),
        DeploymentRow(
            deployment_id=_id(1006),
            service_id=_id(106),
            version=1,
            image=f"docker.io/getmeili/meilisearch:v1.8@{DIGEST}",
        ),
        DeploymentRow(
            deployment_id=_id(1007),
            service_id=_id(201),
            version=4,
            image=f"docker.io/library/ghost:5@{DIGEST}",
        ),
    )
    var_groups = (
        VarGroupRow(var_group_id=_id(501), project_id=SHOP, name="shared-config"),
        VarGroupRow(var_group_id=_id(502), project_id=SHOP, name="production-secrets", environment_id=_id(1)),
        VarGroupRow(var_group_id=_id(503), project_id=BLOG, name="ghost-mail"),
    )
    entries = (
        VarGroupEntryRow(var_group_id=_id(501), key="LOG_LEVEL", value=SecretValue("info")),
        VarGroupEntryRow(
            var_group_id=_id(501),
            key="DATABASE_URL",
            value=SecretValue("postgres://shop@db-staging/shop"),
        ),
        VarGroupEntryRow(
            var_group_id=_id(502),
            key="DATABASE_URL",
            value=SecretValue("postgres://shop:example-only@db-prod/shop"),
        ),
        VarGroupEntryRow(
            var_group_id=_id(502), key="STRIPE_API_KEY", value=SecretValue("sk_test_example_only")
        ),
        VarGroupEntryRow(var_group_id=_id(503), key="MAIL_TRANSPORT", value=SecretValue("SMTP")),
    )
    attachments = (
        ServiceVarGroupRow(service_id=_id(101), var_group_id=_id(501), attach_order=0),
        ServiceVarGroupRow(service_id=_id(101), var_group_id=_id(502), attach_order=1),
        ServiceVarGroupRow(service_id=_id(102), var_group_id=_id(502), attach_order=0),
        ServiceVarGroupRow(service_id=_id(103), var_group_id=_id(501), attach_order=0),
        ServiceVarGroupRow(service_id=_id(104), var_group_id=_id(501), attach_order=0),
        ServiceVarGroupRow(service_id=_id(104), var_group_id=_id(502), attach_order=10),
        ServiceVarGroupRow(service_id=_id(105), var_group_id=_id(501), attach_order=0),
        ServiceVarGroupRow(service_id=_id(201), var_group_id=_id(503), attach_order=0),
    )
    volumes = (
        VolumeRow(
            volume_id=_id(701),
            service_id=_id(106),
            name="index",
            mount_path="/meili_data",
            size="10Gi",
        ),
        VolumeRow(
            volume_id=_id(702),
            service_id=_id(201),
            name="content",
            mount_path="/var/lib/ghost/content",
            size="5Gi",
        ),
    )
    hostnames = (
        HostnameRow(service_id=_id(101), hostname="shop.example.com"),
        HostnameRow(service_id=_id(101), hostname="www.shop.example.com"),
        HostnameRow(service_id=_id(105), hostname="pr-128.shop.starform.app"),
        HostnameRow(service_id=_id(201), hostname="blog.example.org"),
    )
    return ClusterRows(
        cluster=cluster,
        projects=projects,
        environments=environments,
        services=services,
        deployments=deployments,
        var_groups=var_groups,
        var_group_entries=entries,
        service_var_groups=attachments,
        volumes=volumes,
        hostnames=hostnames,
    )


def example_payload() -> DesiredState:
    """The example desired state, built from :func:`example_rows`."""
    return build_payload(example_rows(), checksum_key=EXAMPLE_CHECKSUM_KEY)
