"""Volume claims over HTTP: Shuttle's ``volumes`` (bound spans, capacity) billed by the metering
rule into GiB-time, each instant once through retries and overlapping windows, claims of projects
not pinned to the cluster refused, bad claims refused naming the field, and the month closed into
an invoice with its own volume line, rated exactly in GiB-months."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

import httpx
import psycopg
import pytest
from tests.starbase.world import World, build_world, ok, register_cluster

from starform_core.billing import BillingMonth
from starform_testkit.starbase import RunningStarbase, running_starbase

START = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
MONTH = BillingMonth(2026, 11)
TIB = 1 << 40
GIB = 1 << 30
US = 10**6


class Clock:
    """Starbase's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START + dt.timedelta(minutes=10)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def starbase(pg_server: str, clock: Clock) -> Iterator[RunningStarbase]:
    with running_starbase(server_url=pg_server, clock=clock) as running:
        yield running


@pytest.fixture(scope="module")
def client(starbase: RunningStarbase) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=starbase.base_url, timeout=30) as http:
        yield http


@pytest.fixture
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    """A pro project on its cluster, on its plan since the month began."""
    world = build_world(starbase, client)
    with psycopg.connect(starbase.starbase.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE billing_plan_periods SET during = tstzrange(%s, upper(during)) WHERE project_id = %s",
            (MONTH.start, world.project_id),
        )
    return world


def _at(seconds: float) -> str:
    return (START + dt.timedelta(seconds=seconds)).isoformat()


def _volume(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "uid": str(uuid.uuid4()),
        "workspace_id": world.workspace_id,
        "project_id": world.project_id,
        "environment": "staging",
        "service_id": world.web_id,
        "phase": "Bound",
        "storage": "10Gi",
        **extra,
    }


def _snapshot(world: World, start: float, end: float, volumes: list[dict[str, Any]], **extra: Any) -> Any:
    return {
        "snapshot_id": extra.pop("snapshot_id", f"{world.cluster_id}:{START.timestamp() + start:.0f}"),
        "window": {"start": _at(start), "end": _at(end)},
        "pods": [],
        "volumes": volumes,
        **extra,
    }


def _post(client: httpx.Client, world: World, body: dict[str, Any]) -> httpx.Response:
    return client.post(
        f"/v1/clusters/{world.cluster_id}/usage-snapshots",
        json=body,
        headers={"Authorization": f"Bearer {world.agent_token}"},
    )


def test_claims_bill_their_bound_time_once_and_close_into_an_exact_volume_line(
    starbase: RunningStarbase, client: httpx.Client, world: World, clock: Clock
) -> None:
    big = _volume(world, storage="1000Ti")
    small = _volume(world, storage=str(2 * GIB))
    first = _snapshot(world, 0, 60, [big, {**small, "bound_since": _at(15)}])
    second = _snapshot(world, 60, 120, [big, {**small, "bound_until": _at(90)}])
    overlapping = _snapshot(world, 30, 90, [big, small], snapshot_id="overlap")  # Shuttle's clock jumped
    for body, status in ((first, 201), (second, 201), (first, 200), (overlapping, 201)):
        answer = ok(_post(client, world, body), status)
        assert answer["rejected"] == [] and answer["duplicate"] is (status == 200)
    billing = starbase.starbase.billing
    assert billing is not None
    totals = billing.ledger.usage_totals(world.workspace_id, MONTH)
    (quantities,) = totals.values()
    assert quantities.volume_us == (120 + 75) * US, "each claim-instant once"
    assert quantities.storage_byte_us == 1000 * TIB * 120 * US + 2 * GIB * 75 * US
    assert quantities.pod_us == 0
    clock.now = MONTH.end + dt.timedelta(minutes=5)
    invoice = billing.close.close(world.workspace_id, MONTH)
    assert invoice is not None
    volume_lines = [
        line for line in invoice.lines if line.resource is not None and line.resource.value == "volume"
    ]
    assert len(volume_lines) == 1, invoice.lines
    line = volume_lines[0]
    month_us = 30 * 86_400 * US
    exact = Fraction(quantities.storage_byte_us, GIB * month_us)  # GiB-months
    cents = (Decimal(exact.numerator) * Decimal("15") / Decimal(exact.denominator)).quantize(
        Decimal(1), rounding=ROUND_HALF_EVEN
    )
    assert (line.unit, line.unit_price, line.service_id) == ("GiB-month", Decimal("0.15"), world.web_id)
    assert line.amount_minor == int(cents) == 711, "1000 TiB for 2 minutes of a 30-day month"
    assert line.quantity == Decimal(exact.numerator / exact.denominator).quantize(Decimal("0.000001"))
    assert sum(item.amount_minor for item in invoice.lines) == invoice.total_minor
    assert billing.close.close(world.workspace_id, MONTH) == invoice, "closing twice: one invoice"


def test_claims_of_projects_not_pinned_to_the_cluster_are_refused_and_listed(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    other_cluster, _ = register_cluster(starbase, client, world.operator)
    elsewhere = ok(
        client.post(
            f"/v1/workspaces/{world.workspace_id}/projects",
            headers=starbase.auth(world.owner),
            json={"name": f"elsewhere-{uuid.uuid4().hex[:6]}", "cluster_id": other_cluster, "tier": "hobby"},
        ),
        201,
    )
    body = _snapshot(
        world,
        0,
        60,
        [
            _volume(world),
            _volume(world, project_id=elsewhere["id"]),
            _volume(world, environment="production"),
        ],
        snapshot_id=f"tenancy-{uuid.uuid4().hex}",
    )
    answer = ok(_post(client, world, body), 201)
    assert answer["billed"] == 1
    assert [(r["list"], r["index"], r["reason"]) for r in answer["rejected"]] == [
        ("volumes", 1, "project_not_on_cluster"),
        ("volumes", 2, "service_mismatch"),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"storage": "lots"}, "volumes[0].storage"),
        ({"storage": "2Pi"}, "volumes[0].storage"),
        ({"phase": "Running"}, "volumes[0].phase"),
        ({"bound_since": _at(40), "bound_until": _at(20)}, "volumes[0].bound_until"),
        ({"bound_since": "2026-11-20T10:00:10"}, "volumes[0].bound_since"),
        ({"cpu": "1"}, "volumes[0].cpu"),
    ],
)
def test_bad_claims_are_refused_naming_the_field(
    client: httpx.Client, world: World, change: dict[str, Any], field: str
) -> None:
    body = _snapshot(world, 0, 60, [_volume(world, **change)], snapshot_id=f"bad-{uuid.uuid4().hex}")
    answer = _post(client, world, body)
    assert answer.status_code == 422, answer.text
    assert field in [d["field"] for d in answer.json()["detail"]], answer.json()
