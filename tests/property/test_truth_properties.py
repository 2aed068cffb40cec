"""Health judged against desire, and secrets kept out of every plan output (rendered payloads).

* Removing any desired object from a cluster where everything is current makes its service
  ``Missing`` (never Healthy), naming the object.
* For random var-group values, Secret values changed out of band and any annotation or label on
  a Secret (its ``last-applied-configuration`` included), no value appears in any plan text,
  plan JSON, repr or event payload: not plain, not JSON-escaped, not base64 at any alignment.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import attrs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.property.ssa_model import Cluster
from tests.strategies.payloads import desired_states

from starform_core.health import ServiceStatus, assess_services
from starform_core.kube.labels import LABEL_SERVICE_ID
from starform_core.kube.objects import key_of
from starform_core.model.cluster import PrunePolicy
from starform_core.payload.document import DesiredState
from starform_core.pipeline import plan_document, plan_lines
from starform_core.plan import Plan, PlanOptions, plan
from starform_core.plan.changes import LAST_APPLIED
from starform_core.render import Rendering, render

RENDERED = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _applied(rendering: Rendering) -> tuple[Cluster, PlanOptions]:
    options = PlanOptions(
        drift_policies=rendering.drift_policies, prune_policy=PrunePolicy(release_held=True)
    )
    cluster = Cluster()
    cluster.execute(plan(rendering.objects, [], options=options))
    return cluster, options


@RENDERED
@given(payload=desired_states(), data=st.data())
def test_removing_any_desired_object_makes_its_service_missing(
    payload: DesiredState, data: st.DataObject
) -> None:
    rendering = render(payload)
    scoped = [o for o in rendering.objects if LABEL_SERVICE_ID in (o["metadata"].get("labels") or {})]
    assume(scoped)
    cluster, _ = _applied(rendering)
    live = cluster.live()
    before = assess_services(live, desired=rendering.objects)
    assert {h.status for h in before.values()} <= {ServiceStatus.HEALTHY, ServiceStatus.PAUSED}, before
    victim = data.draw(st.sampled_from(scoped), label="deleted")
    service_id = victim["metadata"]["labels"][LABEL_SERVICE_ID]
    after = assess_services([o for o in live if key_of(o) != key_of(victim)], desired=rendering.objects)
    assert after[service_id].status is ServiceStatus.MISSING
    assert after[service_id].missing == (key_of(victim),)
    assert str(key_of(victim)) in after[service_id].reason
    assert {sid: h.status for sid, h in after.items() if sid != service_id} == {
        sid: h.status for sid, h in before.items() if sid != service_id
    }


def _base64_cores(value: bytes) -> set[str]:
    """What base64 of any text containing ``value`` must contain, for each of the 3 alignments."""
    cores = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + value).decode()
        core = encoded[4 if shift else 0 : len(encoded) - 4]
        if len(core) >= 8:
            cores.add(core)
    return cores


def _forms(value: str) -> set[str]:
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms |= _base64_cores(value.encode())
    return {form for form in forms if len(form) >= 8}


def _outputs(result: Plan) -> str:
    events = [attrs.asdict(c) for a in result.actions for c in getattr(a, "changes", ())]
    return "\n".join(
        [
            *plan_lines(result),
            json.dumps(plan_document(result)),
            repr(result),
            json.dumps(events),
            str(events),
        ]
    )


_VALUES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=12, max_size=40)


@RENDERED
@given(payload=desired_states(), data=st.data(), other=_VALUES)
def test_no_secret_value_reaches_any_plan_output(
    payload: DesiredState, data: st.DataObject, other: str
) -> None:
    rendering = render(payload)
    secrets = [o for o in rendering.objects if o["kind"] == "Secret" and o.get("data")]
    assume(secrets)
    values = [v.reveal() for p in payload.projects for g in p.var_groups for _, v in g.entries]
    cluster, options = _applied(rendering)
    for secret in secrets:
        key = key_of(secret)
        name = data.draw(st.sampled_from(sorted(secret["data"])), label="key")
        if data.draw(st.booleans(), label="changed"):
            cluster.edit(key, "kubectl-edit", ("data", name), base64.b64encode(other.encode()).decode())
        copied = json.dumps({"apiVersion": "v1", "kind": "Secret", "data": cluster.values[key]["data"]})
        carried = data.draw(st.sampled_from([copied, secret["data"][name], *values, other]), label="carried")
        annotation = data.draw(st.sampled_from([LAST_APPLIED, "example.com/note"]), label="annotation")
        cluster.edit(key, "kubectl-client-side-apply", ("metadata", "annotations", annotation), carried)
        if data.draw(st.booleans(), label="label"):
            cluster.edit(key, "kubectl-label", ("metadata", "labels", "example.com/hint"), carried[:63])
    desired: list[dict[str, Any]] = list(rendering.objects)
    if data.draw(st.booleans(), label="desire changed"):
        index = desired.index(secrets[0])
        changed = dict(secrets[0])
        changed["data"] = {k: base64.b64encode(other[::-1].encode()).decode() for k in secrets[0]["data"]}
        desired[index] = changed
    result = plan(desired, cluster.live(), options=options)
    assert result.actions
    text = _outputs(result)
    for value in [*values, other, other[::-1]]:
        for form in _forms(value):
            assert form not in text, (value, form)
