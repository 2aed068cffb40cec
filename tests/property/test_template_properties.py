"""Templates, as properties: inside the rules a change instantiates to a valid service; outside it
is refused naming the field; no change is the base; merge patches invert their diffs."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from starform_apps.starbase.template_files import shipped_templates
from starform_core.errors import TemplateError, TemplateRuleError
from starform_core.model import Service
from starform_core.model.tenant import TenantKey
from starform_core.quantity import parse_quantity
from starform_core.templates import (
    Template,
    instantiate,
    judge_change,
    merge_diff,
    merge_patch,
    spec_from_json,
    spec_to_json,
)

SHIPPED = {t.name: t for t in shipped_templates()}
TENANT = TenantKey(
    workspace_id="11111111-1111-4111-8111-111111111111",
    project_id="22222222-2222-4222-8222-222222222222",
    environment="production",
    service_id="33333333-3333-4333-8333-333333333333",
)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DIGEST = "@sha256:" + "ab" * 32


@st.composite
def _pair(
    draw: st.DrawFn, low: int, high: int, limit_low: int, limit_high: int, unit: str
) -> tuple[str, str]:
    """A request and a limit (limit >= request) inside the bounds, in ``unit`` (``m`` or ``Mi``)."""
    request = draw(st.integers(low, min(high, limit_high)))
    limit = draw(st.integers(max(limit_low, request), limit_high))
    return f"{request}{unit}", f"{limit}{unit}"


@st.composite
def minecraft_changes(draw: st.DrawFn) -> dict[str, Any]:
    """Changes the Minecraft template's rules allow (and the model accepts)."""
    changes: dict[str, Any] = {}
    if draw(st.booleans()):
        cpu_request, cpu_limit = draw(_pair(500, 4000, 1000, 8000, "m"))
        changes.setdefault("resources", {}).update(cpu_request=cpu_request, cpu_limit=cpu_limit)
    if draw(st.booleans()):
        memory_request, memory_limit = draw(_pair(1024, 16384, 1024, 16384, "Mi"))
        changes.setdefault("resources", {}).update(memory_request=memory_request, memory_limit=memory_limit)
    if draw(st.booleans()):
        changes["volumes"] = {"data": {"size": f"{draw(st.integers(10, 100))}Gi"}}
    if draw(st.booleans()):
        changes["replicas"] = draw(st.sampled_from([0, 1]))
    if draw(st.booleans()):
        changes["state"] = draw(st.sampled_from(["active", "paused"]))
    return changes


@st.composite
def web_changes(draw: st.DrawFn) -> dict[str, Any]:
    """Changes the web-app template's rules allow (and the model accepts)."""
    changes: dict[str, Any] = {}
    if draw(st.booleans()):
        name = draw(st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True))
        changes["image"] = f"registry.example.com/team/{name}{DIGEST}"
    if draw(st.booleans()):
        labels = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
        hosts = draw(st.lists(labels, max_size=5, unique=True))
        changes["hostnames"] = [f"{h}.example.com" for h in hosts]
    if draw(st.booleans()):
        low = draw(st.integers(1, 10))
        changes["replicas"] = None
        changes["autoscaling"] = {
            "min_replicas": low,
            "max_replicas": draw(st.integers(low, 20)),
            "target_cpu_percent": draw(st.integers(30, 90)),
        }
    elif draw(st.booleans()):
        changes["replicas"] = draw(st.integers(1, 10))
    if draw(st.booleans()):
        cpu_request, cpu_limit = draw(_pair(50, 2000, 100, 4000, "m"))
        changes["resources"] = {"cpu_request": cpu_request, "cpu_limit": cpu_limit}
    if draw(st.booleans()):
        changes["probes"] = {"readiness": {"path": "/ready", "period_seconds": draw(st.integers(1, 60))}}
    return changes


INSIDE = {"minecraft-server": minecraft_changes(), "web-app": web_changes()}


def _service(template: Template, changes: dict[str, Any]) -> Service:
    return instantiate(template, changes).service(TENANT, "svc")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_no_changes_is_the_base_spec(name: str) -> None:
    template = SHIPPED[name]
    assert instantiate(template, {}) == template.spec
    assert spec_from_json(template.base) == template.spec
    assert spec_to_json(instantiate(template, {})) == template.base


@pytest.mark.parametrize("name", sorted(INSIDE))
@FAST
@given(data=st.data())
def test_a_change_inside_the_rules_makes_a_service_the_model_accepts(name: str, data: st.DataObject) -> None:
    template = SHIPPED[name]
    changes = data.draw(INSIDE[name])
    spec = instantiate(template, changes)
    service = spec.service(TENANT, "svc")
    assert isinstance(service, Service)
    expected = merge_patch(template.base, changes)
    for key, value in changes.get("resources", {}).items():
        assert parse_quantity(getattr(spec.resources, key)) == parse_quantity(value)
    assert spec_to_json(spec)["type"] == template.base["type"], "the type never changes"
    if "replicas" in changes and changes["replicas"] is not None:
        assert spec.replicas == expected["replicas"]
    verdict = judge_change(template, template.spec, spec)
    assert verdict.within_rules, verdict.problems
    assert spec_from_json(spec_to_json(spec)) == spec


