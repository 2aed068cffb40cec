"""A door to Starbase the test can close: the same app served on a port of its own.

Closing it is a Starbase outage as an agent sees it (connection refused); opening it again
serves on the same port, so the agent's configured URL works again.
"""

from __future__ import annotations

import socket

from starform_apps.starbase.server import ServerThread
from starform_testkit.starbase import RunningStarbase


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Door:
    """Serves ``starbase``'s app on ``url`` while open."""

    def __init__(self, starbase: RunningStarbase) -> None:
        self._app = starbase.starbase.app
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: ServerThread | None = None
        self.open()

    @property
    def is_open(self) -> bool:
        """True while it serves."""
        return self._server is not None

    def open(self) -> None:
        """Serve on the door's port."""
        if self._server is None:
            self._server = ServerThread(self._app, port=self.port)
            self._server.start()

    def close(self) -> None:
        """Stop serving: connections are refused until :meth:`open`."""
        if self._server is not None:
            self._server.stop()
            self._server = None
