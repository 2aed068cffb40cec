"""Fault injection: rules that make matching requests fail, slow down or drop the connection.

A rule matches on verb, method and a path regular expression and fires with a probability
drawn from a seeded :class:`random.Random`, so a run is reproducible. ``max_times`` bounds
how often a rule fires. Actions:

* ``error``: answer ``status`` (500 by default) with a ``Status`` body;
* ``throttle``: answer ``429 TooManyRequests`` with a ``Retry-After`` header;
* ``conflict``: answer ``409 Conflict``;
* ``drop``: send the response head and part of the body, then abort the connection;
* ``delay``: wait ``delay_seconds``, then serve the request normally.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterable

import attrs

__all__ = ["FaultInjector", "FaultRule"]

_ACTIONS = ("error", "throttle", "conflict", "drop", "delay")


def _verbs(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


def _methods(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(m.upper() for m in value)


@attrs.frozen
class FaultRule:
    """One fault to inject; see the module docstring for the actions."""

    action: str = attrs.field(validator=attrs.validators.in_(_ACTIONS))
    probability: float = attrs.field(default=1.0, kw_only=True)
    verbs: frozenset[str] | None = attrs.field(default=None, kw_only=True, converter=_verbs)
    methods: frozenset[str] | None = attrs.field(default=None, kw_only=True, converter=_methods)
    path_pattern: str | None = attrs.field(default=None, kw_only=True)
    status: int = attrs.field(default=500, kw_only=True)
    retry_after: int = attrs.field(default=1, kw_only=True)
    delay_seconds: float = attrs.field(default=0.0, kw_only=True)
    max_times: int | None = attrs.field(default=None, kw_only=True)

    def matches(self, method: str, path: str, verb: str) -> bool:
        """Whether the request is in scope for this rule (ignoring probability)."""
        if self.verbs is not None and verb not in self.verbs:
            return False
        if self.methods is not None and method.upper() not in self.methods:
            return False
        return self.path_pattern is None or re.search(self.path_pattern, path) is not None


@attrs.define
class _Slot:
    rule: FaultRule
    count: int = 0


class FaultInjector:
    """Holds the active rules and decides, per request, which one (if any) fires."""

    def __init__(self, *, seed: int = 0) -> None:
        self._rules: list[_Slot] = []
        self._rng = random.Random(seed)  # noqa: S311 - reproducible faults
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        """Activate ``rule`` (rules are tried in the order they were added)."""
        with self._lock:
            self._rules.append(_Slot(rule))

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def reseed(self, seed: int) -> None:
        """Restart the random sequence."""
        with self._lock:
            self._rng = random.Random(seed)  # noqa: S311 - reproducible faults

    def fired(self) -> int:
        """How many times any rule fired since the rules were added."""
        with self._lock:
            return sum(slot.count for slot in self._rules)

    def pick(self, method: str, path: str, verb: str) -> FaultRule | None:
        """The rule that fires for this request, or ``None``."""
        with self._lock:
            for slot in self._rules:
                rule = slot.rule
                if rule.max_times is not None and slot.count >= rule.max_times:
                    continue
                if not rule.matches(method, path, verb):
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                slot.count += 1
                return rule
        return None
