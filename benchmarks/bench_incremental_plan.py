"""Incremental planner benchmark: re-planning 2,000 services (~12,000 objects) against the cache.

Run: ``.venv/bin/python benchmarks/bench_incremental_plan.py [--services 2000] [--repeat 7]``

The desired and live objects are ``bench_plan``'s (the rendered example payload cloned; live as
the SSA model serves it after Shuttle applied it), seen through a watch cache: an unchanged object
is the same dict with the same ``resourceVersion``. One pod per Deployment (owned by its
ReplicaSet, so never planned) is in the live view, as in Shuttle's cache. Every case starts from the
same primed planner (its state after planning the converged cluster), so each run does the same
work; all are real plans (no gate), timed over ``--repeat`` runs (median and best wall clock,
median CPU):

* **full plan** ``plan(...)``, for reference;
* **no-op**: nothing changed since the last plan;
* **no-op, the gate defeated**: every pod changed (new ``resourceVersion``) and 1 % of the owned
  objects had a status write (new version, nothing the plan reads): what a live cluster does
  between two payloads, where Shuttle's gate (same ETag, same cache revision) cannot skip planning;
* **one service changed**: every object of one service rendered anew (its Deployment's image
  changed), the rest handed back as they were (what the incremental render does).

Correctness (exit status 1 when it fails): every incremental plan equals ``plan(...)`` of the same
inputs, and the one-service change plans exactly one update.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_plan import OPTIONS, live_after_apply, synthetic_payload
from benchmarks.timing import timed
from starform_core.kube.labels import LABEL_MANAGED_BY, LABEL_SERVICE_ID, MANAGED_BY_VALUE
from starform_core.plan import Plan, PlanOptions, plan
from starform_core.plan.incremental import IncrementalPlanner, IncrementalStep

TARGETS_MS = {"no-op": 100.0, "no-op, the gate defeated": 100.0, "one service changed": 50.0}


def pods(deployments: list[dict[str, Any]], version: int) -> list[dict[str, Any]]:
    """One running pod per Deployment, at ``resourceVersion`` ``version``."""
    result = []
    for index, deployment in enumerate(deployments):
        meta = deployment["metadata"]
        labels = {LABEL_MANAGED_BY: MANAGED_BY_VALUE, LABEL_SERVICE_ID: meta["labels"].get(LABEL_SERVICE_ID)}
        owner = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": f"{meta['name']}-5d8f",
            "controller": True,
        }
        result.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{meta['name']}-5d8f-x{index}",
                    "namespace": meta["namespace"],
                    "labels": labels,
                    "ownerReferences": [owner],
                    "uid": f"pod-{index}",
                    "resourceVersion": f"p{version}",
                },
                "spec": {"nodeName": f"node-{index % 7}"},
                "status": {"phase": "Running", "podIP": f"10.0.{index // 250}.{index % 250}"},
            }
        )
    return result


def status_written(live: list[dict[str, Any]], every: int, version: int) -> list[dict[str, Any]]:
    """``live`` with every ``every``-th owned object replaced by a copy at a new version."""
    out = list(live)
    for index in range(0, len(out), every):
        changed = copy.deepcopy(out[index])
        changed["metadata"]["resourceVersion"] = f"s{version}-{index}"
        changed.setdefault("status", {})["observedGeneration"] = version
        out[index] = changed
    return out


def one_service_changed(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``objects`` with every object of the first service rendered anew, its image changed."""
    service = next(o["metadata"]["labels"][LABEL_SERVICE_ID] for o in objects if o["kind"] == "Deployment")
    out = []
    for obj in objects:
        if (obj["metadata"].get("labels") or {}).get(LABEL_SERVICE_ID) == service:
            obj = copy.deepcopy(obj)
            if obj["kind"] == "Deployment":
                obj["spec"]["template"]["spec"]["containers"][0]["image"] += "-next"
        out.append(obj)
    return out


def main() -> None:
    """Check correctness, print the table; exit 1 if an incremental plan differs from the full one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    objects, partials, policies = synthetic_payload(args.services)
    options = PlanOptions(drift_policies=policies, prune_policy=OPTIONS.prune_policy)
    converged = live_after_apply(objects, partials)
    deployments = [o for o in converged if o["kind"] == "Deployment"]
    live = [*converged, *pods(deployments, 0)]
    primed = IncrementalPlanner().plan(objects, live, partials=partials, options=options).planner
    churned = [*status_written(converged, 100, 1), *pods(deployments, 1)]
    changed = one_service_changed(objects)
    cases: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = [
        ("no-op", objects, live),
        ("no-op, the gate defeated", objects, churned),
        ("one service changed", changed, live),
    ]

    failures = []
    rows = []
    full = timed(lambda: plan(objects, live, partials=partials, options=options), max(3, args.repeat // 2))
    rows.append(("full plan (reference)", full.median * 1e3, full.best * 1e3, full.median_cpu * 1e3, "-"))
    for name, desired, observed in cases:
        expected: Plan = plan(desired, observed, partials=partials, options=options)
        timing = timed(
            lambda d=desired, o=observed: primed.plan(d, o, partials=partials, options=options), args.repeat
        )
        median, best, cpu, step = (
            timing.median * 1e3,
            timing.best * 1e3,
            timing.median_cpu * 1e3,
            timing.result,
        )
        assert isinstance(step, IncrementalStep)
        if step.plan != expected:
            failures.append(f"{name}: the incremental plan differs from plan(...)")
        if name == "one service changed" and len(step.plan.executable) != 1:
            failures.append(f"{name}: {len(step.plan.executable)} actions planned, 1 expected")
        verdict = "met" if median < TARGETS_MS[name] else "MISSED"
        rows.append(
            (
                name,
                median,
                best,
                cpu,
                f"{step.judged} judged, {step.bodies} bodies; < {TARGETS_MS[name]:.0f} ms {verdict}",
            )
        )
    for failure in failures:
        print(f"CORRECTNESS FAILURE: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(
        f"{args.services} services, {len(objects)} desired and {len(live)} live objects; incremental == full"
    )
    print(f"{'case':28} {'median ms':>10} {'best ms':>9} {'cpu ms':>8}  notes")
    for name, median, best, cpu, notes in rows:
        print(f"{name:28} {median:10.1f} {best:9.1f} {cpu:8.1f}  {notes}")


if __name__ == "__main__":
    main()
