"""The tier check (starform_core.render.tier_fit) against the objects the tier renders to.

The property: a service the check accepts renders to a pod and claims that the namespace's own
rendered LimitRange and ResourceQuota admit (judged the way the API server's LimitRanger and quota
admission do, on exact quantities), and a service it refuses renders to something they refuse.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from starform_core.errors import TierLimitError, ValidationError
from starform_core.model.enums import Tier
from starform_core.model.workload import Resources, Volume
from starform_core.payload.document import DesiredState
from starform_core.payload.example import example_payload
from starform_core.quantity import parse_quantity
from starform_core.render import render
from starform_core.render.tier_fit import (
    ServiceFootprint,
    check_claims_fit,
    check_project_fits,
    check_service_fits,
)
from starform_core.render.tiers import TIER_LIMITS

_EXAMPLE = example_payload()
_SHOP = next(p for p in _EXAMPLE.projects if p.name == "Shop")
_MAILER = next(s for s in _SHOP.services if s.name == "mailer")


def _footprint(cpu: str = "100m", memory: str = "128Mi", **kwargs: Any) -> ServiceFootprint:
    volumes = tuple(
        Volume(name=name, mount_path=f"/{name}", size=size)
        for name, size in kwargs.pop("volumes", {}).items()
    )
    return ServiceFootprint(
        name="web", resources=Resources(cpu_request=cpu, memory_request=memory, **kwargs), volumes=volumes
    )


# --- examples: what is refused, and how the refusal reads ---------------------------------------


@pytest.mark.parametrize(
    ("footprint", "field", "words"),
    [
        (_footprint(cpu_limit="1001m"), "cpu_limit", ["1001m", "free", "per-container cpu maximum of 1"]),
        (_footprint(cpu="2"), "cpu_request", ["2 is above", "free", "maximum of 1", "service web"]),
        (_footprint(memory="1025Mi"), "memory_request", ["1025Mi", "memory maximum of 1Gi"]),
        (_footprint(memory_limit="2Gi"), "memory_limit", ["2Gi", "maximum of 1Gi"]),
        (_footprint(volumes={"data": "6Gi"}), "volumes.data.size", ["6Gi", "per-volume maximum of 5Gi"]),
    ],
)
def test_a_service_over_a_free_tier_cap_is_refused_naming_field_value_and_cap(
    footprint: ServiceFootprint, field: str, words: list[str]
) -> None:
    with pytest.raises(TierLimitError) as refused:
        check_service_fits(Tier.FREE, footprint)
    assert refused.value.field == field
    for word in words:
        assert word in refused.value.reason
    assert isinstance(refused.value, ValidationError)


@pytest.mark.parametrize(
    "footprint",
    [
        _footprint(cpu="1", memory="1Gi"),
        _footprint(cpu="1000m", memory="1073741824", cpu_limit="1", memory_limit="1024Mi"),
        _footprint(cpu="0.5", memory="1e9", volumes={"data": "5Gi"}),
    ],
)
def test_a_service_at_the_caps_in_any_spelling_fits(footprint: ServiceFootprint) -> None:
    check_service_fits(Tier.FREE, footprint)


def test_the_same_service_fits_a_larger_tier() -> None:
    big = _footprint(cpu="2", memory="4Gi", volumes={"data": "50Gi"})
    with pytest.raises(TierLimitError):
        check_service_fits(Tier.FREE, big)
    for tier in (Tier.HOBBY, Tier.PRO, Tier.ENTERPRISE):
        check_service_fits(tier, big)


def test_the_claims_of_a_project_are_counted_and_summed_against_the_quota() -> None:
    check_claims_fit(Tier.FREE, ["2Gi", "3Gi"])
    with pytest.raises(TierLimitError, match="3 volumes, above the free tier's quota of 2") as counted:
        check_claims_fit(Tier.FREE, ["1Gi", "1Gi", "1Gi"])
    assert counted.value.field == "volumes"
    with pytest.raises(
        TierLimitError, match="would total 5121Mi, above the free tier's storage quota of 5Gi"
    ):
        check_claims_fit(Tier.FREE, ["4Gi", "1025Mi"])


def test_a_project_fits_only_when_every_service_and_the_claims_do() -> None:
    small = _footprint(volumes={"a": "1Gi"})
    check_project_fits(Tier.FREE, [small, small])
    with pytest.raises(TierLimitError, match="quota of 2"):
        check_project_fits(Tier.FREE, [small, small, small])
    with pytest.raises(TierLimitError) as refused:
        check_project_fits(Tier.FREE, [small, _footprint(cpu="3")])
    assert refused.value.field == "cpu_request"


# --- the property: the check agrees with the rendered LimitRange and ResourceQuota --------------


def _spelled(unit: str, amount: int) -> str:
    return f"{amount}{unit}"


def _quantities(units: list[tuple[str, int]], caps: list[str]) -> st.SearchStrategy[str]:
    """Quantities in several spellings, around the tiers' caps (and the caps themselves)."""
    spelled = st.one_of(
        *[
            st.integers(min_value=1, max_value=top).map(functools.partial(_spelled, unit))
            for unit, top in units
        ]
    )
    return st.one_of(spelled, st.sampled_from(sorted(set(caps))))


