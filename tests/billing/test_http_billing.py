"""Billing over HTTP: the agent's usage endpoint, the Owner/Billing views, price sheets, bad input."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from tests.starbase.world import World, build_world, ok, register_cluster

from starform_core.billing import MAX_SAMPLES, BillingMonth
from starform_testkit.starbase import RunningStarbase, running_starbase


@pytest.fixture(scope="module")
def starbase(pg_server: str) -> Iterator[RunningStarbase]:
    """Starbase with billing on its defaults (PostgreSQL audit trail, no payment provider)."""
    with running_starbase(server_url=pg_server) as running:
        yield running


@pytest.fixture(scope="module")
def client(starbase: RunningStarbase) -> Iterator[httpx.Client]:
    """An HTTP client for the module's Starbase."""
    with httpx.Client(base_url=starbase.base_url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    """A workspace with a pro project, a staging and a production web service."""
    return build_world(starbase, client)


def _now_window(offset_minutes: int = 0) -> dict[str, str]:
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=offset_minutes)
    return {"start": (end - dt.timedelta(seconds=60)).isoformat(), "end": end.isoformat()}


def _pod(
    world: World, *, service: str | None = None, environment: str = "staging", **extra: Any
) -> dict[str, Any]:
    return {
        "uid": str(uuid.uuid4()),
        "workspace_id": world.workspace_id,
        "project_id": world.project_id,
        "environment": environment,
        "service_id": service or world.web_id,
        "phase": "Running",
        "cpu": "500m",
        "memory": "1Gi",
        **extra,
    }


def _post(
    client: httpx.Client, world: World, body: dict[str, Any], *, token: str | None = None
) -> httpx.Response:
    return client.post(
        f"/v1/clusters/{world.cluster_id}/usage-snapshots",
        json=body,
        headers={"Authorization": f"Bearer {token or world.agent_token}"},
    )


def test_a_snapshot_is_billed_once_and_its_retry_is_a_no_op(client: httpx.Client, world: World) -> None:
    pod = _pod(world)
    volume = {**_pod(world), "phase": "Bound", "storage": "10Gi"}
    del volume["cpu"], volume["memory"]
    body = {
        "snapshot_id": f"{world.cluster_id}:1",
        "window": _now_window(),
        "pods": [pod],
        "volumes": [volume],
    }
    first = ok(_post(client, world, body), 201)
    assert first == {
        "snapshot_id": body["snapshot_id"],
        "duplicate": False,
        "samples": 2,
        "billed": 2,
        "rejected": [],
    }
    again = ok(_post(client, world, body), 200)
    assert again["duplicate"] is True and again["billed"] == 2
    changed = {**body, "pods": [{**pod, "cpu": "2"}]}
    conflict = _post(client, world, changed)
    assert conflict.status_code == 409 and "other content" in conflict.json()["detail"]


