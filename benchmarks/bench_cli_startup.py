"""How long ``starform --help``, ``starbase --help`` and ``shuttle --help`` take (target: < 0.5 s each).

Run: ``.venv/bin/python benchmarks/bench_cli_startup.py [--runs 7] [--target 0.5] [--top 8]``

Each program is the installed entry point of this venv, run as a new process: one warm-up run
(so the bytecode caches exist, as on an installed machine), then ``--runs`` timed runs (at
least 5); the median wall-clock time is compared with the target (the CPU time and the load
average are printed too: on a busy machine the wall clock runs long). For each program, one extra run under
``python -X importtime`` prints the modules that cost most (cumulative, with their own time).
Exits 1, naming the programs, when any median misses the target.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import attrs

PROGRAMS = ("starform", "starbase", "shuttle")
BIN = Path(sys.executable).parent


@attrs.frozen
class ImportCost:
    """One line of ``-X importtime``: a module, its own time and with its imports (microseconds)."""

    module: str
    self_us: int
    cumulative_us: int


@attrs.frozen
class Run:
    """One timed run: wall-clock seconds, and the CPU seconds (user + system) the process used."""

    wall: float
    cpu: float


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time_once(program: str) -> Run:
    cpu_before, started = _cpu_of_children(), time.perf_counter()
    subprocess.run([str(BIN / program), "--help"], check=True, capture_output=True, timeout=120)
    return Run(time.perf_counter() - started, _cpu_of_children() - cpu_before)


def _import_costs(program: str) -> list[ImportCost]:
    entry = (
        f"import sys; from starform_apps.launch import {program}; "
        f"sys.argv = [{program!r}, '--help']; {program}()"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", entry], capture_output=True, text=True, timeout=120
    )
    costs = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        costs.append(ImportCost(name, int(own), int(cumulative)))
    return costs


def _report(program: str, runs: list[Run], target: float, top: int) -> bool:
    walls = [run.wall for run in runs]
    median = statistics.median(walls)
    met = median < target
    verdict = "ok" if met else f"MISSED (target < {target:.2f} s)"
    print(
        f"{program} --help: median {median:.3f} s, min {min(walls):.3f} s, max {max(walls):.3f} s "
        f"(CPU median {statistics.median(run.cpu for run in runs):.3f} s) over {len(runs)} runs: {verdict}"
    )
    costs = sorted(_import_costs(program), key=lambda cost: cost.cumulative_us, reverse=True)
    for cost in costs[:top]:
        cumulative, own = cost.cumulative_us / 1000, cost.self_us / 1000
        print(f"    {cumulative:8.1f} ms cumulative {own:7.1f} ms self  {cost.module}")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--target", type=float, default=0.5, help="Seconds (median).")
    parser.add_argument("--top", type=int, default=8, help="Import-time offenders to print.")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    print(
        f"load average {load:.1f} on {cores} cores"
        + (": busy, wall-clock times run long" if load > cores else "")
    )
    missed = []
    for program in PROGRAMS:
        _time_once(program)
        runs = [_time_once(program) for _ in range(args.runs)]
        if not _report(program, runs, args.target, args.top):
            missed.append(program)
    if missed:
        print(f"FAILED: {', '.join(missed)} --help missed the {args.target:.2f} s target", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