_CAPS = list(TIER_LIMITS.values())
_CPU = _quantities([("m", 40_000), ("", 40), ("u", 40_000_000)], [t.container_max_cpu for t in _CAPS])
_MEMORY = _quantities(
    [("Mi", 140_000), ("Gi", 140), ("M", 150_000), ("G", 150), ("e9", 150)],
    [t.container_max_memory for t in _CAPS],
)
_STORAGE = _quantities(
    [("Gi", 2_500), ("Ti", 3), ("G", 2_500), ("Mi", 2_500_000)],
    [t.claim_max_storage for t in _CAPS] + [t.requests_storage for t in _CAPS],
)


def _request_and_limit(draw: st.DrawFn, quantities: st.SearchStrategy[str]) -> tuple[str, str | None]:
    """A request, and a limit not below it (or none)."""
    low, high = sorted((draw(quantities), draw(quantities)), key=parse_quantity)
    return low, draw(st.sampled_from([None, high]))


@st.composite
def _resources(draw: st.DrawFn) -> Resources:
    cpu, cpu_limit = _request_and_limit(draw, _CPU)
    memory, memory_limit = _request_and_limit(draw, _MEMORY)
    return Resources(cpu_request=cpu, memory_request=memory, cpu_limit=cpu_limit, memory_limit=memory_limit)


_VOLUMES = st.lists(_STORAGE, max_size=4).map(
    lambda sizes: tuple(Volume(name=f"v{i}", mount_path=f"/v{i}", size=s) for i, s in enumerate(sizes))
)


def _payload(tier: Tier, resources: Resources, volumes: tuple[Volume, ...]) -> DesiredState:
    service = attrs.evolve(_MAILER, resources=resources, volumes=volumes)
    project = attrs.evolve(_SHOP, tier=tier, services=(service,))
    return attrs.evolve(_EXAMPLE, projects=(project,))


def _one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind]
    return found


def _container_admitted(limit_range: dict[str, Any], container: dict[str, Any]) -> bool:
    """The LimitRanger's Container rules: defaults filled in, then request <= limit <= max."""
    [rule] = [r for r in limit_range["spec"]["limits"] if r["type"] == "Container"]
    given_requests = container["resources"].get("requests", {})
    given_limits = container["resources"].get("limits", {})
    for resource, cap in rule["max"].items():
        limit = parse_quantity(given_limits.get(resource, rule["default"][resource]))
        request = parse_quantity(given_requests.get(resource, rule["defaultRequest"][resource]))
        if request > limit or limit > parse_quantity(cap) or request > parse_quantity(cap):
            return False
    return True


def _claims_admitted(
    limit_range: dict[str, Any], quota: dict[str, Any], claims: list[dict[str, Any]]
) -> bool:
    """The LimitRanger's claim rule (storage <= max) and the quota's claim count and storage total."""
    [rule] = [r for r in limit_range["spec"]["limits"] if r["type"] == "PersistentVolumeClaim"]
    sizes = [parse_quantity(c["spec"]["resources"]["requests"]["storage"]) for c in claims]
    hard = quota["spec"]["hard"]
    return (
        all(size <= parse_quantity(rule["max"]["storage"]) for size in sizes)
        and len(sizes) <= int(hard["persistentvolumeclaims"])
        and sum(sizes, Decimal(0)) <= parse_quantity(hard["requests.storage"])
    )


def _admitted(payload: DesiredState) -> bool:
    objects = [dict(o) for o in render(payload).objects]
    limit_range, quota = _one(objects, "LimitRange"), _one(objects, "ResourceQuota")
    [container] = _one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    claims = [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    return _container_admitted(limit_range, container) and _claims_admitted(limit_range, quota, claims)


@settings(max_examples=300, deadline=None)
@given(tier=st.sampled_from(list(Tier)), resources=_resources(), volumes=_VOLUMES)
def test_the_check_accepts_exactly_what_the_rendered_limit_range_and_quota_admit(
    tier: Tier, resources: Resources, volumes: tuple[Volume, ...]
) -> None:
    payload = _payload(tier, resources, volumes)
    [(_, service)] = list(payload.services())
    footprint = ServiceFootprint.of(service)
    try:
        check_project_fits(tier, [footprint])
    except TierLimitError:
        accepted = False
    else:
        accepted = True
    event("accepted" if accepted else "refused")
    assert accepted == _admitted(payload)
