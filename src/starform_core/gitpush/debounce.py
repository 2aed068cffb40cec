"""Debouncing rapid pushes (§16.11): a build waits :data:`DEBOUNCE` after the last push to its
service and branch before it starts, and a push inside that window replaces the waiting build's
commit (the last push wins) instead of queueing another build."""

from __future__ import annotations

import datetime as dt

__all__ = ["DEBOUNCE", "debounce_until"]

DEBOUNCE = dt.timedelta(seconds=5)
"""How long a queued build waits for a later push to the same service and branch."""


def debounce_until(pushed_at: dt.datetime, *, window: dt.timedelta = DEBOUNCE) -> dt.datetime:
    """When a build for a push received at ``pushed_at`` may start."""
    return pushed_at + window
