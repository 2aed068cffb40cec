"""The ``Prefer: wait=N`` request preference (RFC 7240) of the desired-state long-poll.

Preferences are comma-separated ``token[=value]`` items, each with optional ``;`` parameters;
names are case-insensitive and only the first ``wait`` counts (RFC 7240, section 2). ``wait`` takes
delta-seconds: a whole number, optionally quoted. Starbase holds a request at most
:data:`MAX_WAIT_SECONDS`: a longer (or shorter than :data:`MIN_WAIT_SECONDS`) wait is clamped
into range and ``Preference-Applied`` says what was applied. A ``wait`` that is not a number is
ignored, as RFC 7240 asks of preferences a server cannot honour: the answer comes at once.
"""

from __future__ import annotations

__all__ = ["MAX_WAIT_SECONDS", "MIN_WAIT_SECONDS", "wait_preference"]

MIN_WAIT_SECONDS = 1
MAX_WAIT_SECONDS = 60
_MAX_DIGITS = 12


def _first_wait(headers: list[str]) -> str | None:
    for header in headers:
        for item in header.split(","):
            name, sep, value = item.split(";", 1)[0].partition("=")
            if name.strip().lower() == "wait":
                return value.strip() if sep else ""
    return None


def wait_preference(headers: list[str]) -> int | None:
    """The seconds to hold for, from every ``Prefer`` header of a request (``None``: answer now)."""
    value = _first_wait(headers)
    if value is None:
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].strip()
    if not value.isascii() or not value.isdigit():
        return None
    if len(value) > _MAX_DIGITS:
        return MAX_WAIT_SECONDS
    return min(max(int(value), MIN_WAIT_SECONDS), MAX_WAIT_SECONDS)
