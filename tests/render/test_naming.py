"""Naming rules: fixed patterns, truncation with a stable hash, clash-free allocation, routes."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies.payloads import environment_names, service_names

from starform_core.errors import ValidationError
from starform_core.render import RouteIdentity, parse_route_name, route_name
from starform_core.render.naming import (
    CRONJOB_NAME_MAX,
    NAME_MAX,
    allocate_service_names,
    fit_name,
    namespace_name,
    var_group_secret_name,
)

PROJECT = "7d9a6f52-3c1e-4e0b-8f7a-1a2b3c4d5e6f"
SERVICE = "00000000-0000-4000-8000-000000000101"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_namespace_and_secret_names_are_prefixed_hex() -> None:
    assert namespace_name(PROJECT) == "sf-7d9a6f523c1e4e0b8f7a1a2b3c4d5e6f"
    assert var_group_secret_name(SERVICE) == "vg-00000000000040008000000000000101"


def test_route_name_is_positional_hex_and_environment() -> None:
    name = route_name(PROJECT, SERVICE, "pr-128")
    assert name == "7d9a6f523c1e4e0b8f7a1a2b3c4d5e6f00000000000040008000000000000101-pr-128"
    assert parse_route_name(name) == RouteIdentity(
        project_id=PROJECT, service_id=SERVICE, environment="pr-128"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "storefront-production",
        "7d9a6f523c1e4e0b8f7a1a2b3c4d5e6f00000000000040008000000000000101",
        "7d9a6f523c1e4e0b8f7a1a2b3c4d5e6f00000000000040008000000000000101-",
        "7D9A6F523C1E4E0B8F7A1A2B3C4D5E6F00000000000040008000000000000101-prod",
        "7d9a6f523c1e4e0b8f7a1a2b3c4d5e6f0000000000004000800000000000010-prod",
        "7d9a6f523c1e4e0b8f7a1a2b3c4d5e6f00000000000040008000000000000101-Prod",
        "7d9a6f523c1e4e0b8f7a1a2b3c4d5e6f00000000000040008000000000000101-" + "a" * 31,
    ],
)
def test_parse_route_name_rejects_non_route_names(bad: str) -> None:
    with pytest.raises(ValidationError):
        parse_route_name(bad)


def test_fit_name_keeps_short_names_and_hashes_long_ones() -> None:
    assert fit_name("short", limit=52) == "short"
    long = "x" * 32 + "-" + "y" * 30
    cut = fit_name(long, limit=CRONJOB_NAME_MAX)
    assert len(cut) == CRONJOB_NAME_MAX
    assert cut.startswith("x" * 32 + "-" + "y" * 10)
    assert re.fullmatch(r".*-[0-9a-f]{8}", cut)
    assert fit_name(long, limit=CRONJOB_NAME_MAX) == cut  # stable
    assert fit_name(long[:-1] + "z", limit=CRONJOB_NAME_MAX) != cut


def test_fit_name_never_leaves_a_double_hyphen_at_the_cut() -> None:
    name = "a" * 42 + "-" + "b" * 20  # the cut falls right after the hyphen
    cut = fit_name(name, limit=CRONJOB_NAME_MAX)
    assert "--" not in cut
    assert _DNS_LABEL.match(cut)


def test_clashing_service_names_are_disambiguated_by_service_id() -> None:
    one, two = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    names = allocate_service_names([(one, "a-b", "c", ()), (two, "a", "b-c", ())])
    assert names[one].base != names[two].base
    assert names[one].base.startswith("a-b-c-")
    alone = allocate_service_names([(one, "a-b", "c", ())])
    assert alone[one].base == "a-b-c"


def test_clashing_claim_names_are_disambiguated() -> None:
    one, two = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    names = allocate_service_names([(one, "a", "b", ("c-d",)), (two, "a-b", "c", ("d",))])
    # bases differ (a-b vs a-b-c) but "<base>-<volume>" would both be a-b-c-d
    assert names[one].claim("c-d") != names[two].claim("d")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            service_names,
            environment_names,
            st.lists(service_names.filter(lambda n: len(n) <= 30), max_size=3, unique=True),
        ),
        max_size=6,
    )
)
def test_allocated_names_are_unique_valid_and_short(
    specs: list[tuple[str, str, list[str]]],
) -> None:
    services = []
    seen: set[tuple[str, str]] = set()
    for index, (name, env, volumes) in enumerate(specs):
        if (env, name) not in seen:  # a project has one service per name and environment
            seen.add((env, name))
            services.append((str(uuid.UUID(int=index + 1)), name, env, tuple(volumes)))
    names = allocate_service_names(services)
    bases = [n.base for n in names.values()]
    crons = [n.cronjob for n in names.values()]
    claims = [claim for n in names.values() for _, claim in n.claims]
    for values, limit in ((bases, NAME_MAX), (crons, CRONJOB_NAME_MAX), (claims, NAME_MAX)):
        assert len(set(values)) == len(values)
        for value in values:
            assert len(value) <= limit
            assert _DNS_LABEL.match(value), value
    naturals = [f"{name}-{env}" for _, name, env, _ in services]
    for service_id, name, env, _ in services:
        natural = f"{name}-{env}"
        if naturals.count(natural) == 1:
            assert names[service_id].base == natural
        else:
            assert re.fullmatch(r".*-[0-9a-f]{8}", names[service_id].base)


@settings(max_examples=300, deadline=None)
@given(st.uuids(), st.uuids(), environment_names)
def test_route_names_round_trip(project: uuid.UUID, service: uuid.UUID, env: str) -> None:
    name = route_name(str(project), str(service), env)
    assert parse_route_name(name) == RouteIdentity(
        project_id=str(project), service_id=str(service), environment=env
    )
    assert len(name) <= 253
