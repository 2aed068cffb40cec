"""Billing months: calendar months in UTC, the period an invoice covers."""

from __future__ import annotations

import datetime as dt
import re

import attrs

from starform_core.errors import ValidationError

__all__ = ["BillingMonth", "as_utc", "from_micros", "micros"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def as_utc(field: str, value: dt.datetime) -> dt.datetime:
    """``value`` in UTC; a naive datetime is refused (its zone would be a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, "must carry a time zone (UTC offset)")
    return value.astimezone(dt.UTC)


def micros(value: dt.datetime) -> int:
    """Microseconds since the Unix epoch (exact: datetimes have microsecond resolution)."""
    return (value - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> dt.datetime:
    """The UTC datetime ``value`` microseconds after the Unix epoch."""
    return _EPOCH + dt.timedelta(microseconds=value)


@attrs.frozen(order=True)
class BillingMonth:
    """One calendar month in UTC: ``[start, end)``."""

    year: int = attrs.field()
    month: int = attrs.field()

    @year.validator
    def _check_year(self, _attribute: object, value: int) -> None:
        if not 2000 <= value <= 9998:
            raise ValidationError("month", "the year must be between 2000 and 9998")

    @month.validator
    def _check_month(self, _attribute: object, value: int) -> None:
        if not 1 <= value <= 12:
            raise ValidationError("month", "the month must be between 01 and 12")

    @classmethod
    def parse(cls, text: str) -> BillingMonth:
        """Parse ``YYYY-MM`` (``2026-11``)."""
        match = _MONTH.match(text.strip())
        if match is None:
            raise ValidationError("month", f"{text!r} is not a month in YYYY-MM form")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, instant: dt.datetime) -> BillingMonth:
        """The month an instant falls in (in UTC)."""
        utc = as_utc("instant", instant)
        return cls(utc.year, utc.month)

    @property
    def start(self) -> dt.datetime:
        """The first instant of the month (00:00 UTC on the 1st)."""
        return dt.datetime(self.year, self.month, 1, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """The first instant after the month (the next month's start)."""
        return self.next().start

    @property
    def micros(self) -> int:
        """The month's length in microseconds (28 to 31 days)."""
        return micros(self.end) - micros(self.start)

    @property
    def first_day(self) -> dt.date:
        """The month's first day, as stored in ``date`` columns."""
        return dt.date(self.year, self.month, 1)

    def next(self) -> BillingMonth:
        """The following month."""
        return BillingMonth(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> BillingMonth:
        """The preceding month."""
        return BillingMonth(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
