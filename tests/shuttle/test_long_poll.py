"""The long-poll: the HTTP client against a server speaking the protocol (``Prefer: wait``,
``Preference-Applied``, ``Starform-Reconcile-Request``), then the pull channel driving a whole
Shuttle: a change converges without waiting for the poll interval, a reconcile request relists
and is reported served, a server that does not long-poll is polled, an unreachable one retried."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.shuttle.agents import fake_agent, gateway_cluster
from tests.shuttle.protocol_double import ProtocolDouble, serving

from starform_adapters.starbase import InMemorySource, StarbaseClient
from starform_adapters.starbase.client import (
    MAX_RECONCILE_REQUESTS,
    preference_applied_wait,
    reconcile_requests_of,
)
from starform_apps.shuttle import Shuttle, ShuttleConfig
from starform_apps.shuttle.notify import merge_pulls
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.pull import Pulled, PullOutcome
from starform_apps.shuttle.reports import SERVED_REQUESTS_MAX, ReportKind, status_report
from starform_apps.shuttle.statedb import StateDB
from starform_core.errors import DesiredStateSourceError, ValidationError
from starform_core.payload import example_payload
from starform_core.ports.source import Fetched, NotModified

EXAMPLE = example_payload()
TOKEN = "agent-token-for-the-double"


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait on a condition with a deadline (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.01)


def _next(generation_offset: int = 1) -> object:
    return attrs.evolve(EXAMPLE, generation=EXAMPLE.generation + generation_offset)


@pytest.fixture
def double() -> Iterator[tuple[ProtocolDouble, StarbaseClient]]:
    source = InMemorySource(EXAMPLE)
    app = ProtocolDouble(source, cluster_id=EXAMPLE.cluster.cluster_id, token=TOKEN)
    with serving(app) as url:
        app.url = url
        client = StarbaseClient(url, cluster_id=EXAMPLE.cluster.cluster_id, token=TOKEN, timeout=5)
        try:
            yield app, client
        finally:
            source.release()
            client.close()


def _in_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


# --- the client on the wire -----------------------------------------------------------------------
def test_a_held_pull_answers_as_soon_as_the_payload_changes(
    double: tuple[ProtocolDouble, StarbaseClient],
) -> None:
    app, client = double
    first = client.fetch(etag=None)
    assert isinstance(first, Fetched) and first.waited is None, "no wait asked: no Preference-Applied read"
    thread, out = _in_thread(lambda: client.fetch(etag=first.etag, wait=30))
    wait_for(lambda: app.source.holding == 1, "the pull to be held")
    assert thread.is_alive(), "an unchanged payload is held, not answered"
    assert app.requests[-1]["prefer"] == "wait=30"
    assert app.requests[-1]["if-none-match"] == f'"{first.etag}"'
    app.source.publish(_next())  # type: ignore[arg-type]
    thread.join(5)
    (changed,) = out
    assert isinstance(changed, Fetched) and changed.etag != first.etag
    assert changed.waited == 30, "Preference-Applied: wait=30 is read"


def test_a_held_pull_that_times_out_is_a_304_with_the_wait_applied(
    double: tuple[ProtocolDouble, StarbaseClient],
) -> None:
    _, client = double
    first = client.fetch(etag=None)
    assert isinstance(first, Fetched)
    thread, out = _in_thread(lambda: client.fetch(etag=first.etag, wait=1))
    thread.join(10)
    assert out == [NotModified(etag=first.etag, waited=1)]


def test_a_server_that_does_not_long_poll_answers_at_once_without_preference_applied(
    double: tuple[ProtocolDouble, StarbaseClient],
) -> None:
    app, client = double
    app.honour_wait = False
    first = client.fetch(etag=None)
    assert isinstance(first, Fetched)
    assert client.fetch(etag=first.etag, wait=30) == NotModified(etag=first.etag, waited=None)
    assert app.source.held_polls == 0


def test_reconcile_requests_ride_on_a_304_and_on_a_200(double: tuple[ProtocolDouble, StarbaseClient]) -> None:
    app, client = double
    first = client.fetch(etag=None)
    assert isinstance(first, Fetched)
    thread, out = _in_thread(lambda: client.fetch(etag=first.etag, wait=30))
    wait_for(lambda: app.source.holding == 1, "the pull to be held")
    app.source.request_reconcile("req-1")
    thread.join(5)
    assert out == [NotModified(etag=first.etag, reconcile_requests=("req-1",), waited=30)]
    app.source.request_reconcile("req-2")
    app.source.publish(_next())  # type: ignore[arg-type]
    changed = client.fetch(etag=first.etag, wait=30)
    assert isinstance(changed, Fetched)
    assert changed.reconcile_requests == ("req-1", "req-2"), "named on every answer until served"


def test_a_body_above_the_limit_is_refused_without_reading_it_all(
    double: tuple[ProtocolDouble, StarbaseClient],
) -> None:
    app, _ = double
    small = StarbaseClient(
        str(app.url),
        cluster_id=EXAMPLE.cluster.cluster_id,
        token=TOKEN,
        max_body_bytes=4096,
    )
    try:
        app.padding = 10_000
        with pytest.raises(DesiredStateSourceError, match="4096-byte limit"):
            small.fetch(etag=None)
    finally:
        small.close()


def test_the_wait_asked_for_is_bounded_by_the_protocol(double: tuple[ProtocolDouble, StarbaseClient]) -> None:
    app, client = double
    app.honour_wait = False
    client.fetch(etag=None, wait=600)
    assert app.requests[-1]["prefer"] == "wait=60"
    client.fetch(etag=None, wait=0)
    assert "prefer" not in app.requests[-1]


def test_preference_applied_is_read_leniently() -> None:
    assert preference_applied_wait("wait=25") == 25
    assert preference_applied_wait('return=minimal, wait="10"') == 10
    assert preference_applied_wait("Wait = 5") == 5
    assert preference_applied_wait("return=minimal") is None
    assert preference_applied_wait("") is None
    assert preference_applied_wait(None) is None
    assert preference_applied_wait("nowait=5") is None


def test_reconcile_request_headers_are_split_deduplicated_screened_and_bounded() -> None:
    assert reconcile_requests_of(["a, b", "b,c", " , d e, f"]) == ("a", "b", "c", "f")
    assert reconcile_requests_of(["x" * 201, "ok"]) == ("ok",)
    many = [", ".join(f"r{i}" for i in range(500))]
    assert len(reconcile_requests_of(many)) == MAX_RECONCILE_REQUESTS


@given(st.lists(st.from_regex(r"[A-Za-z0-9._:-]{1,40}", fullmatch=True), max_size=30))
def test_any_list_of_request_ids_survives_the_header(ids: list[str]) -> None:
    assert reconcile_requests_of([", ".join(ids)]) == tuple(dict.fromkeys(ids))


# --- what the channel hands the loop ---------------------------------------------------------------
def test_merged_pulls_keep_the_news_and_the_latest_reachability() -> None:
    new = Pulled(PullOutcome.NEW, new_epoch=True, reconcile_requests=("a",), long_polled=True)
    quiet = Pulled(PullOutcome.UNCHANGED, reconcile_requests=("b", "a"), long_polled=True)
    merged = merge_pulls(new, quiet)
    assert (merged.outcome, merged.new_epoch, merged.reconcile_requests) == (
        PullOutcome.NEW,
        True,
        ("a", "b"),
    )
    down = merge_pulls(new, Pulled(PullOutcome.UNREACHABLE, error="down"))
    assert not down.source_ok and down.new_epoch, "an unreachable Starbase after a new payload prunes nothing"


def test_served_requests_pass_from_an_unsent_status_report_to_the_next_and_survive_a_restart(
    tmp_path: Path,
) -> None:
    def report(served: tuple[str, ...]) -> object:
        return status_report(
            now=_now(), epoch=1, applied_generation=1, attempt=None, services=[], served=served
        )

    db = StateDB(tmp_path)
    outbox = Outbox(db)
    outbox.add(report(("r1", "r2")))  # type: ignore[arg-type]
    outbox.add(report(()))  # type: ignore[arg-type]
    outbox.add(report(("r3", "r1")))  # type: ignore[arg-type]
    db.close()
    reopened = StateDB(tmp_path)
    (pending,) = Outbox(reopened).pending(ReportKind.STATUS)
    assert pending["served_reconcile_requests"] == ["r1", "r2", "r3"], "once each, oldest first"
    reopened.close()


def test_a_status_report_names_at_most_the_newest_hundred_requests(tmp_path: Path) -> None:
    db = StateDB(tmp_path)
    outbox = Outbox(db)
    for batch in range(3):
        ids = tuple(f"r{batch}-{i}" for i in range(60))
        outbox.add(
            status_report(now=_now(), epoch=1, applied_generation=1, attempt=None, services=[], served=ids)
        )
    (pending,) = outbox.pending(ReportKind.STATUS)
    assert len(pending["served_reconcile_requests"]) == SERVED_REQUESTS_MAX
    assert pending["served_reconcile_requests"][-1] == "r2-59"
    assert pending["served_reconcile_requests"][0] == "r1-20"
    db.close()


def test_status_reports_without_served_requests_do_not_carry_the_field(tmp_path: Path) -> None:
    body = status_report(now=_now(), epoch=1, applied_generation=1, attempt=None, services=[]).body
    assert "served_reconcile_requests" not in body, "an older Starbase refuses unknown fields"


def test_the_long_poll_wait_is_bounded_in_the_configuration(tmp_path: Path) -> None:
    base = {"starbase_url": "http://x.invalid", "cluster_id": "c", "token": "t", "state_dir": tmp_path}
    assert ShuttleConfig(**base).long_poll_wait == 30  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="long_poll_wait"):
        ShuttleConfig(**base, long_poll_wait=61)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="long_poll_wait"):
        ShuttleConfig(**base, long_poll_wait=-1)  # type: ignore[arg-type]


def _now() -> object:
    from datetime import UTC, datetime

    return datetime.now(UTC)


# --- a whole Shuttle on the channel ----------------------------------------------------------------
@pytest.fixture
def running() -> Iterator[Callable[..., Shuttle]]:
    started: list[tuple[Shuttle, InMemorySource]] = []

    def start(state: Path, source: InMemorySource, **config: object) -> Shuttle:
        agent = fake_agent(state, source=source, **{"interval": 3600.0, **config})
        started.append((agent, source))
        agent.run_in_thread()
        return agent

    yield start
    for agent, source in started:
        agent.loop.stop()
        source.release()
        agent.stop(grace_seconds=5)


def _sample(agent: Shuttle, name: str, **labels: str) -> float:
    return agent.metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_new_payload_is_applied_without_waiting_for_the_interval(
    tmp_path: Path, running: Callable[..., Shuttle]
) -> None:
    source = InMemorySource(EXAMPLE)
    agent = running(tmp_path, source)
    wait_for(lambda: source.applied_generation == EXAMPLE.generation, "the first generation")
    wait_for(lambda: source.holding == 1, "the long-poll to be held")
    source.publish(_next())  # type: ignore[arg-type]
    wait_for(lambda: source.applied_generation == EXAMPLE.generation + 1, "the new generation", timeout=10)
    assert agent.loop.ticks < 10, "a reconcile per answer, not a spin"
    assert _sample(agent, "shuttle_pull_wakeups_total", reason="payload") >= 2
    assert _sample(agent, "shuttle_starbase_long_poll") == 1


def test_a_reconcile_request_on_a_304_relists_reconciles_and_is_reported_served(
    tmp_path: Path, running: Callable[..., Shuttle]
) -> None:
    cluster = gateway_cluster()
    source = InMemorySource(EXAMPLE)
    agent = fake_agent(tmp_path, source=source, cluster=cluster, interval=3600.0)
    assert agent.loop.run_once().converged
    agent.run_in_thread()
    try:
        wait_for(lambda: source.holding == 1, "the long-poll to be held")
        before = cluster.relists
        source.request_reconcile("reconcile-7")
        wait_for(lambda: source.served == ["reconcile-7"], "the request reported served")
        assert cluster.relists == before + 1, "a fresh listing, not the cached view"
        assert source.pending_requests == ()
        served = [s for s in source.statuses if s.get("served_reconcile_requests")]
        assert [s["served_reconcile_requests"] for s in served] == [["reconcile-7"]]
        assert _sample(agent, "shuttle_reconcile_requests_total", stage="served") == 1
        assert _sample(agent, "shuttle_pull_wakeups_total", reason="reconcile-request") == 1
        wait_for(lambda: source.holding == 1, "the next long-poll")
        assert cluster.relists == before + 1, "a request named again is not served twice"
    finally:
        agent.loop.stop()
        source.release()
        agent.stop(grace_seconds=5)


def test_a_server_that_does_not_long_poll_is_polled_every_interval(
    tmp_path: Path, running: Callable[..., Shuttle]
) -> None:
    source = InMemorySource(EXAMPLE, long_poll=False)
    agent = running(tmp_path, source, interval=0.2)
    wait_for(lambda: source.applied_generation == EXAMPLE.generation, "the first generation")
    wait_for(lambda: source.fetches >= 4, "polls every interval")
    assert source.held_polls == 0
    assert _sample(agent, "shuttle_starbase_long_poll") == 0
    source.publish(_next())  # type: ignore[arg-type]
    wait_for(lambda: source.applied_generation == EXAMPLE.generation + 1, "the new generation")


def test_an_unreachable_starbase_is_retried_with_backoff_then_followed_again(
    tmp_path: Path, running: Callable[..., Shuttle]
) -> None:
    source = InMemorySource(EXAMPLE)
    source.down = True
    agent = running(tmp_path, source)
    wait_for(lambda: source.fetches >= 2, "a retry")
    assert agent.metrics.registry.get_sample_value("shuttle_starbase_reachable") == 0
    assert _sample(agent, "shuttle_pull_wakeups_total", reason="unreachable") >= 2
    source.down = False
    wait_for(lambda: source.applied_generation == EXAMPLE.generation, "the payload once Starbase is back")
    assert agent.metrics.registry.get_sample_value("shuttle_starbase_reachable") == 1


def test_a_refused_payload_is_not_fetched_again_and_again(
    tmp_path: Path, running: Callable[..., Shuttle]
) -> None:
    source = InMemorySource(EXAMPLE)
    agent = running(tmp_path, source)
    wait_for(lambda: source.applied_generation == EXAMPLE.generation, "the first generation")
    source.publish_bytes(b'{"not": "a payload"}')
    wait_for(lambda: "PayloadRejected" in source.event_types(), "the rejection reported")
    wait_for(lambda: source.holding == 1, "the long-poll held on the refused bytes' ETag")
    fetches = source.fetches
    source.release()
    wait_for(lambda: source.fetches > fetches and source.holding == 1, "held again")
    assert source.fetches == fetches + 1, "one pull per answer: no spinning on a refused payload"
    assert _sample(agent, "shuttle_pull_wakeups_total", reason="rejected") == 1


def test_the_long_poll_can_be_turned_off(tmp_path: Path) -> None:
    agent = fake_agent(tmp_path, long_poll_wait=0)
    assert agent.loop.channel is None
    assert agent.loop.run_once().converged
    agent.stop(grace_seconds=1)


def test_the_whole_agent_over_http_against_the_protocol_double(tmp_path: Path) -> None:
    source = InMemorySource(EXAMPLE)
    app = ProtocolDouble(source, cluster_id=EXAMPLE.cluster.cluster_id, token=TOKEN)
    cluster = gateway_cluster()
    with serving(app) as url:
        client = StarbaseClient(url, cluster_id=EXAMPLE.cluster.cluster_id, token=TOKEN, timeout=5)
        agent = fake_agent(tmp_path, source=client, cluster=cluster, interval=3600.0)  # type: ignore[arg-type]
        agent.run_in_thread()
        try:
            wait_for(lambda: source.applied_generation == EXAMPLE.generation, "the first generation")
            wait_for(lambda: source.holding == 1, "the long-poll held over HTTP")
            source.publish(_next())  # type: ignore[arg-type]
            wait_for(lambda: source.applied_generation == EXAMPLE.generation + 1, "the new generation")
            source.request_reconcile("http-1")
            wait_for(lambda: source.served == ["http-1"], "served over HTTP")
            assert cluster.relists == 1
        finally:
            agent.loop.stop()
            source.release()
            agent.stop(grace_seconds=5)
            client.close()
