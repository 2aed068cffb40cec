"""``GET /v1/services/{id}/events/stream``: Server-Sent Events with ids, ``Last-Event-ID``
resume, heartbeats, bounded connections, and an end when Starbase stops (real Starbase, real
PostgreSQL, events posted by the cluster's agent over HTTP)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import anyio
import httpx
import pytest
from tests.dashboard.sse import QUICK_STREAMS, SseReader
from tests.dashboard.tenant import post_events, signed_in
from tests.starbase.world import World, build_world, ok

from starform_apps.starbase.event_stream import EventStreams, StreamLimits
from starform_apps.starbase.metrics import Metrics
from starform_core.records import EventRecord, EventsPage
from starform_testkit.starbase import RunningStarbase, running_starbase


@pytest.fixture(scope="module")
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    return build_world(starbase, client)


def _url(world: World) -> str:
    return f"/v1/services/{world.web_id}/events/stream"


def test_events_arrive_live_with_their_seq_as_id_and_the_events_apis_body(
    client: httpx.Client, world: World
) -> None:
    earlier = post_events(client, world, {"message": "before the stream"})
    reader = SseReader(client, _url(world), headers=world.h(world.owner))
    try:
        assert reader.status == 200
        assert reader.headers is not None and reader.headers["content-type"].startswith("text/event-stream")
        assert reader.headers["cache-control"] == "no-store"
        assert reader.next().retry == 2000
        replayed = reader.next_event()
        assert replayed.json()["event_id"] == earlier[0], "after=0: from the first event"
        [live_id] = post_events(client, world, {"type": "DriftReverted", "message": "edited by kubectl"})
        frame = reader.next_event()
        page = ok(client.get(f"/v1/services/{world.web_id}/events", headers=world.h(world.owner)))
        [stored] = [e for e in page["events"] if e["event_id"] == live_id]
        assert frame.event == "message"
        assert frame.id == str(stored["seq"])
        assert frame.json() == stored
        assert reader.next().comment == "heartbeat", "a quiet stream heartbeats"
    finally:
        reader.close()


def test_last_event_id_resumes_after_the_last_event_seen_and_a_bad_one_is_refused(
    client: httpx.Client, world: World
) -> None:
    ids = post_events(client, world, *({"message": f"resume {i}"} for i in range(3)))
    page = ok(client.get(f"/v1/services/{world.web_id}/events?limit=500", headers=world.h(world.owner)))
    seqs = {e["event_id"]: e["seq"] for e in page["events"]}
    reader = SseReader(
        client,
        _url(world) + "?after=0",
        headers={**world.h(world.owner), "Last-Event-ID": str(seqs[ids[0]])},
    )
    try:
        assert [reader.next_event().json()["event_id"] for _ in range(2)] == ids[1:]
    finally:
        reader.close()
    for bad in ("-1", "abc", "1" * 25):
        refused = client.get(_url(world), headers={**world.h(world.owner), "Last-Event-ID": bad})
        assert refused.status_code in (400, 422)
        assert "Last-Event-ID" in refused.text or "last-event-id" in refused.text


def test_a_stream_needs_a_token_that_may_read_the_service(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    assert client.get(_url(world)).status_code == 401
    outsider = starbase.user_token("stream-outsider@example.com")
    hidden = client.get(_url(world), headers=world.h(outsider))
    assert (hidden.status_code, hidden.json()) == (404, {"detail": "service not found"})
    assert client.get(_url(world), headers=world.h(world.agent_token)).status_code == 401


def test_the_dashboard_reads_the_stream_through_its_session(starbase: RunningStarbase, world: World) -> None:
    with signed_in(starbase.base_url, world.owner) as session:
        reader = SseReader(session, f"/ui/api{_url(world)}")
        try:
            assert reader.status == 200
            [posted] = post_events(session, world, {"message": "seen by the dashboard"})
            while reader.next_event().json()["event_id"] != posted:
                pass
        finally:
            reader.close()


def test_each_user_has_a_bounded_number_of_open_streams(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    streams = starbase.starbase.streams
    limit = streams.limits.per_user
    user = starbase.user_token("stream-hog@example.com")
    ok(
        client.put(
            f"/v1/workspaces/{world.workspace_id}/members",
            headers=world.h(world.owner),
            json={"email": "stream-hog@example.com", "role": "admin"},
        ),
        204,
    )
    readers = [SseReader(client, _url(world), headers=world.h(user)) for _ in range(limit)]
    try:
        assert [r.status for r in readers] == [200] * limit
        refused = client.get(_url(world), headers=world.h(user))
        assert refused.status_code == 429
        assert refused.json() == {"detail": f"at most {limit} event streams per user are open at once"}
        assert refused.headers["retry-after"] == "5"
        others = SseReader(client, _url(world), headers=world.h(world.owner))
        assert others.status == 200, "another user is not held back"
        others.close()
        readers.pop().close()
        wait_until_open(streams, below=limit)
        again = SseReader(client, _url(world), headers=world.h(user))
        assert again.status == 200, "a closed stream gives its place back"
        readers.append(again)
    finally:
        for reader in readers:
            reader.close()
    metrics = client.get("/metrics", headers=starbase.auth(starbase.metrics_token)).text
    assert 'starbase_event_streams_refused_total{reason="per_user"}' in metrics


def wait_until_open(streams: EventStreams, *, below: int) -> None:
    """Wait (with a deadline) until fewer than ``below`` streams are open."""
    done = threading.Event()
    for _ in range(3000):
        if streams.open_count() < below:
            return
        done.wait(0.01)
    raise AssertionError(f"{streams.open_count()} streams still open")


def test_stopping_starbase_ends_open_streams_with_a_shutdown_frame(pg_server: str) -> None:
    with httpx.Client(timeout=30) as client:  # outlives the server: only the server ends the stream
        with running_starbase(server_url=pg_server, stream_limits=QUICK_STREAMS) as own:
            client.base_url = httpx.URL(own.base_url)
            world = build_world(own, client)
            reader = SseReader(client, _url(world), headers=world.h(world.owner))
            assert reader.status == 200
            # leaving the block stops the server while the stream is open
        frames = []
        while (frame := reader.next()) is not SseReader.ENDED:
            frames.append(frame)
        reader.close()
    assert frames[-1].event == "shutdown", frames
    assert frames[-1].json() == {"reason": "Starbase is shutting down"}


def test_a_closing_starbase_refuses_new_streams(pg_server: str) -> None:
    with (
        running_starbase(server_url=pg_server) as own,
        httpx.Client(base_url=own.base_url, timeout=30) as client,
    ):
        world = build_world(own, client)
        own.starbase.streams.close()
        refused = client.get(_url(world), headers=world.h(world.owner))
        assert (refused.status_code, refused.json()) == (503, {"detail": "Starbase is shutting down"})


# --- the frames themselves, on a page reader that needs no database --------------------------


def _frames(
    limits: StreamLimits, pages: list[EventsPage], *, count: int
) -> tuple[list[str], list[tuple[int, int]]]:
    """The first ``count`` frames of a stream over ``pages``, and the reads it made."""
    streams = EventStreams(Metrics(), limits=limits)
    reads: list[tuple[int, int]] = []

    def read_page(after: int, limit: int) -> EventsPage:
        reads.append((after, limit))
        return pages.pop(0) if pages else EventsPage(events=(), next_after=None)

    async def collect() -> list[str]:
        out: list[str] = []
        async for frame in streams.body(read_page, after=7):
            out.append(frame)
            if len(out) == count:
                break
        return out

    return anyio.run(collect), reads


def _event(seq: int) -> EventRecord:
    return EventRecord(event_id=f"e{seq}", type="Applied", occurred_at=datetime.now(UTC), seq=seq)


def test_a_quiet_stream_sends_heartbeats_and_reads_bounded_pages_from_its_cursor() -> None:
    limits = StreamLimits(heartbeat_seconds=0.0, poll_seconds=0.001, page=3)
    first = EventsPage(events=(_event(8), _event(9), _event(10)), next_after=10)
    second = EventsPage(events=(_event(11),), next_after=None)
    frames, reads = _frames(limits, [first, second], count=7)
    assert frames[0] == "retry: 2000\n\n"
    assert [f.split("\n")[0] for f in frames[1:5]] == ["id: 8", "id: 9", "id: 10", "id: 11"]
    assert frames[5:] == [": heartbeat\n\n", ": heartbeat\n\n"]
    assert reads[:3] == [(7, 3), (10, 3), (11, 3)], "each read continues after the last event sent"


def test_a_stream_ends_after_its_longest_life_so_the_client_reconnects_and_resumes() -> None:
    frames, _reads = _frames(StreamLimits(max_seconds=0.0, poll_seconds=0.001), [], count=10)
    assert frames == ["retry: 2000\n\n"], "ended without a shutdown frame: the browser reconnects"


def test_the_stream_is_in_the_openapi_description_as_an_event_stream(client: httpx.Client) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/services/{service_id}/events/stream"]["get"]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"service_id", "after", "last-event-id"}
