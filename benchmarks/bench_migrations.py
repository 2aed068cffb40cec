"""``starbase migrate`` on yoyo-migrations: a fresh database, an up-to-date one, racing replicas.

Run: ``.venv/bin/python benchmarks/bench_migrations.py [--runs 5] [--replicas 4]``

Prints the median of ``--runs`` for: applying every shipped migration to an empty database, the
no-op run on an up-to-date database (what each replica pays at start), and ``--replicas``
runners started together on one empty database (the advisory lock serialises them).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable

from starform_adapters.postgres.migrations import migrate
from starform_testkit.postgres import fresh_database, postgres_server


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _racing(url: str, replicas: int) -> float:
    barrier = threading.Barrier(replicas)
    threads = [threading.Thread(target=lambda: (barrier.wait(), migrate(url))) for _ in range(replicas)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=4)
    args = parser.parse_args()
    fresh, noop, racing = [], [], []
    with postgres_server() as server:
        for _ in range(args.runs):
            with fresh_database(server, prefix="bench_migrate") as url:
                fresh.append(_timed(lambda url=url: migrate(url)))
                noop.append(_timed(lambda url=url: migrate(url)))
            with fresh_database(server, prefix="bench_migrate") as url:
                racing.append(_racing(url, args.replicas))
    print(
        f"empty database, every migration: {statistics.median(fresh) * 1000:.0f} ms (median of {args.runs})"
    )
    print(f"up-to-date database (no-op):     {statistics.median(noop) * 1000:.0f} ms")
    print(f"{args.replicas} replicas racing on an empty one: {statistics.median(racing) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
