"""What each service renders to, checked on the example payload and small variations of it."""

from __future__ import annotations

import base64
from typing import Any

import attrs
import pytest

from starform_core.kube import labels as kl
from starform_core.kube.ordering import sort_for_apply
from starform_core.model.enums import AccessMode, DriftMode, RunState
from starform_core.model.project import Environment
from starform_core.model.service import Service
from starform_core.model.workload import Volume
from starform_core.payload.document import DesiredState
from starform_core.payload.example import example_payload
from starform_core.render import Rendering, render
from starform_core.render.expose import MAX_ROUTE_HOSTNAMES

SHOP_NS = "sf-7d9a6f523c1e4e0b8f7a1a2b3c4d5e6f"
BLOG_NS = "sf-c4e1f0a29b8d4c7ea6f50d1e2f3a4b5c"


def _id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def find(rendering: Rendering, kind: str, name: str, namespace: str = SHOP_NS) -> dict[str, Any]:
    for obj in rendering.objects:
        meta = obj["metadata"]
        if obj["kind"] == kind and meta["name"] == name and meta.get("namespace") == namespace:
            return dict(obj)
    raise AssertionError(f"no {kind} {namespace}/{name}")


def kinds_of(rendering: Rendering, service_id: str) -> list[str]:
    return sorted(
        obj["kind"]
        for obj in rendering.objects
        if obj["metadata"]["labels"].get(kl.LABEL_SERVICE_ID) == service_id
    )


def with_service(payload: DesiredState, service_id: str, **changes: Any) -> DesiredState:
    projects = []
    for project in payload.projects:
        services = [attrs.evolve(s, **changes) if s.service_id == service_id else s for s in project.services]
        projects.append(attrs.evolve(project, services=services))
    return attrs.evolve(payload, projects=projects)


def service_of(payload: DesiredState, service_id: str) -> Service:
    (service,) = [s for _, s in payload.services() if s.service_id == service_id]
    return service


@pytest.fixture(scope="module")
def example() -> Rendering:
    return render(example_payload())


def container(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    template = spec["template"] if "template" in spec else spec["jobTemplate"]["spec"]["template"]
    (only,) = template["spec"]["containers"]
    return dict(only)


def test_objects_are_in_apply_order_and_plain_json(example: Rendering) -> None:
    assert list(example.objects) == sort_for_apply(example.objects)

    def plain(value: Any) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | int | bool)

    assert all(plain(obj) for obj in example.objects + example.partials)


def test_what_each_service_type_renders(example: Rendering) -> None:
    # public web with autoscaling and hostnames
    assert kinds_of(example, _id(101)) == [
        "Deployment",
        "HTTPRoute",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "Service",
        "ServiceAccount",
    ]
    # private web: no route, no gateway policy
    assert kinds_of(example, _id(102)) == ["Deployment", "Service", "ServiceAccount"]
    # worker without a port
    assert kinds_of(example, _id(103)) == ["Deployment", "ServiceAccount"]
    # cron
    assert kinds_of(example, _id(104)) == ["CronJob", "ServiceAccount"]
    # private worker with a port and a volume
    assert kinds_of(example, _id(106)) == [
        "Deployment",
        "PersistentVolumeClaim",
        "Service",
        "ServiceAccount",
    ]


