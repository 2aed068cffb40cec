"""Sets of half-open time intervals on an integer (microsecond) axis.

The metering rule is stated in these terms: the time a pod is billed for is the *measure of the
union* of the intervals in which it was observed. Union and difference make that rule
order-independent and idempotent by construction. The PostgreSQL ingestion mirrors these
operations with ``tstzmultirange`` (``+`` union, ``-`` difference, ``*`` intersection).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

__all__ = ["IntervalSet"]

Span = tuple[int, int]


def _normalise(spans: Iterable[Span]) -> tuple[Span, ...]:
    merged: list[list[int]] = []
    for start, end in sorted(s for s in spans if s[0] < s[1]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((a, b) for a, b in merged)


@attrs.frozen
class IntervalSet:
    """A finite union of disjoint, non-adjacent, non-empty ``[start, end)`` spans, sorted."""

    spans: tuple[Span, ...] = attrs.field(default=(), converter=_normalise)

    @classmethod
    def of(cls, start: int, end: int) -> IntervalSet:
        """The single span ``[start, end)`` (empty when ``end <= start``)."""
        return cls(((start, end),))

    def __iter__(self) -> Iterator[Span]:
        return iter(self.spans)

    def __bool__(self) -> bool:
        return bool(self.spans)

    @property
    def measure(self) -> int:
        """The total length of the spans."""
        return sum(end - start for start, end in self.spans)

    def union(self, other: IntervalSet) -> IntervalSet:
        """Every point in either set."""
        return IntervalSet(self.spans + other.spans)

    def intersection(self, other: IntervalSet) -> IntervalSet:
        """Every point in both sets."""
        out: list[Span] = []
        i = j = 0
        while i < len(self.spans) and j < len(other.spans):
            start = max(self.spans[i][0], other.spans[j][0])
            end = min(self.spans[i][1], other.spans[j][1])
            if start < end:
                out.append((start, end))
            if self.spans[i][1] < other.spans[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet(out)

    def difference(self, other: IntervalSet) -> IntervalSet:
        """Every point in this set and not in ``other``."""
        out: list[Span] = []
        for start, end in self.spans:
            cursor = start
            for o_start, o_end in other.spans:
                if o_end <= cursor or o_start >= end:
                    continue
                if o_start > cursor:
                    out.append((cursor, o_start))
                cursor = max(cursor, o_end)
                if cursor >= end:
                    break
            if cursor < end:
                out.append((cursor, end))
        return IntervalSet(out)
