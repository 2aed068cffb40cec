"""Which payload may replace the one an agent holds: ordered by ``(epoch, generation)``.

Within an epoch the generation never goes backwards (a stale or replayed payload is refused);
a greater epoch is a new history (after a restore of Starbase's database) and is accepted
whatever its generation; a smaller epoch is an old history and is refused, so a payload
replayed from before a restore cannot roll a cluster back either.
"""

from __future__ import annotations

import enum

__all__ = ["PayloadVerdict", "Version", "judge_payload"]

Version = tuple[int, int]
"""``(epoch, generation)``."""


class PayloadVerdict(enum.StrEnum):
    """How an offered payload compares with the one held."""

    FIRST = "first"
    """Nothing is held yet: accept."""
    NEW_EPOCH = "new-epoch"
    """A newer history: accept and apply it from scratch."""
    FORWARD = "forward"
    """The same epoch, the same or a newer generation: accept."""
    STALE = "stale"
    """The same epoch, an older generation: refuse."""
    STALE_EPOCH = "stale-epoch"
    """An older epoch: refuse."""

    @property
    def accepted(self) -> bool:
        """True when the offered payload replaces the held one."""
        return self in (PayloadVerdict.FIRST, PayloadVerdict.NEW_EPOCH, PayloadVerdict.FORWARD)


def judge_payload(held: Version | None, offered: Version) -> PayloadVerdict:
    """The verdict on ``offered`` when ``held`` is in force (``None``: nothing held)."""
    if held is None:
        return PayloadVerdict.FIRST
    if offered[0] > held[0]:
        return PayloadVerdict.NEW_EPOCH
    if offered[0] < held[0]:
        return PayloadVerdict.STALE_EPOCH
    return PayloadVerdict.FORWARD if offered[1] >= held[1] else PayloadVerdict.STALE
