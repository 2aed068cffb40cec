"""Planner benchmark: 2,000 services (~12,000 objects) unchanged, 1 % changed, all new; the
200-service run for the linearity ratio; and two peers a competent user would write instead.

Run: ``.venv/bin/python benchmarks/bench_plan.py [--services 2000] [--repeat 5] [--baseline-sample N]``

The payload is the rendered example payload (7 services, 42 objects) cloned with fresh ids until
it holds the requested number of services. "Live" is what the API server would return after
Shuttle applied it: server defaults, status and managedFields, the controllers' entries included
(the deployment controller's revision annotation and status, the PV binder's, the HPA's;
``tests/property/ssa_model.py``).

The peers compare each desired object with its live counterpart the way ``kubectl diff`` frames
the question (only what the desired object sets; server-populated metadata, status, defaults and
other managers' fields out of the picture): the desired object without the empty values the API
omits, against the live object projected onto the desired object's shape (its keys; lists item by
item). One diffs the two with DeepDiff, the other compares their canonical JSON. Before any ratio
is printed, both must give the planner's answer on the benchmark's cases (no object changed when
nothing changed; exactly the changed Deployments when 1 % changed); otherwise the script exits
with status 1. The projection cannot see a desired field that was removed (the planner's desired
hash does), nor quantity or int-or-string equivalence: the benchmark's cases need neither.

Times are wall-clock (best and median of the runs) and, since the machine may be shared, the
best CPU time of the process (``cpu s``), which other processes disturb far less.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import re
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deepdiff import DeepDiff
from tests.property.ssa_model import Cluster

from benchmarks.timing import timed
from starform_core.kube.objects import key_of
from starform_core.model.cluster import PrunePolicy
from starform_core.payload.example import example_payload
from starform_core.plan import PlanOptions, plan
from starform_core.plan.incremental import IncrementalPlanner
from starform_core.render import render

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
OPTIONS = PlanOptions(prune_policy=PrunePolicy(release_held=True))


def synthetic_payload(services: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """(objects, partials, drift policies) for about ``services`` services."""
    rendering = render(example_payload())
    text = json.dumps(list(rendering.objects))
    per_copy = len(rendering.drift_policies)
    uuids = sorted(set(_UUID.findall(text)))
    objects: list[dict[str, Any]] = []
    policies: dict[str, Any] = {}
    for copy_index in range((services + per_copy - 1) // per_copy):
        prefix = f"{copy_index:08x}"
        replaced = text
        for uuid in uuids:
            replaced = replaced.replace(uuid, prefix + uuid[8:])
            plain = uuid.replace("-", "")
            replaced = replaced.replace(plain, prefix + plain[8:])
        objects.extend(json.loads(replaced))
        for service_id, policy in rendering.drift_policies.items():
            policies[prefix + service_id[8:]] = policy
    return objects, [dict(p) for p in rendering.partials], policies


def live_after_apply(objects: list[dict[str, Any]], partials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects as the API server returns them after Shuttle applied them (and the load
    balancer Service the partial annotates, which someone else owns)."""
    cluster = Cluster()
    for partial in partials:
        cluster.apply(partial, "envoy-gateway")
    cluster.execute(plan(objects, [], partials=partials, options=OPTIONS))
    return cluster.live()


def _peak(run: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def _changed(objects: list[dict[str, Any]], fraction: float) -> list[dict[str, Any]]:
    deployments = [i for i, o in enumerate(objects) if o["kind"] == "Deployment"]
    out = list(objects)
    for index in deployments[:: round(1 / fraction)]:
        changed = copy.deepcopy(objects[index])
        changed["spec"]["template"]["spec"]["containers"][0]["image"] += "-next"
        out[index] = changed
    return out


def _desired_shape(value: Any) -> Any:
    """``value`` without the empty values the API server omits (``None``, ``""``, ``{}``, ``[]``)."""
    if isinstance(value, dict):
        return {k: _desired_shape(v) for k, v in value.items() if v not in (None, "", {}, [])}
    if isinstance(value, list):
        return [_desired_shape(v) for v in value]
    return value


def _projected(desired: Any, live: Any) -> Any:
    """``live`` cut to the shape of ``desired``: the keys it sets, lists item by item."""
    if isinstance(desired, dict) and isinstance(live, dict):
        return {k: _projected(v, live[k]) for k, v in desired.items() if k in live}
    if isinstance(desired, list) and isinstance(live, list) and len(desired) == len(live):
        return [_projected(d, item) for d, item in zip(desired, live, strict=True)]
    return live


def _normalised(desired: dict[str, Any], live: dict[str, Any]) -> tuple[Any, Any]:
    wanted = _desired_shape(desired)
    return wanted, _projected(wanted, live)


def _deepdiff_differs(desired: dict[str, Any], live: dict[str, Any]) -> bool:
    wanted, seen = _normalised(desired, live)
    return bool(DeepDiff(wanted, seen, ignore_order=False))


def _json_differs(desired: dict[str, Any], live: dict[str, Any]) -> bool:
    wanted, seen = _normalised(desired, live)
    return json.dumps(wanted, sort_keys=True) != json.dumps(seen, sort_keys=True)


PEERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], bool]] = {
    "DeepDiff, normalised": _deepdiff_differs,
    "JSON equality, normalised": _json_differs,
}
"""Peers that answer "does this object need an update?" as a competent user would."""


