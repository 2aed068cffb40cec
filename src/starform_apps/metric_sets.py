"""Prometheus metrics declared as class attributes, made on the registry a set is given.

A metric set lists its metrics once, as data::

    class DeployMetrics(MetricSet):
        builds = counter("starbase_builds_finished", "Builds by the state they ended in", "state")

and ``DeployMetrics(registry)`` makes each one on ``registry``, as an instance attribute of
the declared name (``metrics.builds`` is the ``prometheus_client.Counter``). Starbase's, billing's,
push to deploy's and Shuttle's metrics are declared so.

A gauge may declare how prometheus_client's multiprocess mode combines the values of several
processes (``gauge(..., multiprocess_mode="livesum")``): ``starbase serve --workers N`` reports
its workers together, so each of Starbase's gauges declares one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, Literal, TypeVar, overload

import attrs
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Declared", "GaugeMode", "MetricSet", "counter", "declarations", "gauge", "histogram"]

M = TypeVar("M", Counter, Gauge, Histogram)

GaugeMode = Literal[
    "all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum", "mostrecent", "livemostrecent"
]
"""How a gauge's values from several processes combine (prometheus_client's ``multiprocess_mode``):
``live*`` modes count only running processes, ``all`` keeps one series per process (a ``pid`` label)."""


@attrs.frozen
class Declared(Generic[M]):
    """One metric of a set: its kind, name, help text, label names, (histograms) buckets and
    (gauges) multiprocess mode (``None``: prometheus_client's default, ``all``)."""

    kind: type[M]
    name: str
    documentation: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    multiprocess_mode: GaugeMode | None = attrs.field(default=None, kw_only=True)

    @multiprocess_mode.validator
    def _only_gauges(self, _attribute: attrs.Attribute[Any], value: GaugeMode | None) -> None:
        if value is not None and self.kind is not Gauge:
            raise ValueError(f"{self.name}: only a gauge has a multiprocess mode")

    def make(self, registry: CollectorRegistry) -> M:
        """The metric itself, registered on ``registry``."""
        options: dict[str, Any] = {} if self.buckets is None else {"buckets": self.buckets}
        if self.multiprocess_mode is not None:
            options["multiprocess_mode"] = self.multiprocess_mode
        return self.kind(self.name, self.documentation, self.labels, registry=registry, **options)

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Declared[M]: ...

    @overload
    def __get__(self, instance: MetricSet, owner: type[Any]) -> M: ...

    def __get__(self, instance: MetricSet | None, owner: type[Any]) -> Declared[M] | M:
        """The declaration on the class; on a set, the metric (made by ``MetricSet.__init__``,
        whose instance attribute shadows this)."""
        if instance is None:
            return self
        raise AttributeError(f"{owner.__name__} did not make its metrics (MetricSet.__init__ not called)")


def counter(name: str, documentation: str, *labels: str) -> Declared[Counter]:
    """A counter, labelled by ``labels``."""
    return Declared(Counter, name, documentation, labels)


def gauge(
    name: str, documentation: str, *labels: str, multiprocess_mode: GaugeMode | None = None
) -> Declared[Gauge]:
    """A gauge, labelled by ``labels``; ``multiprocess_mode`` says how several processes' values
    combine (``None``: prometheus_client's default, one series per process)."""
    return Declared(Gauge, name, documentation, labels, multiprocess_mode=multiprocess_mode)


def histogram(
    name: str, documentation: str, *labels: str, buckets: tuple[float, ...] | None = None
) -> Declared[Histogram]:
    """A histogram, labelled by ``labels``, with ``buckets`` (prometheus_client's by default)."""
    return Declared(Histogram, name, documentation, labels, buckets)


class MetricSet:
    """Makes every metric its class declares (in declaration order) on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        for attribute, declared in declarations(type(self)):
            setattr(self, attribute, declared.make(registry))


def declarations(cls: type[MetricSet]) -> Iterator[tuple[str, Declared[Any]]]:
    """The metrics ``cls`` declares, base classes' first, each by its attribute name."""
    seen: set[str] = set()
    for klass in reversed(cls.__mro__):
        for attribute, value in vars(klass).items():
            if isinstance(value, Declared) and attribute not in seen:
                seen.add(attribute)
                yield attribute, value
