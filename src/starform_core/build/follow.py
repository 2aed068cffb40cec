"""Follow a build's log while it runs: poll pages after a cursor until the build is over."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from starform_core.build.values import LogLine
from starform_core.ports.build import BuildService

__all__ = ["follow_logs"]


def follow_logs(
    service: BuildService,
    build_id: str,
    *,
    pause: Callable[[], bool],
    after: int = 0,
    page_size: int = 500,
) -> Iterator[LogLine]:
    """Yield every log line after ``after`` until the build is over and its log fully read.

    ``pause`` is called when a poll brought nothing new; it waits as the caller sees fit (the
    core has no clock) and returns False to stop following early (a client went away, a
    deadline passed).
    """
    cursor = after
    while True:
        page = service.logs(build_id, after=cursor, limit=page_size)
        yield from page.lines
        cursor = page.next_after
        if page.complete:
            return
        if not page.lines and not pause():
            return