LINEARITY_LIMIT = 12
"""t(n)/t(n/10) above this is not linear (a little slack for fixed costs and noise)."""


def main() -> None:
    """Print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-sample", type=int, default=0, help="peers on N pairs only (0: all)")
    args = parser.parse_args()

    small_objects, partials, policies = synthetic_payload(args.services // 10)
    objects, partials, policies = synthetic_payload(args.services)
    options = PlanOptions(drift_policies=policies, prune_policy=OPTIONS.prune_policy)
    live = live_after_apply(objects, partials)
    small_live = live_after_apply(small_objects, partials)
    changed = _changed(objects, 0.01)
    live_index = {key_of(o): o for o in live}

    rows: list[tuple[str, int, float, float, float, float, str]] = []

    def case(name: str, desired: list[dict[str, Any]], observed: list[dict[str, Any]]) -> float:
        timing = timed(lambda: plan(desired, observed, partials=partials, options=options), args.repeat)
        best, median, cpu, result = timing.best, timing.median, timing.best_cpu, timing.result
        peak = _peak(lambda: plan(desired, observed, partials=partials, options=options))
        counts = {k: v for k, v in result.summary().items() if v}
        rows.append((name, len(desired), best, median, cpu, peak, json.dumps(counts)))
        return cpu

    unchanged = case(f"unchanged ({args.services} services)", objects, live)
    case("1 % of services changed (image)", changed, live)
    case("all new (empty cluster)", objects, [])
    small = case(f"unchanged ({args.services // 10} services)", small_objects, small_live)
    primed = IncrementalPlanner().plan(objects, live, partials=partials, options=options).planner
    timing = timed(lambda: primed.plan(objects, live, partials=partials, options=options), args.repeat)
    best, median, incremental, step = timing.best, timing.median, timing.best_cpu, timing.result
    if step.plan != plan(objects, live, partials=partials, options=options):
        print("CORRECTNESS FAILURE: the incremental plan differs from plan(...)", file=sys.stderr)
        sys.exit(1)
    counts = {k: v for k, v in step.plan.summary().items() if v}
    rows.append(
        (
            "unchanged, incremental (primed)",
            len(objects),
            best,
            median,
            incremental,
            float("nan"),
            json.dumps(counts),
        )
    )

    changed_keys = {key_of(o) for o, before in zip(changed, objects, strict=True) if o is not before}
    sample = args.baseline_sample or len(objects)
    cases = {
        "unchanged": (objects[:sample], set()),
        "1 % changed": (
            [o for i, o in enumerate(changed) if i < sample or key_of(o) in changed_keys],
            changed_keys,
        ),
    }
    planner_answer = {
        name: {a.key for a in plan(full, live, partials=partials, options=options).executable}
        for name, full in (("unchanged", objects), ("1 % changed", changed))
    }
    failures = []
    for name, (desired, expected) in cases.items():
        if planner_answer[name] != expected:
            failures.append(f"the planner changes {len(planner_answer[name])} objects in '{name}'")
        for peer, differs in PEERS.items():
            answer = {key_of(o) for o in desired if differs(o, live_index[key_of(o)])}
            if answer != expected:
                failures.append(
                    f"{peer} finds {len(answer)} changed objects in '{name}', not {len(expected)}"
                )
    for failure in failures:
        print(f"CORRECTNESS FAILURE: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)

    pairs = [(o, live_index[key_of(o)]) for o in objects[:sample]]
    scale = len(objects) / len(pairs)
    peer_cpu = {}
    for peer, differs in PEERS.items():
        peer_timing = timed(lambda d=differs: sum(1 for a, b in pairs if d(a, b)), 1)
        wall, cpu = peer_timing.best, peer_timing.best_cpu
        peer_cpu[peer] = cpu * scale
        rows.append(
            (
                f"{peer} per pair (unchanged)",
                len(objects),
                wall * scale,
                wall * scale,
                cpu * scale,
                float("nan"),
                "0 changed (the planner's answer)",
            )
        )

    print(f"{'case':48} {'objects':>8} {'best s':>8} {'median s':>9} {'cpu s':>7} {'peak MiB':>9}  plan")
    for name, count, best, median, cpu, peak, summary in rows:
        print(f"{name:48} {count:8d} {best:8.3f} {median:9.3f} {cpu:7.3f} {peak:9.1f}  {summary}")
    print()
    ratio = unchanged / small
    verdict = "met" if ratio <= LINEARITY_LIMIT else "MISSED"
    print(
        f"linearity (cpu): t({args.services})/t({args.services // 10}) = {ratio:.1f}"
        f" (≤ {LINEARITY_LIMIT} required): {verdict}"
    )
    for peer, cpu in peer_cpu.items():
        print(f"planner vs {peer} (cpu, same answer): {cpu / unchanged:.1f}x faster")
        print(f"incremental planner vs {peer} (cpu, same answer): {cpu / incremental:.0f}x faster")
    if args.baseline_sample:
        print(f"(peers timed on {len(pairs)} pairs, scaled to {len(objects)})")
    if verdict == "MISSED":
        sys.exit(1)  # ten times the services must cost at most about ten times the planning


if __name__ == "__main__":
    main()