_OUTSIDE: dict[str, list[tuple[dict[str, Any], str]]] = {
    "minecraft-server": [
        ({"resources": {"memory_limit": "17Gi"}}, "/resources/memory_limit"),
        ({"resources": {"memory_request": "512Mi"}}, "/resources/memory_request"),
        ({"resources": {"cpu_limit": None}}, "/resources/cpu_limit"),
        ({"volumes": {"data": {"size": "9Gi"}}}, "/volumes/data/size"),
        ({"volumes": {"data": {"mount_path": "/world"}}}, "/volumes/data/mount_path"),
        ({"volumes": {"data": None}}, "/volumes/data"),
        ({"volumes": {"more": {"mount_path": "/more", "size": "1Gi"}}}, "/volumes/more"),
        ({"replicas": 3}, "/replicas"),
        ({"port": 25566}, "/port"),
        ({"public": True}, "/public"),
        ({"image": "docker.io/library/nginx" + DIGEST}, "/image"),
        ({"probes": {"readiness": None}}, "/probes"),
    ],
    "web-app": [
        ({"image": "nginx:latest"}, "/image"),
        ({"replicas": 11}, "/replicas"),
        ({"port": 80}, "/port"),
        ({"resources": {"memory_limit": "9Gi"}}, "/resources/memory_limit"),
        ({"hostnames": [f"h{i}.example.com" for i in range(11)]}, "/hostnames"),
        ({"probes": {"readiness": {"port": 9090}}}, "/probes/readiness/port"),
        ({"probes": {"startup": {"kind": "tcp", "port": 8080}}}, "/probes/startup"),
        ({"drift": {"mode": "detect"}}, "/drift"),
    ],
}


def _combined(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two change documents as one (``second`` wins; its ``null`` removals are kept)."""
    out = dict(first)
    for key, value in second.items():
        old = out.get(key)
        out[key] = _combined(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


@pytest.mark.parametrize("name", sorted(INSIDE))
@FAST
@given(data=st.data())
def test_any_change_outside_the_rules_is_refused_naming_the_field(name: str, data: st.DataObject) -> None:
    template = SHIPPED[name]
    inside = data.draw(INSIDE[name])
    bad, pointer = data.draw(st.sampled_from(_OUTSIDE[name]))
    changes = _combined(inside, bad)
    with pytest.raises(TemplateRuleError) as caught:
        instantiate(template, changes)
    error = caught.value
    assert error.pointer.startswith(pointer) or pointer.startswith(error.pointer), (error, pointer)
    assert str(error).startswith(f"{error.pointer}: ")
    assert str(error).endswith(f"(template {name} v{template.version})")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)
_DOCS = st.dictionaries(st.text(max_size=3), _JSON, max_size=4)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


@settings(max_examples=200, deadline=None)
@given(before=_DOCS, after=_DOCS)
def test_a_merge_diff_applied_as_a_merge_patch_gives_the_target(before: Any, after: Any) -> None:
    before, after = _without_nulls(before), _without_nulls(after)
    patch = merge_diff(before, after)
    assert merge_patch(before, patch) == after
    assert (patch == {}) == (before == after)


@FAST
@given(changes=minecraft_changes())
def test_a_spec_diff_is_judged_like_the_change_that_made_it(changes: dict[str, Any]) -> None:
    template = SHIPPED["minecraft-server"]
    spec = instantiate(template, changes)
    assert judge_change(template, template.spec, spec).within_rules
    moved = attrs.evolve(spec, port=25570)
    verdict = judge_change(template, spec, moved)
    assert not verdict.within_rules
    assert [p.pointer for p in verdict.problems] == ["/port"]
    assert verdict.changed == ("/port",)
    with pytest.raises(TemplateRuleError, match=r"^/port: is not a field the template lets you change"):
        verdict.raise_for_problems()
    assert judge_change(template, moved, attrs.evolve(moved, port=25565)).within_rules, "back to the base"


def test_errors_of_malformed_changes_are_template_errors_not_rule_errors() -> None:
    template = SHIPPED["web-app"]
    for changes, pointer in [
        ({"resources": {"cpu_limit": 2}}, "/resources/cpu_limit"),
        ({"replicas": "3"}, "/replicas"),
        ({"probes": {"readiness": {"period_seconds": 5.0}}}, "/probes/readiness/period_seconds"),
        ({"unknown": 1}, "/unknown"),
        ({"var_keys": {}}, "/var_keys"),
    ]:
        with pytest.raises(TemplateError) as caught:
            instantiate(template, changes)
        assert not isinstance(caught.value, TemplateRuleError)
        assert caught.value.pointer == pointer
