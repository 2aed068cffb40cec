"""No false drift (§6): defaults, status, controllers and equivalent spellings are not drift."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.property.plan_scenarios import RELEASED, applied
from tests.strategies.kube_objects import desired_objects, equivalent_quantity

from starform_core.plan import plan
from starform_core.plan.normalize import compare_object
from starform_core.quantity import parse_quantity

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _respell(data: st.DataObject, node: Any, under_resources: bool = False) -> Any:
    """Re-spell every quantity under ``resources`` and flip int-or-string target ports."""
    if isinstance(node, dict):
        for name, child in node.items():
            if under_resources and isinstance(child, str):
                node[name] = data.draw(equivalent_quantity(child))
            elif name == "targetPort":
                node[name] = str(child) if isinstance(child, int) else int(child)
            else:
                _respell(data, child, under_resources or name == "resources")
    elif isinstance(node, list):
        for item in node:
            _respell(data, item, under_resources)
    return node


@FAST
@given(desired=desired_objects(), data=st.data(), managed=st.booleans())
def test_live_equal_to_desired_plus_server_noise_needs_nothing(
    desired: list[dict[str, Any]], data: st.DataObject, managed: bool
) -> None:
    cluster = applied(desired, managed_fields=managed)
    for key, value in cluster.values.items():
        _respell(data, value.get("spec"))
        value.setdefault("status", {})["conditions"] = [{"type": "Ready", "status": "True"}]
        if data.draw(st.booleans()):
            cluster.edit(key, "protector", ("metadata", "finalizers"), ["example.com/keep"])
        if managed and key.kind == "Deployment" and data.draw(st.booleans()):
            cluster.edit(key, "kube-controller-manager", ("spec", "replicas"), 4)
    result = plan(desired, cluster.live(), options=RELEASED)
    assert result.is_empty, result.actions
    assert result.unchanged == len(desired)


_SPELLINGS = st.sampled_from(
    ["1", "1000m", "1e3", "1k", "1024", "1Ki", "0.5", "500m", "1Gi", "1024Mi", "1073741824", "2"]
)


@FAST
@given(left=_SPELLINGS, right=_SPELLINGS, where=st.sampled_from(["requests", "limits"]))
def test_quantities_compare_by_amount(left: str, right: str, where: str) -> None:
    def pod(amount: str) -> dict[str, Any]:
        container = {"name": "app", "resources": {where: {"cpu": amount}}}
        return {"kind": "Pod", "spec": {"containers": [container]}}

    same = parse_quantity(left) == parse_quantity(right)
    assert (compare_object(pod(left), pod(right)) == []) == same
    assert same == (Decimal(parse_quantity(right)) == Decimal(parse_quantity(left)))


@FAST
@given(value=st.sampled_from(["1", "1000m", "1k"]))
def test_quantity_equivalence_does_not_leak_into_plain_strings(value: str) -> None:
    desired = {"kind": "ConfigMap", "data": {"limit": "1"}}
    live = {"kind": "ConfigMap", "data": {"limit": value}}
    assert (compare_object(desired, live) == []) == (value == "1")