def test_samples_of_other_tenants_are_refused_and_listed(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    other_cluster, _ = register_cluster(starbase, client, world.operator)
    auth = starbase.auth(world.owner)
    elsewhere = ok(
        client.post(
            f"/v1/workspaces/{world.workspace_id}/projects",
            headers=auth,
            json={"name": f"elsewhere-{uuid.uuid4().hex[:6]}", "cluster_id": other_cluster, "tier": "hobby"},
        ),
        201,
    )
    body = {
        "snapshot_id": f"tenancy-{uuid.uuid4().hex}",
        "window": _now_window(),
        "pods": [
            _pod(world),
            {**_pod(world), "project_id": elsewhere["id"]},
            _pod(world, environment="production"),
        ],
    }
    answer = ok(_post(client, world, body), 201)
    assert answer["billed"] == 1
    assert [(r["list"], r["index"], r["reason"]) for r in answer["rejected"]] == [
        ("pods", 1, "project_not_on_cluster"),
        ("pods", 2, "service_mismatch"),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pods": [{"cpu": "lots"}]}, "pods[0].cpu"),
        ({"pods": [{"memory": "-1Gi"}]}, "pods[0].memory"),
        ({"pods": [{"phase": "Exploded"}]}, "pods[0].phase"),
        ({"pods": [{"uid": "not-a-uid"}]}, "pods[0].uid"),
        ({"pods": [{"environment": "x" * 31}]}, "pods[0].environment"),
        ({"pods": [{"running_since": "2026-11-01T00:00:00"}]}, "pods[0].running_since"),
        ({"window": {"start": "2026-11-30T10:00:00Z", "end": "2026-11-30T10:06:00Z"}}, "window"),
        ({"window": "future"}, "window.end"),
        ({"window": "ancient"}, "window.end"),
        ({"snapshot_id": "has spaces"}, "snapshot_id"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_snapshots_are_refused_naming_the_field(
    client: httpx.Client, world: World, change: dict[str, Any], field: str
) -> None:
    body: dict[str, Any] = {
        "snapshot_id": f"bad-{uuid.uuid4().hex}",
        "window": _now_window(),
        "pods": [_pod(world)],
    }
    if "pods" in change:
        body["pods"] = [{**body["pods"][0], **change["pods"][0]}]
    elif change.get("window") == "future":
        body["window"] = _now_window(offset_minutes=-30)
    elif change.get("window") == "ancient":
        body["window"] = _now_window(offset_minutes=60 * 24 * 40)
    else:
        body.update(change)
    answer = _post(client, world, body)
    assert answer.status_code == 422, answer.text
    assert field in [d["field"] for d in answer.json()["detail"]], answer.json()


def test_a_uid_twice_and_too_many_samples_are_refused(client: httpx.Client, world: World) -> None:
    pod = _pod(world)
    twice = _post(client, world, {"snapshot_id": "twice", "window": _now_window(), "pods": [pod, pod]})
    assert twice.status_code == 422 and twice.json()["detail"][0]["field"] == "pods[1].uid"
    many = [_pod(world) for _ in range(MAX_SAMPLES + 1)]
    too_many = _post(client, world, {"snapshot_id": "many", "window": _now_window(), "pods": many})
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["field"] == "pods"


def test_only_the_clusters_own_agent_may_report(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    body = {"snapshot_id": "auth", "window": _now_window(), "pods": []}
    assert _post(client, world, body, token=world.owner).status_code == 404
    _, other_token = register_cluster(starbase, client, world.operator)
    assert _post(client, world, body, token=other_token).status_code == 404
    missing = client.post(f"/v1/clusters/{world.cluster_id}/usage-snapshots", json=body)
    assert missing.status_code == 401


def test_usage_and_invoices_are_for_the_owner_and_billing_roles_only(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    tag = uuid.uuid4().hex[:6]
    roles = {
        role: starbase.user_token(f"{role}-{tag}@example.com") for role in ("billing", "admin", "member")
    }
    for role in roles:
        ok(
            client.put(
                f"/v1/workspaces/{world.workspace_id}/members",
                headers=starbase.auth(world.owner),
                json={"email": f"{role}-{tag}@example.com", "role": role},
            ),
            204,
        )
    outsider = starbase.user_token(f"outsider-{tag}@example.com")
    for path in ("billing/usage", "invoices"):
        url = f"/v1/workspaces/{world.workspace_id}/{path}"
        assert client.get(url, headers=starbase.auth(world.owner)).status_code == 200
        assert client.get(url, headers=starbase.auth(roles["billing"])).status_code == 200
        assert client.get(url, headers=starbase.auth(roles["admin"])).status_code == 403
        assert client.get(url, headers=starbase.auth(roles["member"])).status_code == 403
        assert client.get(url, headers=starbase.auth(outsider)).status_code == 404
    code = client.get(f"/v1/projects/{world.project_id}", headers=starbase.auth(roles["billing"]))
    assert code.status_code == 404  # Billing sees money, not code


def test_usage_so_far_is_priced_like_the_invoice(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    month = BillingMonth.of(dt.datetime.now(dt.UTC))
    # A window just ahead of now (within the allowed clock skew), so it is all after the project's creation.
    body = {
        "snapshot_id": f"usage-{uuid.uuid4().hex}",
        "window": _now_window(offset_minutes=-1),
        "pods": [_pod(world)],
    }
    ok(_post(client, world, body), 201)
    usage = ok(
        client.get(f"/v1/workspaces/{world.workspace_id}/billing/usage", headers=starbase.auth(world.owner))
    )
    assert usage["month"] == str(month) and usage["currency"] == "usd" and usage["price_sheet"] == "2026-01"
    kinds = [line["kind"] for line in usage["lines"]]
    assert kinds[0] == "plan_fee" and "usage" in kinds
    assert sum(line["amount_minor"] for line in usage["lines"]) == usage["total_minor"]
    vcpu = [line for line in usage["lines"] if line["resource"] == "vcpu"]
    assert vcpu and all(line["unit"] == "vCPU-minute" and line["unit_price"] == "0.000440" for line in vcpu)
    bad = client.get(
        f"/v1/workspaces/{world.workspace_id}/billing/usage",
        params={"month": "2026-13"},
        headers=starbase.auth(world.owner),
    )
    assert bad.status_code == 422


def test_invoices_list_and_detail(starbase: RunningStarbase, client: httpx.Client, world: World) -> None:
    billing = starbase.starbase.billing
    assert billing is not None
    previous = BillingMonth.of(dt.datetime.now(dt.UTC)).previous()
    with psycopg.connect(
        starbase.starbase.database_url, autocommit=True
    ) as conn:  # the project existed last month
        conn.execute(
            "UPDATE billing_plan_periods SET during = tstzrange(%s, upper(during)) WHERE project_id = %s",
            (previous.start, world.project_id),
        )
    invoice = billing.close.close(world.workspace_id, previous)
    assert invoice is not None and invoice.total_minor == 2000  # the pro plan's fee
    auth = starbase.auth(world.owner)
    listed = ok(client.get(f"/v1/workspaces/{world.workspace_id}/invoices", headers=auth))["invoices"]
    assert [(i["id"], i["month"], i["status"], i["lines"]) for i in listed] == [
        (invoice.invoice_id, str(previous), "draft", [])
    ]
    detail = ok(
        client.get(f"/v1/workspaces/{world.workspace_id}/invoices/{invoice.invoice_id}", headers=auth)
    )
    assert detail["total_minor"] == invoice.total_minor and len(detail["lines"]) == len(invoice.lines)
    other = ok(client.post("/v1/workspaces", headers=auth, json={"name": "other"}), 201)
    hidden = client.get(f"/v1/workspaces/{other['id']}/invoices/{invoice.invoice_id}", headers=auth)
    assert hidden.status_code == 404


def test_price_sheets_are_public_to_users_and_webhooks_need_a_provider(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    sheets = ok(client.get("/v1/billing/price-sheets", headers=starbase.auth(world.owner)))
    assert sheets[0]["version"] == "2026-01" and sheets[0]["tiers"]["hobby"]["build_minute"] == "0.05"
    assert client.get("/v1/billing/price-sheets").status_code == 401
    hook = client.post("/v1/billing/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=x"})
    assert hook.status_code == 404


@pytest.mark.parametrize(
    ("raw", "status", "says"),
    [
        (b'{"snapshot_id": "dup", "snapshot_id": "dup2", "window": %s}', 400, "repeats a key"),
        (b'{"snapshot_id": "nan", "window": %s, "agent": NaN}', 400, "NaN is not a JSON number"),
        (b'{"snapshot_id": "deep", "window": %s, "agent": ' + b"[" * 100 + b"]" * 100 + b"}", 400, "nested"),
        (b'{"snapshot_id": "cut", "window": %s', 400, "not valid JSON"),
        (b'{"snapshot_id": "s\\ud800", "window": %s}', 422, "surrogate"),
    ],
)
def test_the_snapshot_route_applies_the_body_guards_rules(
    client: httpx.Client, world: World, raw: bytes, status: int, says: str
) -> None:
    """The guard leaves this route's JSON to it (one compiled decode): the same answers."""
    window = json.dumps(_now_window()).encode()
    answer = client.post(
        f"/v1/clusters/{world.cluster_id}/usage-snapshots",
        content=raw % window,
        headers={"Authorization": f"Bearer {world.agent_token}", "Content-Type": "application/json"},
    )
    assert answer.status_code == status, answer.text
    assert says in json.dumps(answer.json()["detail"])


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"", "application/json", 422),
        (b'{"snapshot_id": "typed", "window": {}}', "text/plain", 422),
        (b'{"snapshot_id": "untyped", "window": {}}', None, 422),
        (b'{"snapshot_id": "untyped", "snapshot_id": "again"}', None, 400),
    ],
)
def test_a_body_fastapi_would_not_read_as_json_is_answered_as_before(
    client: httpx.Client, world: World, content: bytes, content_type: str | None, status: int
) -> None:
    """Empty, or not declared JSON: 422 at ``body`` (an undeclared body is still checked by
    the body guard's rules first)."""
    headers = {"Authorization": f"Bearer {world.agent_token}"}
    if content_type:
        headers["Content-Type"] = content_type
    answer = client.post(f"/v1/clusters/{world.cluster_id}/usage-snapshots", content=content, headers=headers)
    assert answer.status_code == status, answer.text
    if status == 422:
        assert answer.json()["detail"][0]["loc"] == ["body"]
