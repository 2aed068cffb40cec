"""Rate quotas (§39.2 #5): per user, per scoped token, per agent, deploys per service; 429 with
Retry-After; the limiter port's contract in process and on a real redis-server shared by two
Starbase processes."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from tests.starbase.logbuffer import LOG_BUFFER
from tests.starbase.world import IMAGE, build_world, ok

from starform_adapters.postgres import VarCipher
from starform_adapters.ratelimit import LimitsRateLimiter
from starform_apps.starbase.logs import configure_logging
from starform_apps.starbase.quotas import Quota
from starform_apps.starbase.server import ServerThread, open_starbase
from starform_apps.starbase.tokens import hash_token, mint_user_token
from starform_core.access import Actor
from starform_core.errors import RateLimitBackendError
from starform_core.ports.ratelimit import RateLimit
from starform_testkit.postgres import fresh_database
from starform_testkit.redis_server import redis_server
from starform_testkit.starbase import UNLIMITED, RunningStarbase, running_starbase


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest, redis_url: str) -> LimitsRateLimiter:
    return LimitsRateLimiter("memory://" if request.param == "memory" else redis_url)


def test_limiter_contract(limiter: LimitsRateLimiter) -> None:
    key, limit = f"k-{uuid.uuid4()}", RateLimit(3, 60)
    decisions = [limiter.hit(key, limit) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert 0 < decisions[3].retry_after_seconds <= 60
    assert limiter.hit(f"other-{uuid.uuid4()}", limit).allowed, "keys are independent"
    limiter.reset(key, limit)
    assert limiter.hit(key, limit).allowed


def test_a_dead_backend_raises_the_projects_error() -> None:
    with redis_server() as url:
        pass  # started and stopped: the port is now closed
    with pytest.raises(RateLimitBackendError):
        LimitsRateLimiter(url).hit("k", RateLimit(1, 60))


def _limited(**limits: RateLimit) -> dict[Quota, RateLimit]:
    return {Quota(name): limit for name, limit in limits.items()}


@pytest.fixture(scope="module")
def strict(pg_server: str) -> Iterator[RunningStarbase]:
    with running_starbase(
        server_url=pg_server,
        rate_limits=_limited(user=RateLimit(8, 60), token=RateLimit(3, 60), agent=RateLimit(4, 60)),
    ) as sb:
        yield sb


def _exhaust(client: httpx.Client, path: str, headers: dict[str, str], limit: int) -> httpx.Response:
    for _ in range(limit):
        answer = client.get(path, headers=headers)
        assert answer.status_code != 429, answer.text
    return client.get(path, headers=headers)


def test_users_tokens_and_agents_have_their_own_budgets(strict: RunningStarbase) -> None:
    with httpx.Client(base_url=strict.base_url, timeout=30) as client:
        owner = strict.user_token(f"u-{uuid.uuid4().hex[:6]}@example.com", operator=True)
        body = ok(client.post("/v1/workspaces", headers=strict.auth(owner), json={"name": "w"}), 201)
        refused = _exhaust(client, f"/v1/workspaces/{body['id']}", strict.auth(owner), 7)
        assert refused.status_code == 429, refused.text
        retry = int(refused.headers["retry-after"])
        assert 1 <= retry <= 60
        assert "8 per 60 s" in refused.json()["detail"]
        other = strict.user_token(f"v-{uuid.uuid4().hex[:6]}@example.com")
        assert client.get("/v1/workspaces", headers=strict.auth(other)).status_code == 200
        second_token = strict.user_token(strict.starbase.store.authenticate(hash_token(owner)).user.email)
        assert client.get("/v1/workspaces", headers=strict.auth(second_token)).status_code == 429, (
            "the quota is the user's, across all of the user's unscoped tokens"
        )
    assert strict.starbase.metrics.rate_limited.labels(quota="user")._value.get() >= 2


def test_a_refused_request_writes_nothing(strict: RunningStarbase) -> None:
    with httpx.Client(base_url=strict.base_url, timeout=30) as client:
        token = strict.user_token(f"w-{uuid.uuid4().hex[:6]}@example.com")
        user_id = strict.starbase.store.authenticate(hash_token(token)).user.user_id
        _exhaust(client, "/v1/workspaces", strict.auth(token), 8)
        refused = client.post("/v1/workspaces", headers=strict.auth(token), json={"name": "late"})
        assert refused.status_code == 429
        assert strict.starbase.store.list_workspaces(user_id) == []


def test_agents_are_on_their_own_budget(strict: RunningStarbase) -> None:
    cluster_id, agent = strict.register_cluster()
    with httpx.Client(base_url=strict.base_url, timeout=30) as client:
        path = f"/v1/clusters/{cluster_id}/desired-state"
        refused = _exhaust(client, path, strict.auth(agent), 4)
        assert refused.status_code == 429
        assert "agent" in refused.json()["detail"]
        person = strict.user_token(f"p-{uuid.uuid4().hex[:6]}@example.com")
        assert client.get(f"/v1/clusters/{cluster_id}", headers=strict.auth(person)).status_code == 200


def test_deploys_are_limited_per_service(pg_server: str) -> None:
    with (
        running_starbase(server_url=pg_server, rate_limits=_limited(deploy=RateLimit(2, 60))) as sb,
        httpx.Client(base_url=sb.base_url, timeout=30) as client,
    ):
        world = build_world(sb, client)
        path = f"/v1/services/{world.web_id}/deployments"
        owner = world.h(world.owner)
        for _ in range(2):
            ok(client.post(path, headers=owner, json={"image": IMAGE}), 201)
        third = client.post(path, headers=owner, json={"image": IMAGE})
        assert third.status_code == 429
        assert "deploys of this service" in third.json()["detail"]
        assert "retry-after" in third.headers
        rollback = client.post(f"/v1/services/{world.web_id}/rollback", headers=owner, json={"version": 1})
        assert rollback.status_code == 429, "rollbacks share the service's deploy budget"
        assert len(ok(client.get(path, headers=owner))) == 2
        other = client.post(
            f"/v1/services/{world.prod_web_id}/deployments", headers=owner, json={"image": IMAGE}
        )
        assert other.status_code == 201


def test_scoped_tokens_have_their_own_budget(strict: RunningStarbase) -> None:
    with httpx.Client(base_url=strict.base_url, timeout=30) as client:
        world = build_world(strict, client)
        scoped = ok(
            client.post(
                "/v1/tokens",
                headers=world.h(world.owner),
                json={"name": "ci", "project_id": world.project_id, "role": "viewer"},
            ),
            201,
        )
        ci = {"Authorization": f"Bearer {scoped['secret']}"}
        refused = _exhaust(client, f"/v1/projects/{world.project_id}", ci, 3)
        assert refused.status_code == 429
        assert "this token" in refused.json()["detail"]


def test_the_redis_backend_shares_one_budget_across_two_starbase_processes(
    pg_server: str, redis_url: str
) -> None:
    """Two Starbase apps (as two processes would be) on one database and one Redis."""
    key = VarCipher.from_base64(base64.b64encode(os.urandom(32)).decode())
    limits = {**UNLIMITED, Quota.USER: RateLimit(6, 60)}
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database(pg_server, prefix="ratelimit"))
        bases = []
        for _ in range(2):
            sb = stack.enter_context(
                open_starbase(
                    url, key, pool_max_size=2, rate_limiter=LimitsRateLimiter(redis_url), rate_limits=limits
                )
            )
            thread = ServerThread(sb.app)
            bases.append(thread.start())
            stack.callback(thread.stop)
        token = mint_user_token(sb.store, sb.store, "shared@example.com", actor=Actor(label="test"))
        headers = {"Authorization": f"Bearer {token}"}
        answers = [
            httpx.get(f"{bases[i % 2]}/v1/workspaces", headers=headers, timeout=30).status_code
            for i in range(8)
        ]
    assert answers == [200] * 6 + [429, 429]


def test_a_redis_outage_lets_requests_through_with_a_warning(pg_server: str) -> None:
    with redis_server() as dead:
        pass
    configure_logging("info", stream=LOG_BUFFER)
    start = len(LOG_BUFFER.getvalue())
    with (
        running_starbase(server_url=pg_server, rate_limiter=LimitsRateLimiter(dead)) as sb,
        httpx.Client(base_url=sb.base_url, timeout=30) as client,
    ):
        token = sb.user_token("outage@example.com")
        assert client.get("/v1/workspaces", headers=sb.auth(token)).status_code == 200
        assert sb.starbase.metrics.rate_limit_errors._value.get() >= 1
    lines = [json.loads(line) for line in LOG_BUFFER.getvalue()[start:].splitlines() if line.strip()]
    assert any(line.get("level") == "warning" and "rate-limit backend" in line["event"] for line in lines)
