"""Plan periods: which tier a project was on, over time.

A project's plan (its tier, ``projects.tier``) can change mid-month. Starbase records every
tier as a period ``[start, end)`` (``end`` ``None`` while it lasts); usage is rated with the
prices of the tier in force when it happened, and the tier's monthly fee and plan credit are
prorated over the part of the month the period covers. Usage outside every period of its
project (before the project existed) is not billed.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence

import attrs

from starform_core.billing.intervals import IntervalSet
from starform_core.billing.months import BillingMonth, as_utc, micros
from starform_core.errors import ValidationError
from starform_core.model.enums import Tier

__all__ = ["PlanPeriod", "PlanTimeline"]

_FOREVER = 1 << 62


def _start_utc(value: dt.datetime) -> dt.datetime:
    return as_utc("start", value)


def _end_utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else as_utc("end", value)


@attrs.frozen
class PlanPeriod:
    """A project on one tier during ``[start, end)``; ``end`` is ``None`` while it lasts."""

    project_id: str
    workspace_id: str
    tier: Tier = attrs.field(converter=Tier)
    start: dt.datetime = attrs.field(converter=_start_utc)
    end: dt.datetime | None = attrs.field(default=None, converter=_end_utc)
    project_name: str = attrs.field(default="", kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.end is not None and self.end <= self.start:
            raise ValidationError("end", "a plan period must end after it starts")

    @property
    def span(self) -> IntervalSet:
        """The period in microseconds (an open period runs to the far future)."""
        return IntervalSet.of(micros(self.start), _FOREVER if self.end is None else micros(self.end))

    def within(self, month: BillingMonth) -> IntervalSet:
        """The part of the period inside ``month``."""
        return self.span.intersection(IntervalSet.of(micros(month.start), micros(month.end)))


@attrs.frozen
class PlanTimeline:
    """Every plan period of a set of projects, looked up by project."""

    periods: Mapping[str, tuple[PlanPeriod, ...]]

    @classmethod
    def of(cls, periods: Iterable[PlanPeriod]) -> PlanTimeline:
        """Group periods by project (sorted by start); overlapping periods are refused."""
        grouped: dict[str, list[PlanPeriod]] = {}
        for period in periods:
            grouped.setdefault(period.project_id, []).append(period)
        ordered: dict[str, tuple[PlanPeriod, ...]] = {}
        for project_id, items in grouped.items():
            items.sort(key=lambda p: p.start)
            for before, after in itertools.pairwise(items):
                if before.end is None or before.end > after.start:
                    raise ValidationError("plan_periods", f"periods of project {project_id} overlap")
            ordered[project_id] = tuple(items)
        return cls(ordered)

    def of_project(self, project_id: str) -> Sequence[PlanPeriod]:
        """The project's periods, oldest first."""
        return self.periods.get(project_id, ())

    def split(self, project_id: str, spans: IntervalSet) -> list[tuple[Tier, IntervalSet]]:
        """``spans`` cut by the project's periods: ``(tier, part)`` for each non-empty part."""
        parts = []
        for period in self.of_project(project_id):
            part = spans.intersection(period.span)
            if part:
                parts.append((period.tier, part))
        return parts
