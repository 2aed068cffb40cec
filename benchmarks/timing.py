"""Timing for the benchmarks: wall clock and CPU time of repeated runs, after a garbage collection."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Seconds per run (wall clock and CPU) and the last run's result."""

    wall: list[float]
    cpu: list[float]
    result: Any

    @property
    def median(self) -> float:
        """Median wall-clock seconds (what the figures quote)."""
        return statistics.median(self.wall)

    @property
    def best(self) -> float:
        """Best wall-clock seconds: the run least disturbed by other processes."""
        return min(self.wall)

    @property
    def median_cpu(self) -> float:
        """Median CPU seconds of this process (other processes disturb it far less)."""
        return statistics.median(self.cpu)

    @property
    def best_cpu(self) -> float:
        """Best CPU seconds of this process."""
        return min(self.cpu)


def timed(run: Callable[[], Any], repeat: int) -> Timing:
    """Run ``run`` ``repeat`` times, each after ``gc.collect()``."""
    wall, cpu = [], []
    result = None
    for _ in range(repeat):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return Timing(wall, cpu, result)
