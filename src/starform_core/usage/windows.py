"""Usage windows: contiguous ``[start, end)`` intervals on a grid, each at most five minutes.

Windows end on the grid (multiples of the snapshot interval since the Unix epoch, so a 60-second
interval closes a window on every minute), and each starts where the previous one ended: the
first one where observation began. Time the agent could not observe (it was stopped, or its
clock jumped) is covered by as many windows as it takes, none longer than
:data:`MAX_WINDOW` (what Starbase accepts).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import attrs

__all__ = ["MAX_WINDOW", "UsageWindow", "due_windows", "grid_floor", "snapshot_id", "wire_time"]

MAX_WINDOW: Final = dt.timedelta(seconds=300)
"""The longest window a snapshot may cover (Starbase refuses longer ones)."""

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@attrs.frozen
class UsageWindow:
    """One window ``[start, end)``."""

    start: dt.datetime
    end: dt.datetime


def grid_floor(when: dt.datetime, interval: dt.timedelta) -> dt.datetime:
    """The last grid point at or before ``when`` (the grid: multiples of ``interval`` since the epoch)."""
    step = _micros(interval)
    return _EPOCH + dt.timedelta(microseconds=(_micros(when - _EPOCH) // step) * step)


def due_windows(
    last_end: dt.datetime, now: dt.datetime, *, interval: dt.timedelta, max_window: dt.timedelta = MAX_WINDOW
) -> list[UsageWindow]:
    """The windows to close at ``now``: from ``last_end`` to the last grid point before ``now``,
    cut on the grid, each at most ``max_window`` long (none when no grid point was passed)."""
    if interval <= dt.timedelta(0) or interval > max_window:
        raise ValueError(f"the interval must be positive and at most {max_window.total_seconds():g} s")
    goal = grid_floor(now, interval)
    windows = []
    start = last_end
    while start < goal:
        end = min(goal, grid_floor(start + max_window, interval))  # > start: max_window >= interval
        windows.append(UsageWindow(start, end))
        start = end
    return windows


def wire_time(when: dt.datetime) -> str:
    """A time as Starbase reads it: RFC 3339 in UTC with ``Z`` (microseconds only when set)."""
    text = when.astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    return f"{text}Z"


def snapshot_id(cluster_id: str, window: UsageWindow) -> str:
    """The snapshot's stable id: ``<cluster_id>:<window start>`` (the same on every retry)."""
    return f"{cluster_id}:{wire_time(window.start)}"


def _micros(delta: dt.timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
