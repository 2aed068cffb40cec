"""``Prefer: wait`` parsing (RFC 7240), the agent views' guard against reads racing changes, and
what each write forgets of them."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from starform_apps.starbase.agent_views import AgentViews
from starform_apps.starbase.local_writes import LocalWritesMiddleware
from starform_apps.starbase.prefer import MAX_WAIT_SECONDS, wait_preference
from starform_apps.starbase.single_flight import SingleFlight
from starform_core.records import AgentView


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["wait=10"], 10),
        (["WAIT = 10"], 10),
        (['wait="25"'], 25),
        (["respond-async, wait=5"], 5),
        (["wait=5; foo=bar"], 5),
        (["handling=strict", "wait=7"], 7),
        (["wait=7, wait=9"], 7),  # RFC 7240 §2: only the first instance counts
        (["wait=61"], MAX_WAIT_SECONDS),
        (["wait=" + "9" * 400], MAX_WAIT_SECONDS),
        (["wait=0"], 1),
        (["wait=abc"], None),
        (["wait=-1"], None),
        (["wait=1.5"], None),
        (["wait=\u0661\u0662"], None),  # Arabic-Indic digits are digits to Python, not to HTTP
        (["wait"], None),
        (["respond-async"], None),
        ([], None),
    ],
)
def test_wait_preference(headers: list[str], expected: int | None) -> None:
    assert wait_preference(headers) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=3))
def test_any_prefer_header_gives_no_wait_or_one_in_range(headers: list[str]) -> None:
    wait = wait_preference(headers)
    assert wait is None or 1 <= wait <= MAX_WAIT_SECONDS


CLUSTER = "00000000-0000-4000-8000-000000000001"


class GatedStore:
    """``agent_view`` that blocks until released, returning the generation current when it started."""

    def __init__(self) -> None:
        self.generation = 1
        self.reads = 0

    def agent_view(self, cluster_id: str) -> AgentView:
        self.reads += 1
        return AgentView(epoch=1, generation=self.generation, token_hash=b"h" * 32)


def test_a_read_that_raced_a_notification_is_returned_but_not_kept() -> None:
    store = GatedStore()
    views = AgentViews(store)  # type: ignore[arg-type]
    views.reset(live=True)

    async def scenario() -> None:
        reading = asyncio.ensure_future(views.get(CLUSTER))
        await asyncio.sleep(0)  # the read is now in its worker thread
        store.generation = 2
        views.changed(CLUSTER)  # the change's notification arrives while the read is in flight
        first = await reading
        assert first.generation in (1, 2)
        assert views.cached(CLUSTER) is None, "a read begun before a notification is never cached"
        assert (await views.get(CLUSTER)).generation == 2
        assert views.cached(CLUSTER) is not None
        reads = store.reads
        assert (await views.get(CLUSTER)).generation == 2
        assert store.reads == reads, "a trusted entry is served from memory"

    asyncio.run(scenario())


def test_views_are_not_trusted_while_nobody_listens() -> None:
    store = GatedStore()
    views = AgentViews(store)  # type: ignore[arg-type]

    async def scenario() -> None:
        await views.get(CLUSTER)
        await views.get(CLUSTER)
        assert store.reads == 2
        views.reset(live=True)
        await views.get(CLUSTER)
        await views.get(CLUSTER)
        assert store.reads == 3
        views.reset(live=False)
        assert views.cached(CLUSTER) is None

    asyncio.run(scenario())


def test_single_flight_runs_one_load_for_concurrent_callers() -> None:
    flights: SingleFlight[int] = SingleFlight()
    started = 0

    async def scenario() -> None:
        nonlocal started
        gate = asyncio.Event()

        async def load() -> int:
            nonlocal started
            started += 1
            await gate.wait()
            return 42

        callers = [asyncio.ensure_future(flights.run("k", load)) for _ in range(50)]
        await asyncio.sleep(0)
        gate.set()
        assert await asyncio.gather(*callers) == [42] * 50
        assert started == 1
        assert await flights.run("k", load) == 42
        assert started == 2, "a finished flight is not reused"

    asyncio.run(scenario())


def test_a_usage_snapshot_forgets_no_agent_view_but_other_writes_do() -> None:
    """Billing's snapshots (one per agent a minute) touch nothing a view holds; reports forget
    their cluster, people's writes everything."""
    other = "00000000-0000-4000-8000-000000000002"
    store = GatedStore()
    views = AgentViews(store)  # type: ignore[arg-type]
    views.reset(live=True)

    async def answered(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = LocalWritesMiddleware(answered, views)

    async def post(path: str) -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(_message: Message) -> None:
            return None

        await middleware({"type": "http", "method": "POST", "path": path}, receive, send)

    async def scenario() -> None:
        await views.get(CLUSTER)
        await views.get(other)
        await post(f"/v1/clusters/{CLUSTER}/usage-snapshots")
        assert views.cached(CLUSTER) is not None and views.cached(other) is not None
        await post(f"/v1/clusters/{CLUSTER}/status")
        assert views.cached(CLUSTER) is None and views.cached(other) is not None
        await post("/v1/workspaces")
        assert views.cached(other) is None

    asyncio.run(scenario())