def test_project_scoped_objects(example: Rendering) -> None:
    ns = find(example, "Namespace", SHOP_NS, namespace=None)  # type: ignore[arg-type]
    assert ns["metadata"]["labels"] == {
        kl.LABEL_MANAGED_BY: "shuttle",
        kl.LABEL_METADATA_NAME: SHOP_NS,
        kl.LABEL_POD_SECURITY_ENFORCE: "baseline",
        kl.LABEL_PROJECT_ID: "7d9a6f52-3c1e-4e0b-8f7a-1a2b3c4d5e6f",
        kl.LABEL_TIER: "pro",
        kl.LABEL_WORKSPACE_ID: "2f0c0b8e-6f1c-4a57-9d59-0b7c8a2f1e01",
    }
    quota = find(example, "ResourceQuota", "starform-tier", BLOG_NS)
    assert quota["spec"]["hard"]["pods"] == "50"  # hobby
    assert quota["spec"]["hard"]["services.loadbalancers"] == "0"
    limits = find(example, "LimitRange", "starform-tier")["spec"]["limits"][0]
    assert limits["default"] == limits["max"] == {"cpu": "8", "memory": "32Gi"}  # pro
    names = {o["metadata"]["name"] for o in example.objects if o["kind"] == "NetworkPolicy"}
    assert {"default-deny", "env-production", "env-pr-128"} <= names


