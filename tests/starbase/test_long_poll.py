"""The desired-state long-poll over a real socket and real PostgreSQL (issue 14).

Changes are committed by other connections (plain psycopg, as another Starbase process would);
every wait is a condition with a deadline, never a sleep standing in for timing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import resource
import socket
import time
from collections.abc import Iterator

import httpx
import psutil
import psycopg
import pytest
from tests.envtest.waiting import wait_until
from tests.starbase.world import World, build_world, ok

from starform_testkit.starbase import RunningStarbase, running_starbase

DEADLINE = 20.0


@pytest.fixture(scope="module")
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    built = build_world(starbase, client)
    wait_until(
        lambda: _sample(starbase, "starbase_change_listener_connected") == 1,
        timeout=DEADLINE,
        message="the change listener to listen",
    )
    return built


@pytest.fixture(scope="module")
def pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def _sample(sb: RunningStarbase, name: str, **labels: str) -> float:
    return sb.starbase.metrics.registry.get_sample_value(name, labels or None) or 0.0


def _held(sb: RunningStarbase) -> float:
    return _sample(sb, "starbase_desired_state_held_polls")


def _url(w: World) -> str:
    return f"/v1/clusters/{w.cluster_id}/desired-state"


def _poll(
    client: httpx.Client, w: World, etag: str | None = None, prefer: str | None = None
) -> httpx.Response:
    headers = w.h(w.agent_token)
    if etag is not None:
        headers["If-None-Match"] = etag
    if prefer is not None:
        headers["Prefer"] = prefer
    return client.get(_url(w), headers=headers, timeout=90)


def _etag(client: httpx.Client, w: World) -> str:
    response = _poll(client, w)
    assert response.status_code == 200
    return response.headers["etag"]


def _bump(sb: RunningStarbase, cluster_id: str) -> None:
    """A desired-state change committed by another connection (another process, as far as we know)."""
    with psycopg.connect(sb.starbase.database_url, autocommit=True) as conn:
        conn.execute("UPDATE clusters SET generation = generation + 1 WHERE id = %s", (cluster_id,))


def _hold_in_background(
    pool: concurrent.futures.ThreadPoolExecutor,
    sb: RunningStarbase,
    client: httpx.Client,
    w: World,
    etag: str,
    prefer: str = "wait=30",
) -> concurrent.futures.Future[httpx.Response]:
    before = _held(sb)
    future = pool.submit(_poll, client, w, etag, prefer)
    wait_until(lambda: _held(sb) > before or future.done(), timeout=DEADLINE, message="the poll to be held")
    assert not future.done(), "the poll must be held while nothing changes"
    return future


def test_a_held_poll_answers_the_change_another_connection_commits(
    starbase: RunningStarbase, client: httpx.Client, world: World, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    etag = _etag(client, world)
    held = _hold_in_background(pool, starbase, client, world, etag)
    _bump(starbase, world.cluster_id)
    answer = held.result(timeout=DEADLINE)
    assert answer.status_code == 200
    assert answer.headers["preference-applied"] == "wait=30"
    assert answer.headers["etag"] != etag
    assert answer.json()["generation"] == _poll(client, world).json()["generation"]
    assert _sample(starbase, "starbase_desired_state_poll_answers_total", reason="changed") >= 1


def test_a_held_poll_times_out_with_304_and_says_how_long_it_waited(
    client: httpx.Client, world: World
) -> None:
    etag = _etag(client, world)
    started = time.monotonic()
    answer = _poll(client, world, etag, "wait=1")
    assert answer.status_code == 304
    assert answer.headers["preference-applied"] == "wait=1"
    assert answer.headers["etag"] == etag
    assert time.monotonic() - started >= 1.0, "held for the wait it was given"


def test_without_prefer_the_answer_comes_at_once(client: httpx.Client, world: World) -> None:
    etag = _etag(client, world)
    answer = _poll(client, world, etag)
    assert answer.status_code == 304
    assert "preference-applied" not in answer.headers


@pytest.mark.parametrize("prefer", ["wait=soon", "wait=-3", "wait=1.5", "wait", "wait=", "respond-async"])
def test_a_wait_that_is_not_a_number_is_ignored(client: httpx.Client, world: World, prefer: str) -> None:
    etag = _etag(client, world)
    answer = _poll(client, world, etag, prefer)
    assert answer.status_code == 304
    assert "preference-applied" not in answer.headers


def test_a_wait_out_of_range_is_clamped_and_says_so(
    starbase: RunningStarbase, client: httpx.Client, world: World, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    etag = _etag(client, world)
    held = _hold_in_background(pool, starbase, client, world, etag, prefer="handling=lenient, wait=3600")
    _bump(starbase, world.cluster_id)
    answer = held.result(timeout=DEADLINE)
    assert answer.status_code == 200
    assert answer.headers["preference-applied"] == "wait=60"
    low = _poll(client, world, answer.headers["etag"], 'wait="0"')
    assert low.status_code == 304
    assert low.headers["preference-applied"] == "wait=1"


def test_a_wildcard_etag_is_held_until_the_payload_changes(
    starbase: RunningStarbase, client: httpx.Client, world: World, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    before = _etag(client, world)
    held = _hold_in_background(pool, starbase, client, world, "*")
    _bump(starbase, world.cluster_id)
    answer = held.result(timeout=DEADLINE)
    assert answer.status_code == 200
    assert answer.headers["etag"] != before


def test_a_changed_etag_answers_200_at_once_even_when_asked_to_wait(
    client: httpx.Client, world: World
) -> None:
    answer = _poll(client, world, '"not-the-current-etag"', "wait=30")
    assert answer.status_code == 200
    assert answer.headers["preference-applied"] == "wait=30"


def test_the_304_path_reads_nothing_from_postgresql(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    etag = _etag(client, world)
    pool = starbase.starbase.store._pool  # every statement of the store checks a connection out
    assert _poll(client, world, etag).status_code == 304  # warm: the view is read once
    before = pool.get_stats()["requests_num"]
    for _ in range(50):
        assert _poll(client, world, etag).status_code == 304
    assert pool.get_stats()["requests_num"] == before, "a 304 in the steady state must not query"
    _bump(starbase, world.cluster_id)
    wait_until(
        lambda: _poll(client, world, etag).status_code == 200,
        timeout=DEADLINE,
        message="the notification to invalidate the cached version",
    )
    assert pool.get_stats()["requests_num"] > before, "a changed payload is read from PostgreSQL"


def test_auth_is_that_of_desired_state(starbase: RunningStarbase, client: httpx.Client, world: World) -> None:
    url = _url(world)
    prefer = {"Prefer": "wait=30", "If-None-Match": "*"}
    assert client.get(url, headers=prefer).status_code == 401
    assert client.get(url, headers={**prefer, **world.h("sba_wrong")}).status_code == 404
    _other, other_token = starbase.register_cluster()
    assert client.get(url, headers={**prefer, **world.h(other_token)}).status_code == 404
    assert client.get(url, headers={**prefer, **world.h(world.owner)}).status_code == 404


def test_the_listener_reconnects_after_its_connection_is_killed(
    starbase: RunningStarbase, client: httpx.Client, world: World, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    disconnects = _sample(starbase, "starbase_change_listener_disconnects_total")
    etag = _etag(client, world)
    held = _hold_in_background(pool, starbase, client, world, etag)
    with psycopg.connect(starbase.starbase.database_url, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'starbase-listener' AND datname = current_database()"
        ).fetchall()
    assert killed == [(True,)]
    wait_until(
        lambda: (
            _sample(starbase, "starbase_change_listener_disconnects_total") > disconnects
            and _sample(starbase, "starbase_change_listener_connected") == 1
        ),
        timeout=DEADLINE,
        message="the listener to notice and reconnect",
    )
    assert not held.done(), "a reconnect wakes held polls to re-check, and they hold on when nothing changed"
    _bump(starbase, world.cluster_id)
    answer = held.result(timeout=DEADLINE)
    assert answer.status_code == 200
    assert answer.headers["etag"] != etag


def test_a_reconcile_request_round_trip(
    starbase: RunningStarbase, client: httpx.Client, world: World, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    w = world
    etag = _etag(client, w)
    held = _hold_in_background(pool, starbase, client, w, etag)
    request = ok(client.post(f"/v1/services/{w.web_id}/reconcile", headers=w.h(w.owner)), 202)
    assert request["service_id"] == w.web_id
    assert request["cluster_id"] == w.cluster_id
    assert request["served_at"] is None
    woken = held.result(timeout=DEADLINE)
    assert woken.status_code == 304, "the payload did not change: a 304 naming the request"
    assert woken.headers["starform-reconcile-request"] == request["id"]
    # Until served, every answer names it (and a held poll is not held).
    again = _poll(client, w, etag, "wait=30")
    assert again.status_code == 304
    assert again.headers["starform-reconcile-request"] == request["id"]
    listed = ok(client.get(f"/v1/services/{w.web_id}/reconcile-requests", headers=w.h(w.owner)))
    assert [r["id"] for r in listed][:1] == [request["id"]]
    assert listed[0]["served_at"] is None

    status = _poll(client, w).json()["generation"]
    report = {"applied_generation": status, "served_reconcile_requests": [request["id"]]}
    ok(client.post(f"/v1/clusters/{w.cluster_id}/status", headers=w.h(w.agent_token), json=report), 201)
    listed = ok(client.get(f"/v1/services/{w.web_id}/reconcile-requests", headers=w.h(w.owner)))
    assert listed[0]["id"] == request["id"]
    assert listed[0]["served_at"] is not None
    served = _poll(client, w, etag)
    assert served.status_code == 304
    assert "starform-reconcile-request" not in served.headers


def test_a_cluster_reconcile_is_for_operators(client: httpx.Client, world: World) -> None:
    w = world
    url = f"/v1/clusters/{w.cluster_id}/reconcile"
    assert client.post(url, headers=w.h(w.owner)).status_code == 403
    made = ok(client.post(url, headers=w.h(w.operator)), 202)
    assert made["service_id"] is None
    answer = _poll(client, w, _etag(client, w))
    assert made["id"] in answer.headers["starform-reconcile-request"]
    report = {"applied_generation": 0, "served_reconcile_requests": [made["id"]]}
    ok(client.post(f"/v1/clusters/{w.cluster_id}/status", headers=w.h(w.agent_token), json=report), 201)
    assert "starform-reconcile-request" not in _poll(client, w).headers


def test_reconcile_requests_need_access_and_bounded_reports(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    w = world
    stranger = starbase.user_token("stranger@example.com")
    assert client.post(f"/v1/services/{w.web_id}/reconcile", headers=w.h(stranger)).status_code == 404
    assert client.get(f"/v1/services/{w.web_id}/reconcile-requests", headers=w.h(stranger)).status_code == 404
    assert client.post(f"/v1/services/{w.web_id}/reconcile").status_code == 401
    too_many = {"applied_generation": 0, "served_reconcile_requests": [str(i).zfill(32) for i in range(101)]}
    refused = client.post(f"/v1/clusters/{w.cluster_id}/status", headers=w.h(w.agent_token), json=too_many)
    assert refused.status_code == 422
    garbage = {"applied_generation": 0, "served_reconcile_requests": ["not-an-id"]}
    refused = client.post(f"/v1/clusters/{w.cluster_id}/status", headers=w.h(w.agent_token), json=garbage)
    assert refused.status_code == 422


def test_a_thousand_held_polls_stay_small_and_all_answer_one_change(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    count = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * count:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * count), hard))
    etag = _etag(client, world)
    before_held = _held(starbase)
    process = psutil.Process()

    async def scenario() -> tuple[list[httpx.Response], int, int]:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        headers = {**world.h(world.agent_token), "If-None-Match": etag, "Prefer": "wait=60"}
        async with httpx.AsyncClient(base_url=starbase.base_url, limits=limits, timeout=90) as http:
            rss_before = process.memory_info().rss
            tasks = [asyncio.ensure_future(http.get(_url(world), headers=headers)) for _ in range(count)]
            deadline = time.monotonic() + 60
            while _held(starbase) < before_held + count:
                assert time.monotonic() < deadline, f"only {_held(starbase) - before_held} polls held"
                assert not any(t.done() for t in tasks), "a poll answered before anything changed"
                await asyncio.sleep(0.05)  # the polling interval of a condition with a deadline
            rss_held = process.memory_info().rss
            await asyncio.to_thread(_bump, starbase, world.cluster_id)
            answers = await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
        return answers, rss_before, rss_held

    answers, rss_before, rss_held = asyncio.run(scenario())
    assert {a.status_code for a in answers} == {200}
    assert len({a.headers["etag"] for a in answers}) == 1
    assert answers[0].headers["etag"] != etag
    # Client and server share this process: 1,000 connections each side and the held coroutines.
    assert rss_held - rss_before < 150 * 1024 * 1024
    assert _held(starbase) == before_held


def test_stopping_the_server_answers_held_polls_at_once(pg_server: str) -> None:
    with running_starbase(server_url=pg_server) as sb, httpx.Client(base_url=sb.base_url, timeout=90) as http:
        cluster_id, token = sb.register_cluster()
        headers = sb.auth(token)
        etag = http.get(f"/v1/clusters/{cluster_id}/desired-state", headers=headers).headers["etag"]
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
            held = executor.submit(
                http.get,
                f"/v1/clusters/{cluster_id}/desired-state",
                headers={**headers, "If-None-Match": etag, "Prefer": "wait=60"},
            )
            wait_until(lambda: _held(sb) == 1, timeout=DEADLINE, message="the poll to be held")
            sb.server.stop()
            answer = held.result(timeout=DEADLINE)  # well before the 60 s it asked to wait
        assert answer.status_code == 304
        assert answer.headers["etag"] == etag
        assert _sample(sb, "starbase_desired_state_poll_answers_total", reason="draining") == 1


def test_a_client_that_goes_away_is_not_held_any_longer(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    disconnected = _sample(starbase, "starbase_desired_state_poll_answers_total", reason="disconnected")
    held_before = _held(starbase)
    etag = _etag(client, world)
    host, port = starbase.base_url.removeprefix("http://").split(":")
    request = (
        f"GET {_url(world)} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {world.agent_token}\r\n"
        f"If-None-Match: {etag}\r\nPrefer: wait=60\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=DEADLINE) as raw:
        raw.sendall(request.encode())
        wait_until(lambda: _held(starbase) > held_before, timeout=DEADLINE, message="the poll to be held")
    # the client went away with its poll unanswered
    wait_until(lambda: _held(starbase) == held_before, timeout=DEADLINE, message="the held poll to end")
    assert (
        _sample(starbase, "starbase_desired_state_poll_answers_total", reason="disconnected")
        == disconnected + 1
    )
