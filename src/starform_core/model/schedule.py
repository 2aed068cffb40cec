"""Cron schedules and time zones as a Kubernetes CronJob takes them.

A schedule is what the CronJob controller's parser (robfig/cron ``ParseStandard``) accepts,
checked with :mod:`cronsim` (a well-kept cron parser) and narrowed to that dialect:

* five fields (minute, hour, day of month, month, day of week) separated by spaces or tabs, or
  one of the macros ``@yearly``, ``@annually``, ``@monthly``, ``@weekly``, ``@daily``,
  ``@midnight``, ``@hourly`` (lower case, as the controller spells them);
* each field a list of ``*``, ``?`` (same as ``*``), values or ``a-b`` ranges with an optional
  ``/step``; month and weekday names (``JAN``, ``MON``) in any case; weekdays 0-6;
* not accepted, as the controller refuses them: seconds or year fields, ``L``, ``W``, ``#``,
  ``@every``, ``TZ=``/``CRON_TZ=`` prefixes (the time zone is its own field);
* refused although the controller would take it: a schedule that can never fire
  (``0 0 31 2 *``).

A time zone is a key of the IANA tz database as the pinned ``tzdata`` package ships it
(``Europe/Berlin``, ``UTC``), each part at most 14 characters (the API server's rule).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from importlib import resources
from typing import Final

from cronsim import CronSim, CronSimError

from starform_core.errors import ValidationError
from starform_core.validation import fullmatch, remembered

__all__ = ["CRON_MACROS", "check_cron_schedule", "check_time_zone", "time_zones"]

CRON_MACROS: Final = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
"""The macros the CronJob controller accepts (``@every`` is not part of the contract)."""

_SCHEDULE_MAX: Final = 200
_FIELDS: Final = re.compile(r"[0-9A-Za-z*?,/-]+(?:[ \t]+[0-9A-Za-z*?,/-]+){4}")
_LETTERS: Final = re.compile(r"[A-Za-z]+")
_ZONE_PART: Final = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")
_WEEKDAY_MAX: Final = 6
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)


def _weekdays_in_range(field: str) -> bool:
    """True when every weekday value (not step) is 0-6: the controller has no 7 for Sunday."""
    for term in field.split(","):
        values = term.split("/", 1)[0]
        for value in values.split("-"):
            if value.isdigit() and int(value) > _WEEKDAY_MAX:
                return False
    return True


@remembered
def check_cron_schedule(field: str, value: str) -> None:
    """Validate a CronJob schedule (see the module docstring for the dialect)."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    if value in CRON_MACROS:
        return
    if len(value) > _SCHEDULE_MAX or not fullmatch(_FIELDS, value):
        raise ValidationError(
            field, "must be five cron fields (minute hour day-of-month month day-of-week) or a macro"
        )
    fields = value.split()
    try:
        CronSim(" ".join("*" if part == "?" else part for part in fields), _EPOCH)
    except (CronSimError, ValueError, IndexError) as exc:
        reason = str(exc).lower() if isinstance(exc, CronSimError) else "invalid field"
        raise ValidationError(field, f"is not a valid cron schedule ({reason})") from exc
    if _LETTERS.search(" ".join(fields[:3])) or any(
        len(run) != 3 for run in _LETTERS.findall(" ".join(fields[3:]))
    ):
        raise ValidationError(
            field, "only month and weekday names may be letters (L, W and # are not CronJob syntax)"
        )
    if not _weekdays_in_range(fields[4]):
        raise ValidationError(field, "day of week must be 0-6 or SUN-SAT (7 is not CronJob syntax)")


@functools.cache
def time_zones() -> frozenset[str]:
    """Every key of the IANA tz database as the pinned ``tzdata`` package ships it."""
    text = resources.files("tzdata").joinpath("zones").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def check_time_zone(field: str, value: str) -> None:
    """Validate a CronJob time zone: a tz database key such as ``Europe/Berlin`` or ``UTC``."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    if not all(fullmatch(_ZONE_PART, part) for part in value.split("/")) or value not in time_zones():
        raise ValidationError(field, "is not a time zone of the IANA tz database (e.g. Europe/Berlin)")
