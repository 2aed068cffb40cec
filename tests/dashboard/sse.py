"""A Server-Sent Events reader for tests: parses frames on a thread, hands them over a queue."""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

import attrs
import httpx

from starform_apps.starbase.event_stream import StreamLimits

QUICK_STREAMS = StreamLimits(heartbeat_seconds=0.2, poll_seconds=0.05)
"""Event streams that heartbeat often: a closed test reader ends at the next line."""


@attrs.frozen
class Frame:
    """One frame: its id, event name (``message`` by default), data, or a comment line."""

    id: str | None = None
    event: str = "message"
    data: str = ""
    comment: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """The data as JSON."""
        return json.loads(self.data)


class SseReader:
    """Reads one stream in the background; :meth:`next` waits (with a deadline) for a frame."""

    ENDED = Frame(event="<end of stream>")

    def __init__(self, client: httpx.Client, url: str, *, headers: dict[str, str] | None = None) -> None:
        self._frames: queue.Queue[Frame] = queue.Queue()
        self._stop = threading.Event()
        self.status: int | None = None
        self.headers: httpx.Headers | None = None
        self._response: httpx.Response | None = None
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(client, url, headers or {}), daemon=True)
        self._thread.start()
        if not self._opened.wait(30):
            raise AssertionError("the stream did not answer")

    def _read(self, client: httpx.Client, url: str, headers: dict[str, str]) -> None:
        try:
            with client.stream("GET", url, headers=headers, timeout=httpx.Timeout(30, read=60)) as response:
                self.status, self.headers = response.status_code, response.headers
                self._response = response
                self._opened.set()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    fields = self._line(line, fields)
        except (httpx.HTTPError, OSError, ValueError):
            pass  # closed by close(), or the server went away: the stream ended
        finally:
            self._opened.set()
            self._frames.put(self.ENDED)

    def _line(self, line: str, fields: dict[str, str]) -> dict[str, str]:
        if line == "":
            if fields:
                retry = fields.pop("retry", None)
                self._frames.put(Frame(retry=None if retry is None else int(retry), **fields))
            return {}
        if line.startswith(":"):
            self._frames.put(Frame(comment=line[1:].strip()))
            return fields
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        fields[name] = fields[name] + "\n" + value if name == "data" and name in fields else value
        return fields

    def next(self, *, timeout: float = 15.0) -> Frame:
        """The next frame (AssertionError when none came before the deadline)."""
        try:
            return self._frames.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no frame within {timeout}s") from None

    def next_event(self, *, timeout: float = 15.0) -> Frame:
        """The next frame that is not a comment or a retry advice."""
        while True:
            frame = self.next(timeout=timeout)
            if frame.comment is None and frame.retry is None:
                return frame

    def close(self) -> None:
        """Stop reading and close the connection; waits for the reader to end."""
        self._stop.set()
        if self._response is not None:
            self._response.close()
        self._thread.join(timeout=30)