def test_environment_policy_isolates_by_label(example: Rendering) -> None:
    policy = find(example, "NetworkPolicy", "env-production")
    spec = policy["spec"]
    own = {"podSelector": {"matchLabels": {kl.LABEL_ENVIRONMENT: "production"}}}
    assert spec["podSelector"] == own["podSelector"]
    assert spec["ingress"][0] == {"from": [own]}
    assert spec["egress"][0] == {"to": [own]}
    internet = spec["egress"][3]["to"][0]["ipBlock"]
    assert internet["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "169.254.0.0/16"} <= set(internet["except"])
    assert policy["metadata"]["labels"][kl.LABEL_ENVIRONMENT] == "production"
    deny = find(example, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_gateway_policy_admits_the_gateway_namespace_on_the_port(example: Rendering) -> None:
    spec = find(example, "NetworkPolicy", "storefront-production")["spec"]
    assert spec["podSelector"]["matchLabels"] == {
        kl.LABEL_ENVIRONMENT: "production",
        kl.LABEL_SERVICE_ID: _id(101),
    }
    (rule,) = spec["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {kl.LABEL_METADATA_NAME: "envoy-gateway-system"}}}
    ]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_var_group_secrets_hold_base64_data_and_env_labels(example: Rendering) -> None:
    shared = find(example, "Secret", "vg-00000000000040008000000000000501")
    assert base64.b64decode(shared["data"]["LOG_LEVEL"]) == b"info"
    assert kl.LABEL_ENVIRONMENT not in shared["metadata"]["labels"]
    assert shared["metadata"]["annotations"][kl.ANNOTATION_VAR_GROUP] == _id(501)
    scoped = find(example, "Secret", "vg-00000000000040008000000000000502")
    assert scoped["metadata"]["labels"][kl.LABEL_ENVIRONMENT] == "production"
    assert "stringData" not in scoped


def test_env_from_follows_attach_order_and_checksums_roll_pods(example: Rendering) -> None:
    deployment = find(example, "Deployment", "storefront-production")
    assert [e["secretRef"]["name"] for e in container(deployment)["envFrom"]] == [
        "vg-00000000000040008000000000000501",
        "vg-00000000000040008000000000000502",
    ]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    groups = {g.var_group_id: g for p in example_payload().projects for g in p.var_groups}
    assert annotations[f"checksum.starform.io/{_id(501)}"] == groups[_id(501)].checksum
    assert annotations[f"checksum.starform.io/{_id(502)}"] == groups[_id(502)].checksum
    assert annotations[kl.ANNOTATION_DEPLOYMENT_VERSION] == "6"
    assert annotations[kl.ANNOTATION_IMAGE].endswith("@sha256:" + "4f" * 32)


def test_deployment_shape(example: Rendering) -> None:
    web = find(example, "Deployment", "storefront-production")
    spec = web["spec"]
    assert "replicas" not in spec  # the HPA owns it
    assert spec["selector"]["matchLabels"] == {
        kl.LABEL_ENVIRONMENT: "production",
        kl.LABEL_SERVICE_ID: _id(101),
    }
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert spec["revisionHistoryLimit"] == 5
    assert spec["progressDeadlineSeconds"] == 600
    pod = spec["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["serviceAccountName"] == "storefront-production"
    app = container(web)
    assert app["startupProbe"]["failureThreshold"] == 30
    assert app["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8080, "scheme": "HTTP"}
    assert app["resources"] == {
        "limits": {"cpu": "1", "memory": "512Mi"},
        "requests": {"cpu": "250m", "memory": "256Mi"},
    }
    orders = container(find(example, "Deployment", "orders-api-production"))
    assert orders["command"] == ["/app/orders"]
    assert orders["args"] == ["--listen", ":9090"]
    assert orders["readinessProbe"]["grpc"] == {"port": 9090, "service": "orders.v1.Orders"}
    assert orders["livenessProbe"]["tcpSocket"] == {"port": 9090}
    assert find(example, "Deployment", "orders-api-production")["spec"]["replicas"] == 2


def test_web_service_without_probes_gets_a_tcp_readiness_probe(example: Rendering) -> None:
    app = container(find(example, "Deployment", "storefront-pr-128"))
    assert app["readinessProbe"]["tcpSocket"] == {"port": 8080}
    assert "livenessProbe" not in app
    worker = container(find(example, "Deployment", "search-production"))
    assert "readinessProbe" not in worker


def test_read_write_once_volume_means_recreate(example: Rendering) -> None:
    search = find(example, "Deployment", "search-production")
    assert search["spec"]["strategy"] == {"type": "Recreate"}
    pod = search["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "index", "persistentVolumeClaim": {"claimName": "search-production-index"}}
    ]
    payload = example_payload()
    (volume,) = service_of(payload, _id(106)).volumes
    shared = attrs.evolve(volume, access_mode=AccessMode.READ_WRITE_MANY)
    rolled = render(with_service(payload, _id(106), volumes=(shared,)))
    assert find(rolled, "Deployment", "search-production")["spec"]["strategy"]["type"] == ("RollingUpdate")


def test_pvc_shape_and_protection(example: Rendering) -> None:
    claim = find(example, "PersistentVolumeClaim", "ghost-staging-content", BLOG_NS)
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "do-block-storage",
        "volumeMode": "Filesystem",
    }
    assert claim["metadata"]["annotations"][kl.ANNOTATION_PRUNE_PROTECTION] == "volume"
    assert claim["metadata"]["labels"][kl.LABEL_VOLUME_NAME] == "content"


def test_paused_web_service_scales_to_zero_and_keeps_everything_else(example: Rendering) -> None:
    ghost = find(example, "Deployment", "ghost-staging", BLOG_NS)
    assert ghost["spec"]["replicas"] == 0
    assert kinds_of(example, _id(201)) == [
        "Deployment",
        "HTTPRoute",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "Service",
        "ServiceAccount",
    ]


def test_paused_autoscaled_service_has_no_hpa_and_zero_replicas() -> None:
    paused = render(with_service(example_payload(), _id(101), state=RunState.PAUSED))
    assert "HorizontalPodAutoscaler" not in kinds_of(paused, _id(101))
    assert find(paused, "Deployment", "storefront-production")["spec"]["replicas"] == 0
    assert "HTTPRoute" in kinds_of(paused, _id(101))


def test_paused_cron_is_suspended(example: Rendering) -> None:
    assert find(example, "CronJob", "nightly-report-production")["spec"]["suspend"] is False
    paused = render(with_service(example_payload(), _id(104), state=RunState.PAUSED))
    spec = find(paused, "CronJob", "nightly-report-production")["spec"]
    assert spec["suspend"] is True
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["timeZone"] == "Europe/Berlin"
    assert spec["schedule"] == "30 2 * * *"
    assert container(find(paused, "CronJob", "nightly-report-production"))["command"] == [
        "python",
        "-m",
        "reports.nightly",
    ]


def test_never_deployed_service_renders_only_identity_and_claims() -> None:
    undeployed = render(with_service(example_payload(), _id(106), release=None))
    assert kinds_of(undeployed, _id(106)) == ["PersistentVolumeClaim", "ServiceAccount"]


def test_long_cron_names_are_cut_with_a_stable_hash() -> None:
    payload = example_payload()
    long_env = "e" * 30
    projects = []
    for project in payload.projects:
        if project.project_id != "7d9a6f52-3c1e-4e0b-8f7a-1a2b3c4d5e6f":
            projects.append(project)
            continue
        services = [
            attrs.evolve(s, name="n" * 32, tenant=attrs.evolve(s.tenant, environment=long_env), var_groups=())
            if s.service_id == _id(104)
            else s
            for s in project.services
        ]
        environments = (*project.environments, Environment(name=long_env))
        projects.append(attrs.evolve(project, services=services, environments=environments))
    payload = attrs.evolve(payload, projects=projects)

    def cron_names() -> list[str]:
        return [o["metadata"]["name"] for o in render(payload).objects if o["kind"] == "CronJob"]

    (name,) = cron_names()
    assert len(name) == 52
    assert name.startswith("n" * 32 + "-" + "e" * 10)
    assert cron_names() == [name]
    sa_names = {o["metadata"]["name"] for o in render(payload).objects if o["kind"] == "ServiceAccount"}
    assert "n" * 32 + "-" + long_env in sa_names  # 63 characters: fits, not cut


def test_route_points_at_gateway_and_service(example: Rendering) -> None:
    route = find(
        example, "HTTPRoute", "7d9a6f523c1e4e0b8f7a1a2b3c4d5e6f00000000000040008000000000000101-production"
    )
    spec = route["spec"]
    assert spec["hostnames"] == ["shop.example.com", "www.shop.example.com"]
    assert spec["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "starform-gateway",
            "namespace": "envoy-gateway-system",
            "sectionName": "https",
        }
    ]
    (backend,) = spec["rules"][0]["backendRefs"]
    assert backend["name"] == "storefront-production"
    assert backend["port"] == 8080


def test_route_hostnames_are_capped_and_public_web_without_hostnames_is_not_routed() -> None:
    many = tuple(f"h{i:02d}.shop.example.com" for i in range(20))
    capped = render(with_service(example_payload(), _id(101), hostnames=many))
    (route,) = [
        o for o in capped.objects if o["kind"] == "HTTPRoute" and _id(101)[-3:] in o["metadata"]["name"]
    ]
    assert route["spec"]["hostnames"] == list(many[:MAX_ROUTE_HOSTNAMES])
    bare = render(with_service(example_payload(), _id(101), hostnames=()))
    assert "HTTPRoute" not in kinds_of(bare, _id(101))
    assert "NetworkPolicy" not in kinds_of(bare, _id(101))


def test_hpa_targets_and_cooldown(example: Rendering) -> None:
    spec = find(example, "HorizontalPodAutoscaler", "storefront-production")["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "storefront-production",
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in spec["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_load_balancer_partial_has_only_the_annotation(example: Rendering) -> None:
    assert example.partials == (
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "envoy-starform-gateway",
                "namespace": "envoy-gateway-system",
                "annotations": {"service.beta.kubernetes.io/do-loadbalancer-size-unit": "3"},
            },
        },
    )
    no_lb = attrs.evolve(
        example_payload(), cluster=attrs.evolve(example_payload().cluster, load_balancer=None)
    )
    assert render(no_lb).partials == ()


def test_drift_policies_and_warnings(example: Rendering) -> None:
    assert set(example.drift_policies) == {s.service_id for _, s in example_payload().services()}
    assert example.drift_policies[_id(103)].mode is DriftMode.DETECT
    conflicts = {(w.service_id, w.key): w for w in example.warnings}
    storefront = conflicts[(_id(101), "DATABASE_URL")]
    assert storefront.var_group_ids == (_id(501), _id(502))
    assert storefront.winner == _id(502)
    assert (_id(103), "DATABASE_URL") not in conflicts  # one group only


def test_service_scoped_labels_and_provenance(example: Rendering) -> None:
    deployment = find(example, "Deployment", "mailer-production")
    labels = deployment["metadata"]["labels"]
    assert set(kl.LOAD_BEARING_LABELS) | set(kl.OPERATIONAL_LABELS) <= set(labels)
    assert labels[kl.LABEL_OBSERVABILITY] == "true"
    assert labels[kl.LABEL_SERVICE_TYPE] == "worker"
    assert deployment["metadata"]["annotations"][kl.ANNOTATION_SOURCE] == (
        "9b2e7c1d-4a5f-4e8b-b0c9-d8e7f6a5b4c3"
    )
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert set(kl.LOAD_BEARING_LABELS) <= set(pod_labels)
    assert kl.LABEL_TIER not in pod_labels  # a plan change must not restart workloads
    assert kl.ANNOTATION_DESIRED_HASH not in deployment["metadata"]["annotations"]


def test_volume_rename_changes_only_that_claim() -> None:
    payload = example_payload()
    extra = Volume(name="cache", mount_path="/cache", size="1Gi")
    service = service_of(payload, _id(106))
    grown = render(with_service(payload, _id(106), volumes=(*service.volumes, extra)))
    claims = {o["metadata"]["name"] for o in grown.objects if o["kind"] == "PersistentVolumeClaim"}
    assert {"search-production-index", "search-production-cache"} <= claims


def test_only_objects_of_ephemeral_environments_carry_the_ephemeral_label() -> None:
    from starform_core.kube.labels import LABEL_ENVIRONMENT, LABEL_EPHEMERAL
    from starform_core.payload import example_payload
    from starform_core.render import render

    routes = [o for o in render(example_payload()).objects if o["kind"] == "HTTPRoute"]
    by_env = {o["metadata"]["labels"][LABEL_ENVIRONMENT]: o["metadata"]["labels"] for o in routes}
    assert by_env["pr-128"][LABEL_EPHEMERAL] == "true"
    assert LABEL_EPHEMERAL not in by_env["production"]
    for obj in render(example_payload()).objects:
        template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
        assert LABEL_EPHEMERAL not in (template.get("labels") or {}), "pod templates never carry it"


def test_private_networks_of_the_cluster_are_the_only_private_egress() -> None:
    import attrs

    from starform_core.payload import example_payload
    from starform_core.render import render

    document = example_payload()
    policies = [
        o
        for o in render(document).objects
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].startswith("env-")
    ]
    assert policies
    for policy in policies:
        blocks = [
            peer["ipBlock"] for rule in policy["spec"]["egress"] for peer in rule["to"] if "ipBlock" in peer
        ]
        assert {"cidr": "10.110.0.0/20"} in blocks
    closed = attrs.evolve(document, cluster=attrs.evolve(document.cluster, egress_allow=()))
    for policy in (o for o in render(closed).objects if o["kind"] == "NetworkPolicy"):
        blocks = [
            peer["ipBlock"]
            for rule in policy["spec"].get("egress", [])
            for peer in rule["to"]
            if "ipBlock" in peer
        ]
        assert all("except" in block for block in blocks), (
            "only the internet rules, which exclude private ranges"
        )


def test_the_metrics_agent_namespace_may_scrape_and_nothing_else_is_admitted() -> None:
    import attrs

    from starform_core.payload import example_payload
    from starform_core.render import render

    document = example_payload()
    scraper = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    envs = [
        o
        for o in render(document).objects
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].startswith("env-")
    ]
    assert envs
    assert all({"from": [scraper]} in p["spec"]["ingress"] for p in envs)
    closed = attrs.evolve(document, cluster=attrs.evolve(document.cluster, metrics_namespace=None))
    for policy in (o for o in render(closed).objects if o["kind"] == "NetworkPolicy"):
        peers = [peer for rule in policy["spec"].get("ingress", []) for peer in rule.get("from", [])]
        assert scraper not in peers
