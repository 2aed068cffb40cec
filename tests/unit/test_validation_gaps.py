"""The core model refuses what Kubernetes (or common sense) would: issue 12's validation gaps.

Each table pairs a constructor with a value that must pass and values that must not; every
refusal is a :class:`ValidationError` naming the field, never a crash and never the value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from starform_core.errors import ValidationError
from starform_core.model import (
    Autoscaling,
    CronSchedule,
    DriftPolicy,
    Environment,
    GatewayRef,
    LoadBalancerSettings,
    ObjectRef,
    Probe,
    Project,
    Release,
    Resources,
    Service,
    TenantKey,
    VarGroup,
    Volume,
)
from starform_core.model.networks import check_egress_network
from starform_core.model.vargroup import check_var_key
from starform_core.payload import example_payload
from starform_core.secrets_values import SecretValue
from starform_core.validation import check_hostname

DIGEST = "@sha256:" + "4f" * 32
UUID = "00000000-0000-4000-8000-000000000001"
CHECKSUM = "a" * 64


def _cluster(**changes: Any) -> Any:
    return attrs.evolve(example_payload().cluster, **changes)


def _service(**changes: Any) -> Service:
    service = next(s for _, s in example_payload().services() if s.type.value == "web")
    return attrs.evolve(service, **changes)


def _group(**changes: Any) -> VarGroup:
    fields = {"var_group_id": UUID, "name": "shared", "checksum": CHECKSUM, "entries": {}, **changes}
    return VarGroup(**fields)


def _probe(**changes: Any) -> Probe:
    return Probe(**{"kind": "http", "port": 8080, "path": "/healthz", **changes})


def _target(**changes: Any) -> ObjectRef:
    return ObjectRef(
        **{"api_version": "v1", "kind": "Service", "name": "envoy", "namespace": "gw", **changes}
    )


Make = Callable[[Any], object]
FIELDS: list[tuple[str, Make, Any]] = [
    ("environment name", lambda v: Environment(name=v), "production"),
    ("tenant workspace_id", lambda v: TenantKey(v, UUID, "prod", UUID), UUID),
    ("tenant environment", lambda v: TenantKey(UUID, UUID, v, UUID), "prod"),
    ("service name", lambda v: _service(name=v), "storefront"),
    ("hostname", lambda v: _service(hostnames=(v,)), "shop.example.com"),
    ("hostname check", lambda v: check_hostname("hostname", v), "shop.example.com"),
    ("cpu_request", lambda v: Resources(cpu_request=v, memory_request="1Gi"), "100m"),
    ("memory_request", lambda v: Resources(cpu_request="1", memory_request=v), "128Mi"),
    ("cpu_limit", lambda v: Resources(cpu_request="1", memory_request="1Gi", cpu_limit=v), "2"),
    ("memory_limit", lambda v: Resources(cpu_request="1", memory_request="1Gi", memory_limit=v), "2Gi"),
    ("volume name", lambda v: Volume(name=v, mount_path="/data", size="1Gi"), "data"),
    ("volume mount_path", lambda v: Volume(name="data", mount_path=v, size="1Gi"), "/data"),
    ("volume size", lambda v: Volume(name="data", mount_path="/data", size=v), "10Gi"),
    ("probe path", lambda v: _probe(path=v), "/healthz"),
    ("probe grpc_service", lambda v: _probe(kind="grpc", path=None, grpc_service=v), "orders.v1.Orders"),
    ("cron schedule", lambda v: CronSchedule(schedule=v), "30 2 * * *"),
    ("cron macro", lambda v: CronSchedule(schedule=v), "@daily"),
    ("cron time_zone", lambda v: CronSchedule(schedule="@daily", time_zone=v), "UTC"),
    ("release image", lambda v: Release(version=1, image=v), "registry.example.com/shop/web" + DIGEST),
    ("drift ignore_fields", lambda v: DriftPolicy(ignore_fields=(v,)), "Deployment:/spec/replicas"),
    ("var key", lambda v: check_var_key("key", v), "DATABASE_URL"),
    ("var group entries key", lambda v: _group(entries={v: SecretValue("x")}), "DATABASE_URL"),
    ("var group checksum", lambda v: _group(checksum=v), CHECKSUM),
    ("var group environment", lambda v: _group(environment=v), "production"),
    ("var group name", lambda v: _group(name=v), "shared"),
    ("project name", lambda v: Project(project_id=UUID, workspace_id=UUID, name=v, tier="pro"), "Shop"),
    ("cluster name", lambda v: _cluster(name=v), "fra1-prod-1"),
    ("cluster region", lambda v: _cluster(region=v), "fra1"),
    ("storage_class", lambda v: _cluster(storage_class=v), "do-block-storage"),
    ("metrics_namespace", lambda v: _cluster(metrics_namespace=v), "monitoring"),
    ("gateway namespace", lambda v: GatewayRef(namespace=v, name="gw"), "envoy-gateway-system"),
    ("gateway name", lambda v: GatewayRef(namespace="gw", name=v), "starform-gateway"),
    ("gateway section_name", lambda v: GatewayRef(namespace="gw", name="gw", section_name=v), "https"),
    ("lb target namespace", lambda v: _target(namespace=v), "envoy-gateway-system"),
    ("lb target name", lambda v: _target(name=v), "envoy"),
    ("lb target kind", lambda v: _target(kind=v), "Service"),
    ("lb target api_version", lambda v: _target(api_version=v), "v1"),
    (
        "lb annotation",
        lambda v: LoadBalancerSettings(target=_target(), size_unit=2, annotation=v),
        "service.beta.kubernetes.io/do-loadbalancer-size-unit",
    ),
    ("egress network", lambda v: check_egress_network("egress_allow[0]", v), "10.110.0.0/20"),
]


@pytest.mark.parametrize(("make", "good"), [(m, g) for _, m, g in FIELDS], ids=[n for n, _, _ in FIELDS])
def test_no_field_takes_a_trailing_newline(make: Make, good: Any) -> None:
    make(good)
    with pytest.raises(ValidationError) as caught:
        make(good + "\n")
    assert "\n" not in str(caught.value), "the reason never quotes the value"


@pytest.mark.parametrize(
    ("make", "good"),
    [(m, g) for n, m, g in FIELDS if not n.startswith(("var", "egress", "hostname check"))],
    ids=[n for n, _, _ in FIELDS if not n.startswith(("var", "egress", "hostname check"))],
)
def test_no_field_takes_a_value_of_another_type(make: Make, good: Any) -> None:
    for wrong in (5, True, None, [good], {"value": good}):
        if wrong is None and good in OPTIONAL:
            continue  # None is these fields' "unset"
        with pytest.raises(ValidationError):
            make(wrong)


OPTIONAL = frozenset({"https", "monitoring", "envoy-gateway-system", "orders.v1.Orders", "2", "2Gi"})


CRON_REFUSED = [
    "99 99 99 99 99",
    "a b c d e",
    "*/0 * * * *",
    "5-1 * * * *",
    "* * * * MON-FOO",
    "60 * * * *",
    "0 24 * * *",
    "0 0 0 * *",
    "0 0 * 13 *",
    "0 0 * * 7",  # the CronJob controller has no 7 for Sunday
    "0 0 L * *",
    "0 0 * * 5L",
    "0 0 LW * *",
    "0 0 * * 1#2",
    "0 0 31 2 *",  # never fires
    "* * * * * *",
    "* * * *",
    "@every 1h",
    "@DAILY",
    "@reboot",
    "TZ=UTC 0 0 * * *",
    "CRON_TZ=UTC 0 0 * * *",
    " 0 0 * * *",
    "0 0 * * * ",
    "0 0 * * *\n",
    "0\n0 * * *",
    "1,,2 * * * *",
    "*/ * * * *",
    "1-2-3 * * * *",
    "",
]
CRON_ACCEPTED = [
    "30 2 * * *",
    "*/15 9-17 * * MON-FRI",
    "0 0 ? * *",
    "0 0 1 jan *",
    "0 0 * * sun",
    "0 0 * * 0-6",
    "5/10 * * * *",
    "0 0 29 2 *",
    "0\t0 * * *",
    "0 0 1,15 * *",
    *sorted(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]),
]


@pytest.mark.parametrize("schedule", CRON_REFUSED)
def test_cron_schedules_the_cronjob_controller_refuses_are_refused(schedule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CronSchedule(schedule=schedule)
    assert caught.value.field == "schedule"


@pytest.mark.parametrize("schedule", CRON_ACCEPTED)
def test_cron_schedules_of_the_cronjob_dialect_are_accepted(schedule: str) -> None:
    assert CronSchedule(schedule=schedule).schedule == schedule


@pytest.mark.parametrize(
    "zone",
    [
        "Mars/Olympus",
        "UTC\n",
        "Local",
        "localtime",
        "europe/berlin",
        "../etc/passwd",
        "/etc/localtime",
        " UTC",
    ],
)
def test_time_zones_outside_the_tz_database_are_refused(zone: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CronSchedule(schedule="@daily", time_zone=zone)
    assert caught.value.field == "time_zone"


@pytest.mark.parametrize(
    "zone", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "Asia/Kolkata"]
)
def test_time_zones_of_the_tz_database_are_accepted(zone: str) -> None:
    assert CronSchedule(schedule="@daily", time_zone=zone).time_zone == zone


@pytest.mark.parametrize(
    "quantity",
    [
        "1e999999",
        "1e9999999999",
        "9" * 20 + "E",
        "8Ei",
        "0.5n",
        "0",
        "-1",
        "100m\n",
        " 1",
        "1ki",
        "Gi",
        "1.2.3",
        "1e",
    ],
)
def test_quantities_outside_the_kubernetes_grammar_or_bounds_are_refused(quantity: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Resources(cpu_request=quantity, memory_request="1Gi")
    assert caught.value.field == "cpu_request"


@pytest.mark.parametrize("quantity", ["100m", "1", "1.5", "1e3", "0.001", "500M", "7Ei", "1n", "+2"])
def test_quantities_inside_the_bounds_are_accepted(quantity: str) -> None:
    assert Resources(cpu_request=quantity, memory_request="8Ei" if False else "1Gi").cpu_request == quantity


@pytest.mark.parametrize(
    "image",
    [
        "registry.example.com:99999/shop/web" + DIGEST,
        "registry.example.com:0/shop/web" + DIGEST,
        "registry.example.com/" + "a" * 5000 + DIGEST,
        "registry.example.com/" + "/".join(["abcdefghij"] * 24) + DIGEST,  # a 263-character name
        "registry.example.com/Shop/web" + DIGEST,
        "registry.example.com/shop/web:latest",
        "registry.example.com/shop/web:" + "t" * 129 + DIGEST,
        "registry.example.com/shop//web" + DIGEST,
        "registry.example.com/shop/web" + DIGEST + "\n",
        "registry.example.com/shop/web@sha256:" + "4F" * 32,
    ],
)
def test_images_outside_the_oci_grammar_and_limits_are_refused(image: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Release(version=1, image=image)
    assert caught.value.field == "image"


@pytest.mark.parametrize(
    "image",
    [
        "registry.example.com:5000/shop/web:v1.2" + DIGEST,
        "registry.example.com:65535/shop/web" + DIGEST,
        "localhost/web" + DIGEST,
        "[::1]:5000/web" + DIGEST,
        "docker.io/library/ghost:5" + DIGEST,
        "Registry.Example.com/shop/my__app-x.y" + DIGEST,
        "registry.example.com/" + "/".join(["abcdefghij"] * 21) + DIGEST,  # a 251-character name
    ],
)
def test_images_of_the_oci_grammar_are_accepted(image: str) -> None:
    assert Release(version=1, image=image).image == image


@pytest.mark.parametrize(
    "cidr",
    [
        "169.254.169.254/32",
        "169.254.0.0/16",
        "169.0.0.0/8",  # contains the metadata address
        "127.0.0.1/32",
        "0.0.0.0/8",
        "0.0.0.0/0",
        "224.0.0.0/4",
        "255.255.255.255/32",
        "100.100.100.200/32",
        "fe80::/64",
        "::1/128",
        "::/128",
        "::ffff:a9fe:a9fe/128",
        "fd00:ec2::254/128",
        "fd00::/8",  # contains the IPv6 metadata address
        "10.0.0.1/8",  # host bits
        "10.0.0.0",  # no prefix length
        "10.0.0.0/33",
        "10.0.0.0/8\n",
        "not-a-network",
    ],
)
def test_egress_networks_that_reach_the_node_or_the_cloud_are_refused(cidr: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _cluster(egress_allow=[cidr])
    assert caught.value.field == "egress_allow[0]"


@pytest.mark.parametrize(
    "cidr", ["10.110.0.0/20", "172.16.0.0/12", "192.168.1.0/24", "100.64.0.0/16", "fd12:3456::/32"]
)
def test_private_egress_networks_are_accepted(cidr: str) -> None:
    assert _cluster(egress_allow=[cidr]).egress_allow == (cidr,)


STRICT: list[tuple[str, Callable[[], object]]] = [
    ("replicas true", lambda: _service(replicas=True)),
    ("replicas '3'", lambda: _service(replicas="3")),
    ("port '8080'", lambda: _service(port="8080")),
    ("port 80.0", lambda: _service(port=80.0)),
    ("public 'no'", lambda: _service(public="no")),
    ("public 1", lambda: _service(public=1)),
    ("hostnames a string", lambda: _service(hostnames="shop.example.com")),
    ("type 5", lambda: _service(type=5)),
    ("type 'WEB'", lambda: _service(type="WEB")),
    ("state None", lambda: _service(state=None)),
    ("resources a dict", lambda: _service(resources={"cpu_request": "1"})),
    ("probes a dict", lambda: _service(probes={})),
    ("volumes a string", lambda: _service(volumes="data")),
    ("command a string", lambda: Release(version=1, image="r.io/x" + DIGEST, command="ls -l")),
    ("command of numbers", lambda: Release(version=1, image="r.io/x" + DIGEST, command=[1, 2])),
    ("args of 101 items", lambda: Release(version=1, image="r.io/x" + DIGEST, args=["a"] * 101)),
    ("version true", lambda: Release(version=True, image="r.io/x" + DIGEST)),
    ("is_ephemeral 1", lambda: Environment(name="pr-1", is_ephemeral=1)),
    ("protected 'true'", lambda: Environment(name="pr-1", protected="true")),
    ("tier 'Pro'", lambda: Project(project_id=UUID, workspace_id=UUID, name="Shop", tier="Pro")),
    (
        "environments a string",
        lambda: Project(project_id=UUID, workspace_id=UUID, name="S", tier="pro", environments="x"),
    ),
    ("release_held 'yes'", lambda: attrs.evolve(_cluster().prune, release_held="yes")),
    ("ignore_fields a string", lambda: DriftPolicy(ignore_fields="Deployment:/spec/replicas")),
    ("drift mode 'Enforce'", lambda: DriftPolicy(mode="Enforce")),
    ("autoscaling min 1.0", lambda: Autoscaling(min_replicas=1.0, max_replicas=2, target_cpu_percent=50)),
    ("entries a string", lambda: _group(entries="KEY=value")),
    ("entries with a plain value", lambda: _group(entries={"KEY": "value"})),
    ("entries with a number key", lambda: _group(entries={5: SecretValue("x")})),
    ("gateway None", lambda: _cluster(gateway=None)),
]


@pytest.mark.parametrize("make", [m for _, m in STRICT], ids=[n for n, _ in STRICT])
def test_the_model_never_coerces_a_value_of_another_type(make: Callable[[], object]) -> None:
    with pytest.raises(ValidationError):
        make()


def test_reasons_never_quote_the_refused_value() -> None:
    probes = [
        (lambda: check_hostname("hostname", "Secret-Host.example.com"), "Secret-Host"),
        (lambda: Resources(cpu_request="lots-of-cpu", memory_request="1Gi"), "lots-of-cpu"),
        (lambda: CronSchedule(schedule="every-tuesday"), "every-tuesday"),
        (lambda: CronSchedule(schedule="@daily", time_zone="Secret/Zone"), "Secret/Zone"),
        (lambda: check_var_key("key", "NOT-A-KEY"), "NOT-A-KEY"),
        (lambda: check_egress_network("egress_allow[0]", "203.0.113.77/99"), "203.0.113.77"),
    ]
    for make, value in probes:
        with pytest.raises(ValidationError) as caught:
            make()
        assert value not in str(caught.value)
