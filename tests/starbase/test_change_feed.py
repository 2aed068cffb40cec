"""The PostgreSQL change feed: which commits notify, and what the sink hears (real server)."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
from tests.starbase.example_data import fresh_ids, load_rows_via_api

from starform_adapters.postgres import PostgresStore
from starform_adapters.postgres.notifications import PostgresClusterChanges
from starform_core.access import Actor
from starform_core.payload.example import example_rows

DEADLINE = 20.0


class Sink:
    """Records what the feed says, and lets a test await the next event."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()

    def changed(self, cluster_id: str) -> None:
        self.events.put_nowait(("changed", cluster_id))

    def resynced(self) -> None:
        self.events.put_nowait(("resynced", None))

    def lost(self) -> None:
        self.events.put_nowait(("lost", None))

    async def next(self) -> tuple[str, str | None]:
        return await asyncio.wait_for(self.events.get(), timeout=DEADLINE)


def _run(database_url: str, scenario: object) -> None:
    async def main() -> None:
        sink = Sink()
        feed = PostgresClusterChanges(database_url, backoff_initial=0.01, backoff_max=0.2)
        task = asyncio.create_task(feed.follow(sink))
        try:
            assert await sink.next() == ("resynced", None)
            await scenario(sink)  # type: ignore[operator]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_each_change_an_agent_must_see_notifies_once_on_commit(
    database_url: str, store: PostgresStore
) -> None:
    rows = load_rows_via_api(store, fresh_ids(example_rows()))
    cid = rows.cluster.cluster_id

    async def scenario(sink: Sink) -> None:
        def writes() -> None:
            with psycopg.connect(database_url) as conn:  # one transaction, two bumps: one wake
                conn.execute("UPDATE clusters SET generation = generation + 1 WHERE id = %s", (cid,))
                conn.execute("UPDATE clusters SET generation = generation + 1 WHERE id = %s", (cid,))
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(
                    "UPDATE clusters SET storage_class = 'other' WHERE id = %s", (cid,)
                )  # not the agent's
            store.new_epoch(cid, actor=Actor(label="test"))
            made = store.request_reconcile(cid, requested_by="test")
            store.mark_reconciles_served(cid, [made.request_id])

        await asyncio.to_thread(writes)
        heard = [await sink.next() for _ in range(4)]
        assert heard == [("changed", cid)] * 4, "generation, epoch, request, served"
        assert sink.events.empty(), "a settings change the payload does not carry is not announced"

    _run(database_url, scenario)


def test_a_rolled_back_change_is_never_announced(database_url: str, store: PostgresStore) -> None:
    rows = load_rows_via_api(store, fresh_ids(example_rows()))
    cid = rows.cluster.cluster_id
    marker = str(uuid.uuid4())

    async def scenario(sink: Sink) -> None:
        def writes() -> None:
            with psycopg.connect(database_url) as conn:
                conn.execute("UPDATE clusters SET generation = generation + 1 WHERE id = %s", (cid,))
                conn.rollback()
                conn.execute("SELECT pg_notify('starform_cluster_changed', %s)", (marker,))
                conn.commit()

        await asyncio.to_thread(writes)
        assert await sink.next() == ("changed", marker), "only the committed notification arrives"

    _run(database_url, scenario)


def test_the_feed_says_lost_then_resynced_when_its_connection_dies(database_url: str) -> None:
    async def scenario(sink: Sink) -> None:
        def kill() -> list[tuple[bool]]:
            with psycopg.connect(database_url, autocommit=True) as conn:
                return conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name ="
                    " 'starbase-listener' AND datname = current_database()"
                ).fetchall()

        assert await asyncio.to_thread(kill) == [(True,)]
        assert await sink.next() == ("lost", None)
        assert await sink.next() == ("resynced", None)

    _run(database_url, scenario)
