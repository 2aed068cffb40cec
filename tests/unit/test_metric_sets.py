"""Metric sets: metrics declared once as class attributes, made on the registry a set is given;
every metric Starbase and Shuttle declare is in the docs."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from starform_apps.metric_sets import Declared, MetricSet, counter, declarations, gauge, histogram
from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.usage_metrics import UsageMetrics
from starform_apps.starbase.billing.metrics import BillingMetrics
from starform_apps.starbase.deploy.metrics import DeployMetrics
from starform_apps.starbase.metrics import Metrics

DOCS = Path(__file__).resolve().parents[2] / "docs"
SETS = (Metrics, BillingMetrics, DeployMetrics, ShuttleMetrics, UsageMetrics)


class _Example(MetricSet):
    calls = counter("example_calls", "Calls by outcome", "outcome")
    depth = gauge("example_depth", "Items waiting")
    seconds = histogram("example_seconds", "Call time", "verb", buckets=(0.1, 1.0))


def test_a_set_makes_each_declared_metric_on_its_registry() -> None:
    registry = CollectorRegistry()
    made = _Example(registry)
    assert isinstance(made.calls, Counter)
    assert isinstance(made.depth, Gauge)
    assert isinstance(made.seconds, Histogram)
    made.calls.labels(outcome="ok").inc(2)
    made.seconds.labels(verb="get").observe(0.5)
    assert registry.get_sample_value("example_calls_total", {"outcome": "ok"}) == 2
    assert registry.get_sample_value("example_seconds_bucket", {"verb": "get", "le": "1.0"}) == 1
    assert registry.get_sample_value("example_seconds_bucket", {"verb": "get", "le": "0.1"}) == 0
    assert made.registry is registry


def test_the_class_keeps_the_declarations_in_order() -> None:
    assert isinstance(_Example.calls, Declared)
    assert [(attribute, d.name, d.labels) for attribute, d in declarations(_Example)] == [
        ("calls", "example_calls", ("outcome",)),
        ("depth", "example_depth", ()),
        ("seconds", "example_seconds", ("verb",)),
    ]


def test_sets_on_separate_registries_do_not_clash_and_one_registry_refuses_a_name_twice() -> None:
    first, second = _Example(CollectorRegistry()), _Example(CollectorRegistry())
    first.depth.set(3)
    assert second.registry.get_sample_value("example_depth") == 0
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        _Example(first.registry)


@pytest.mark.parametrize("metric_set", SETS, ids=lambda cls: cls.__name__)
def test_every_declared_metric_is_documented(metric_set: type[MetricSet]) -> None:
    docs = "\n".join(page.read_text(encoding="utf-8") for page in DOCS.rglob("*.md"))
    names = [declared.name for _attribute, declared in declarations(metric_set)]
    assert names, metric_set
    assert [name for name in names if name not in docs] == []


def test_starbase_and_shuttle_declare_each_metric_name_once() -> None:
    names = [declared.name for cls in SETS for _attribute, declared in declarations(cls)]
    assert len(names) == len(set(names))


STARBASE_SETS = (Metrics, BillingMetrics, DeployMetrics)
"""The sets on a Starbase app's registry: under ``serve --workers`` every worker writes them."""


def test_each_starbase_gauge_declares_how_workers_combine() -> None:
    modes = {
        declared.name: declared.multiprocess_mode
        for cls in STARBASE_SETS
        for _attribute, declared in declarations(cls)
        if declared.kind is Gauge
    }
    assert modes == {
        "starbase_cluster_generation": "mostrecent",
        "starbase_payload_cache_bytes": "livesum",
        "starbase_desired_state_held_polls": "livesum",
        "starbase_change_listener_connected": "livemin",
        "starbase_event_streams_open": "livesum",
    }


def test_a_declared_mode_reaches_the_gauge_and_only_a_gauge_takes_one() -> None:
    class _Modes(MetricSet):
        held = gauge("example_held", "Held now", multiprocess_mode="livesum")
        plain = gauge("example_plain", "Default mode")

    made = _Modes(CollectorRegistry())
    assert made.held._multiprocess_mode == "livesum"
    assert made.plain._multiprocess_mode == "all", "prometheus_client's default when none is declared"
    with pytest.raises(ValueError, match="only a gauge has a multiprocess mode"):
        Declared(Counter, "example_calls", "Calls", multiprocess_mode="livesum")
