"""Render benchmark: the full render of 2,000 services and the incremental re-render after one
service changed, after one var group changed, and after nothing changed (issue 14).

Run: ``.venv/bin/python benchmarks/bench_render.py [--services 2000] [--repeat 7]``

The payload is ``tests/render/large_payloads.py``'s (20 services to a project, three environments
each, three var groups, every service kind). Every incremental run renders a payload built afresh
(as Shuttle parses one from the wire: equal values, no object shared with the last payload), from
the same previous renderer, changing a different service or var group each run. Figures are the
median and the minimum wall time of the runs, and the median CPU time of this process (what the
other processes on a shared machine do not inflate), with the load average before and after.

The cyclic garbage collector runs as usual around the renders; the renderers pause it while they
build their objects (``starform_core.gc_pause``: the trees are acyclic and all stay alive, so a
collection during the render frees nothing). The young collection the pause leaves pending runs
as soon as the collector is back on, still inside the render's own time (``gc.callbacks`` show
it); whatever young collection is still pending when a run returns is timed right after it and
shown as ``gc after``. The full collections the new objects take part in later, once they are
old, are charged to neither.

Correctness is checked on every run, outside the timing: the incremental rendering must equal
``render(payload)`` exactly (values, types, order: the digest of its ``repr``) and its delta must
name exactly what changed. Any failure prints what differs and exits with status 1.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.render.large_payloads import large_payload, with_new_release, with_new_var_value
from tests.render.test_render_pinned import digest

from starform_core.payload.document import DesiredState
from starform_core.render import IncrementalRenderer, RenderDelta, Rendering, render

T = TypeVar("T")

TARGETS = {"full": 0.500, "service": 0.050, "var group": 0.050, "nothing": 0.050}
"""Issue 14's targets, in seconds (full render; render of one changed service)."""


@attrs.frozen
class Row:
    """One benchmark line."""

    case: str
    detail: str
    wall: tuple[float, ...]
    cpu: tuple[float, ...]
    after: tuple[float, ...]
    target: float


class CorrectnessError(Exception):
    """The incremental renderer disagreed with the full renderer, or its delta was wrong."""


def _timed(run: Callable[[], T]) -> tuple[float, float, float, T]:
    """Wall and CPU time of ``run()``, the wall time of the young collection it left pending, and
    its result."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = time.perf_counter()
    gc.collect(0)
    return wall, cpu, time.perf_counter() - after, result


def _check(label: str, incremental: Rendering, payload: DesiredState) -> None:
    full = render(payload)
    if incremental != full or digest(incremental) != digest(full):
        raise CorrectnessError(f"{label}: the incremental rendering differs from render(payload)")


def _check_delta(label: str, delta: RenderDelta, *, services: set[str], var_groups: set[str]) -> None:
    if delta.services != services or delta.var_groups != var_groups or delta.projects:
        raise CorrectnessError(
            f"{label}: re-rendered services {sorted(delta.services)}, var groups "
            f"{sorted(delta.var_groups)}, projects {sorted(delta.projects)}; expected services "
            f"{sorted(services)}, var groups {sorted(var_groups)}, no project"
        )


def bench_full(services: int, repeat: int) -> Row:
    """``render(payload)`` of the whole payload."""
    payload = large_payload(services)
    walls, cpus, afters = [], [], []
    objects = 0
    for _ in range(repeat):
        wall, cpu, after, rendering = _timed(partial(render, payload))
        walls.append(wall)
        cpus.append(cpu)
        afters.append(after)
        objects = len(rendering.objects)
    detail = f"{services} services, {objects} objects"
    return Row("full render", detail, tuple(walls), tuple(cpus), tuple(afters), TARGETS["full"])


def _attaching(payload: DesiredState, project_index: int, group_index: int) -> tuple[str, set[str]]:
    project = payload.projects[project_index]
    group = project.var_groups[group_index].var_group_id
    return group, {s.service_id for s in project.services if group in {a.var_group_id for a in s.var_groups}}


def bench_incremental(services: int, repeat: int, case: str) -> Row:
    """One incremental render per run, from the same renderer, of a payload built afresh."""
    base = large_payload(services)
    renderer, _ = IncrementalRenderer().render(base)
    projects = len(base.projects)
    walls, cpus, afters, sizes = [], [], [], []
    for run in range(repeat):
        fresh = large_payload(services)
        expected_groups: set[str] = set()
        if case == "service":
            project_index, service_index = run % projects, run % len(base.projects[run % projects].services)
            payload = with_new_release(fresh, project_index=project_index, service_index=service_index)
            expected = {payload.projects[project_index].services[service_index].service_id}
        elif case == "var group":
            payload = with_new_var_value(fresh, project_index=run % projects, group_index=run % 3)
            group, expected = _attaching(payload, run % projects, run % 3)
            expected_groups = {group}
        else:
            payload, expected = fresh, set()
        wall, cpu, after, (following, delta) = _timed(partial(renderer.render, payload))
        _check(f"{case}, run {run + 1}", following.rendering, payload)
        _check_delta(f"{case}, run {run + 1}", delta, services=expected, var_groups=expected_groups)
        walls.append(wall)
        cpus.append(cpu)
        afters.append(after)
        sizes.append(len(delta.changed))
    labels = {
        "service": "one service's new release",
        "var group": "one var group's value",
        "nothing": "nothing (payload rebuilt)",
    }
    detail = f"changed objects per run: {min(sizes)}-{max(sizes)}"
    row = (tuple(walls), tuple(cpus), tuple(afters))
    return Row(f"incremental: {labels[case]}", detail, *row, TARGETS[case])


def _ms(value: float) -> str:
    return f"{value * 1000:9.1f}"


def main() -> int:
    """Print the table; 1 when a correctness check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if args.repeat < 5:
        parser.error("--repeat must be at least 5 (the figures are medians)")
    load_before = os.getloadavg()
    try:
        rows = [bench_full(args.services, args.repeat)]
        rows += [
            bench_incremental(args.services, args.repeat, case)
            for case in ("service", "var group", "nothing")
        ]
    except CorrectnessError as exc:
        print(f"CORRECTNESS CHECK FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"{'case':42} {'median ms':>9} {'min ms':>9} {'cpu ms':>9} {'gc after':>9} {'target':>7}  detail")
    for row in rows:
        median = statistics.median(row.wall)
        verdict = "ok" if median < row.target else "MISSED"
        print(
            f"{row.case:42} {_ms(median)} {_ms(min(row.wall))} {_ms(statistics.median(row.cpu))} "
            f"{_ms(statistics.median(row.after))} {row.target * 1000:5.0f}ms {verdict:6}  {row.detail}"
        )
    print(f"\n{args.repeat} runs each; correctness checked on every incremental run (incremental == full).")
    print("gc after: median wall ms of the young collection left pending by each run (not in its time).")
    loads = " / ".join(f"{a:.2f} {b:.2f} {c:.2f}" for a, b, c in (load_before, os.getloadavg()))
    print(f"load average (1, 5, 15 min) before / after: {loads}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
