"""Planner benchmark: 2,000 services (~12,000 objects) unchanged, 1 % changed, all new; the
200-service run for the linearity ratio; and a naive DeepDiff of every desired/live pair.

Run: ``.venv/bin/python benchmarks/bench_plan.py [--services 2000] [--repeat 3]``

The payload is the rendered example payload (7 services, 42 objects) cloned with fresh ids until
it holds the requested number of services. "Live" is what the API server would return after
Shuttle applied it: server defaults, status and managedFields, the controllers' entries included
(the deployment controller's revision annotation and status, the PV binder's, the HPA's;
``tests/property/ssa_model.py``).

Times are wall-clock (best and median of the runs) and, since the machine may be shared, the
best CPU time of the process (``cpu s``), which other processes disturb far less.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import re
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deepdiff import DeepDiff
from tests.property.ssa_model import Cluster

from starform_core.kube.objects import key_of
from starform_core.model.cluster import PrunePolicy
from starform_core.payload.example import example_payload
from starform_core.plan import PlanOptions, plan
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


def _timed(run: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """(best, median, best CPU, result) over ``repeat`` runs: the best is the least disturbed by
    the other processes sharing the machine, the median shows how much they disturbed."""
    times = []
    cpu = []
    result = None
    for _ in range(repeat):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(times), statistics.median(times), min(cpu), result


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


def main() -> None:
    """Print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-sample", type=int, default=0, help="DeepDiff only N pairs (0: all)")
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
        best, median, cpu, result = _timed(
            lambda: plan(desired, observed, partials=partials, options=options), args.repeat
        )
        peak = _peak(lambda: plan(desired, observed, partials=partials, options=options))
        counts = {k: v for k, v in result.summary().items() if v}
        rows.append((name, len(desired), best, median, cpu, peak, json.dumps(counts)))
        return cpu

    unchanged = case(f"unchanged ({args.services} services)", objects, live)
    case("1 % of services changed (image)", changed, live)
    case("all new (empty cluster)", objects, [])
    small = case(f"unchanged ({args.services // 10} services)", small_objects, small_live)

    pairs = [(o, live_index[key_of(o)]) for o in objects]
    if args.baseline_sample:
        pairs = pairs[: args.baseline_sample]

    def naive() -> int:
        return sum(1 for desired, observed in pairs if DeepDiff(desired, observed, ignore_order=False))

    wall, _, baseline, _ = _timed(naive, 1)
    scale = len(objects) / len(pairs)
    baseline *= scale
    rows.append(
        (
            "naive DeepDiff per pair (unchanged)",
            len(objects),
            wall * scale,
            wall * scale,
            baseline,
            float("nan"),
            "-",
        )
    )

    print(f"{'case':40} {'objects':>8} {'best s':>8} {'median s':>9} {'cpu s':>7} {'peak MiB':>9}  plan")
    for name, count, best, median, cpu, peak, summary in rows:
        print(f"{name:40} {count:8d} {best:8.3f} {median:9.3f} {cpu:7.3f} {peak:9.1f}  {summary}")
    print()
    ratio = unchanged / small
    print(f"linearity (cpu): t({args.services})/t({args.services // 10}) = {ratio:.1f} (≤ 12 required)")
    print(f"speed-up over naive DeepDiff (cpu): {baseline / unchanged:.0f}x (≥ 10 required)")
    if args.baseline_sample:
        print(f"(DeepDiff measured on {len(pairs)} pairs, scaled to {len(objects)})")


if __name__ == "__main__":
    main()
