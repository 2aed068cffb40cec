"""Cluster change notifications over PostgreSQL ``LISTEN``: one connection per Starbase process.

Migration 0008's triggers ``NOTIFY`` :data:`CHANNEL` with a cluster id whenever something its
agent must see is committed. :class:`PostgresClusterChanges` keeps one autocommit connection
listening, hands every notification to the sink, checks the connection with a ``SELECT 1`` when
it has been quiet for ``health_check_seconds`` (so a silently dead peer is noticed), and after
any failure reconnects with exponential backoff and jitter (tenacity), telling the sink ``lost``
then ``resynced``: notifications sent while nobody listened are gone, so everything is re-checked.
"""

from __future__ import annotations

import psycopg
import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from starform_core.ports.notifications import ChangeSink

__all__ = ["CHANNEL", "PostgresClusterChanges"]

CHANNEL = "starform_cluster_changed"
"""The channel migration 0008's triggers notify (payload: the cluster id)."""

_log = structlog.get_logger("starbase.notifications")


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    _log.warning(
        "change listener cannot connect to PostgreSQL; retrying",
        attempt=state.attempt_number,
        error=type(error).__name__ if error is not None else None,
    )


class PostgresClusterChanges:
    """Follows :data:`CHANNEL` on its own connection (implements ``ClusterChanges``)."""

    def __init__(
        self,
        conninfo: str,
        *,
        health_check_seconds: float = 15.0,
        backoff_initial: float = 0.05,
        backoff_max: float = 5.0,
        connect_timeout: int = 10,
    ) -> None:
        self._conninfo = conninfo
        self._health_check = health_check_seconds
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._connect_timeout = connect_timeout

    async def _connect(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(psycopg.Error),
            wait=wait_exponential_jitter(multiplier=self._backoff_initial, max=self._backoff_max),
            before_sleep=_log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                conn = await psycopg.AsyncConnection.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=self._connect_timeout,
                    application_name="starbase-listener",
                )
                await conn.execute(f"LISTEN {CHANNEL}")
                return conn
        raise AssertionError("unreachable: tenacity retries until it returns or raises")

    async def _relay(self, conn: psycopg.AsyncConnection[tuple[object, ...]], sink: ChangeSink) -> None:
        """Hand notifications to the sink until the connection fails."""
        while True:
            heard = 0
            async for note in conn.notifies(timeout=self._health_check):
                heard += 1
                sink.changed(note.payload)
            if heard == 0:
                await conn.execute("SELECT 1")  # quiet for a while: is the server still there?

    async def follow(self, sink: ChangeSink) -> None:
        """Relay notifications to ``sink`` until cancelled, reconnecting after every failure."""
        while True:
            conn = await self._connect()
            try:
                sink.resynced()
                await self._relay(conn, sink)
            except psycopg.Error as exc:
                _log.warning("change listener lost its PostgreSQL connection", error=type(exc).__name__)
            finally:
                sink.lost()
                await conn.close()
