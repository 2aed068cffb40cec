"""Domain rules of the core values: each names the field and the reason."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from starform_core.errors import ValidationError
from starform_core.model import Autoscaling, Environment, Probe, ProbeKind, Resources, Volume
from starform_core.model.workload import CronSchedule, DriftPolicy, Release
from starform_core.payload import build_payload, example_rows
from starform_core.quantity import parse_quantity, quantities_equal
from starform_core.secrets_values import SecretValue, keyed_checksum

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("name", ["production", "pr-128", "a", "0", "x" * 30])
def test_valid_environment_names(name: str) -> None:
    assert Environment(name=name).name == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("x" * 31, "at most 30"),
        ("Prod", "RFC 1123"),
        ("-prod", "RFC 1123"),
        ("prod-", "RFC 1123"),
        ("", "RFC 1123"),
        ("pr_1", "RFC 1123"),
    ],
)
def test_invalid_environment_names_name_the_field(name: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Environment(name=name)
    assert caught.value.field == "name"
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    "image",
    ["nginx:latest", "registry.example.com/app", f"registry.example.com/app:{DIGEST}", f"App/Upper@{DIGEST}"],
)
def test_images_must_be_pinned_by_digest(image: str) -> None:
    with pytest.raises(ValidationError, match="pinned by digest"):
        Release(version=1, image=image)


def test_release_accepts_registry_port_tag_and_digest() -> None:
    release = Release(
        version=3, image=f"registry.example.com:5000/team/app:v1.2@{DIGEST}", command=["/bin/app"]
    )
    assert release.command == ("/bin/app",)


def test_limits_cannot_be_below_requests() -> None:
    with pytest.raises(ValidationError) as caught:
        Resources(cpu_request="500m", memory_request="1Gi", cpu_limit="250m")
    assert caught.value.field == "cpu_limit"
    assert (
        Resources(cpu_request="1000m", memory_request="1Gi", cpu_limit="1", memory_limit="1024Mi").cpu_limit
        == "1"
    )


def test_autoscaling_needs_a_target_and_ordered_bounds() -> None:
    with pytest.raises(ValidationError, match="CPU or a memory target"):
        Autoscaling(min_replicas=1, max_replicas=3)
    with pytest.raises(ValidationError) as caught:
        Autoscaling(min_replicas=4, max_replicas=3, target_cpu_percent=50)
    assert caught.value.field == "max_replicas"


def test_probe_rules() -> None:
    with pytest.raises(ValidationError) as caught:
        Probe(kind=ProbeKind.HTTP, port=8080)
    assert caught.value.field == "path"
    with pytest.raises(ValidationError):
        Probe(kind=ProbeKind.TCP, port=8080, path="/x")
    with pytest.raises(ValidationError) as port_error:
        Probe(kind=ProbeKind.TCP, port=0)
    assert port_error.value.field == "port"


@pytest.mark.parametrize("schedule", ["0 3 * * *", "*/5 * * * *", "@hourly", "0 0 1 JAN MON"])
def test_cron_schedules(schedule: str) -> None:
    assert CronSchedule(schedule=schedule).time_zone == "UTC"


@pytest.mark.parametrize("schedule", ["", "* * *", "every day", " 0 3 * * *"])
def test_bad_cron_schedules(schedule: str) -> None:
    with pytest.raises(ValidationError):
        CronSchedule(schedule=schedule)


def test_volume_and_drift_rules() -> None:
    with pytest.raises(ValidationError):
        Volume(name="data", mount_path="relative/path", size="1Gi")
    with pytest.raises(ValidationError):
        Volume(name="data", mount_path="/data", size="0")
    with pytest.raises(ValidationError):
        DriftPolicy(ignore_fields=("spec.replicas",))
    assert DriftPolicy(ignore_fields=["Deployment:/spec/replicas"]).ignore_fields == (
        "Deployment:/spec/replicas",
    )


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("1000m", "1"),
        ("1Gi", "1073741824"),
        ("1Gi", "1024Mi"),
        ("0.5", "500m"),
        ("1e3", "1k"),
        ("129e6", "129M"),
    ],
)
def test_equivalent_quantities(left: str, right: str) -> None:
    assert quantities_equal(left, right)


def test_quantities_are_exact() -> None:
    assert parse_quantity("1.5Gi") == Decimal(1610612736)
    assert parse_quantity("100m") == Decimal("0.1")
    assert not quantities_equal("1Gi", "1G")
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity("1 Gi")


def test_secret_values_never_print() -> None:
    secret = SecretValue("hunter2-very-secret")
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret]), repr({"k": secret})):
        assert "hunter2" not in shown
    assert secret.reveal() == "hunter2-very-secret"


def test_keyed_checksum_depends_on_key_and_content_and_frames_items() -> None:
    key = b"k" * 32
    base = keyed_checksum(key, [("A", SecretValue("1")), ("B", SecretValue("2"))])
    assert base == keyed_checksum(key, [("B", SecretValue("2")), ("A", SecretValue("1"))])
    assert base != keyed_checksum(b"j" * 32, [("A", SecretValue("1")), ("B", SecretValue("2"))])
    assert base != keyed_checksum(key, [("A", SecretValue("1")), ("B", SecretValue("3"))])
    assert keyed_checksum(key, [("AB", SecretValue("C"))]) != keyed_checksum(key, [("A", SecretValue("BC"))])
    with pytest.raises(ValueError, match="at least 16"):
        keyed_checksum(b"short", [])


def test_inconsistent_rows_name_where_the_problem_is() -> None:
    rows = example_rows()
    broken = attrs.evolve(rows, services=(attrs.evolve(rows.services[0], port=None), *rows.services[1:]))
    with pytest.raises(ValidationError) as caught:
        build_payload(broken, checksum_key=b"x" * 32)
    assert caught.value.field == f"services[{rows.services[0].service_id}].port"


def test_a_secret_never_appears_in_a_build_error() -> None:
    rows = example_rows()
    entry = rows.var_group_entries[0]
    bad = attrs.evolve(entry, key="not a valid key")
    broken = attrs.evolve(rows, var_group_entries=(bad, *rows.var_group_entries[1:]))
    with pytest.raises(ValidationError) as caught:
        build_payload(broken, checksum_key=b"x" * 32)
    assert entry.value.reveal() not in str(caught.value)
    assert caught.value.field.endswith(".entries")
    assert "environment variable name" in caught.value.reason


def test_services_whose_object_names_would_collide_are_refused() -> None:
    rows = example_rows()
    shop = rows.projects[0].project_id
    envs = (
        *rows.environments,
        attrs.evolve(rows.environments[0], environment_id="00000000-0000-4000-8000-000000000091", name="b-c"),
        attrs.evolve(rows.environments[0], environment_id="00000000-0000-4000-8000-000000000092", name="c"),
    )
    first = attrs.evolve(
        rows.services[3],
        service_id="00000000-0000-4000-8000-000000000911",
        name="a",
        environment_id="00000000-0000-4000-8000-000000000091",
        project_id=shop,
    )
    second = attrs.evolve(
        first,
        service_id="00000000-0000-4000-8000-000000000912",
        name="a-b",
        environment_id="00000000-0000-4000-8000-000000000092",
    )
    with pytest.raises(ValidationError) as caught:
        build_payload(
            attrs.evolve(rows, environments=envs, services=(*rows.services, first, second)),
            checksum_key=b"x" * 32,
        )
    assert "a-b-c" in caught.value.reason
    assert caught.value.field.endswith(".name")


@pytest.mark.parametrize(
    ("cidrs", "field"),
    [
        (["10.0.0.1/8"], "egress_allow[0]"),
        (["not-a-network"], "egress_allow[0]"),
        (["10.1.0.0/16", "0.0.0.0/0"], "egress_allow[1]"),
    ],
)
def test_egress_allow_takes_private_networks_in_cidr_form(cidrs: list[str], field: str) -> None:
    rows = example_rows()
    with pytest.raises(ValidationError) as caught:
        build_payload(
            attrs.evolve(rows, cluster=attrs.evolve(rows.cluster, egress_allow=cidrs)), checksum_key=b"x" * 32
        )
    assert caught.value.field.endswith(field)


def test_egress_allow_is_canonical() -> None:
    rows = example_rows()
    cluster = attrs.evolve(rows.cluster, egress_allow=["fd12:3456::/32", "10.110.0.0/20", "10.110.0.0/20"])
    document = build_payload(attrs.evolve(rows, cluster=cluster), checksum_key=b"x" * 32)
    assert document.cluster.egress_allow == ("10.110.0.0/20", "fd12:3456::/32")


def test_the_payload_runs_the_release_the_rows_carry_and_refuses_a_second_one_for_a_service() -> None:
    """The store chooses each service's current release (one SQL query); the builder does not
    choose again: two rows for one service are an error naming the service, whatever their versions."""
    rows = example_rows()
    first = rows.deployments[0]
    payload = build_payload(rows, checksum_key=b"k" * 32)
    (service,) = [s for p in payload.projects for s in p.services if s.service_id == first.service_id]
    assert service.release is not None
    assert (service.release.version, service.release.image) == (first.version, first.image)
    for version in (first.version - 1, first.version + 1):
        other = attrs.evolve(first, deployment_id="00000000-0000-4000-8000-00000000ffff", version=version)
        with pytest.raises(ValidationError) as raised:
            build_payload(attrs.evolve(rows, deployments=(*rows.deployments, other)), checksum_key=b"k" * 32)
        assert raised.value.field == f"deployments[{first.service_id}]"
        assert "both given as the service's current release" in raised.value.reason
