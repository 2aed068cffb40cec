"""Shuttle's screen of live objects (``starform_apps.shuttle.live``) at 2,000 services: the first
screen of a view (every object validated), an unchanged view (a lookup per object version) and
a view with 1 % of the objects at a new version.

Run: ``.venv/bin/python benchmarks/bench_live_screen.py [--services 2000] [--repeat 5]``

The live objects are those of ``bench_plan.py``: the rendered payload as the API server returns
it after Shuttle applied it (defaults, status, managedFields), each given a uid and a
resourceVersion as the watch cache holds them. A fresh plan pays the screen on top of the plan
itself; a reused plan (nothing changed) pays nothing.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry, Gauge

from benchmarks.bench_plan import live_after_apply, synthetic_payload
from starform_apps.shuttle.live import LiveScreen


def _versioned(live: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for index, obj in enumerate(live):
        stamped = copy.deepcopy(obj)
        stamped["metadata"]["uid"] = f"uid-{index}"
        stamped["metadata"]["resourceVersion"] = str(index + 1)
        out.append(stamped)
    return out


def _bumped(live: list[dict[str, Any]], fraction: float) -> list[dict[str, Any]]:
    out = list(live)
    for index in range(0, len(live), round(1 / fraction)):
        changed = copy.deepcopy(live[index])
        changed["metadata"]["resourceVersion"] += "-next"
        out[index] = changed
    return out


def _measure(
    warm: list[dict[str, Any]] | None, view: list[dict[str, Any]], repeat: int
) -> tuple[float, float, float]:
    """(best, median, best CPU) seconds of screening ``view`` after screening ``warm`` (if any)."""
    walls, cpus = [], []
    for _ in range(repeat):
        screen = LiveScreen("cluster", Gauge("invalid", "bench", ["source"], registry=CollectorRegistry()))
        if warm is not None:
            screen.screen(warm)  # the view as the previous plan saw it
        start, start_cpu = time.perf_counter(), time.process_time()
        result = screen.screen(view)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
        assert result.rejected == 0, "the benchmark's objects are well-formed"
    return min(walls), statistics.median(walls), min(cpus)


def main() -> None:
    """Print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    objects, partials, _ = synthetic_payload(args.services)
    live = _versioned(live_after_apply(objects, partials))
    cases = {
        "first screen (all validated)": (None, live),
        "unchanged view": (live, live),
        "1 % of objects at a new version": (live, _bumped(live, 0.01)),
    }
    print(f"{'case':36} {'objects':>8} {'best s':>8} {'median s':>9} {'cpu s':>7}")
    for name, (warm, view) in cases.items():
        best, median, cpu = _measure(warm, view, args.repeat)
        print(f"{name:36} {len(view):8d} {best:8.3f} {median:9.3f} {cpu:7.3f}")


if __name__ == "__main__":
    main()
