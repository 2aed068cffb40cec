"""Billing ingest benchmark: snapshots of 1,000 pods per cluster, as Shuttles send them every 60 s.

Run: ``.venv/bin/python benchmarks/bench_billing.py [--clusters 100 --seconds 30 --threads 2
--clients 4] [--skip-ledger] [--skip-http]`` (embedded PostgreSQL, or DATABASE_URL). The target
load is 1,000 clusters x 1,000 pods every 60 s, about 16,700 pod-samples/s; the goal is at least
20,000 pod-samples/s on this machine.

1. Generates ``--clusters`` clusters, each with 10 projects x 40 services and 1,000 running pods
   (services run 1 to 5 replicas), plans in force for 40 days, by bulk SQL.
2. **Ledger**: the first snapshot of every cluster (all its objects new: each gets a coverage row),
   then the steady state: contiguous 60 s windows per cluster, clusters in turn, ``--threads``
   threads through the PostgreSQL usage ledger, one call of ``billing_ingest`` per snapshot (one
   round trip, one transaction). Reports snapshots/s, pod-samples/s, latency and the rows written
   per snapshot (the function's own count and ``pg_stat_user_tables``).
3. **HTTP**: the same over Starbase's endpoint (the body guard, the snapshot's decode and
   validation, the agent-token check and quota, the ledger, the audit trail in PostgreSQL: the
   embedded default) from ``--clients`` concurrent clients in a second process, each cluster's
   first snapshot untimed. The clients send prebuilt bodies (on one machine their CPU is the
   server's; an agent encodes on its own). Reports the rate, the rows written, the PostgreSQL
   transactions (autocommit: round trips) and the CPU per snapshot of Starbase, PostgreSQL and
   the load generator.

Fails loudly unless every snapshot is accepted whole (``201``, 1,000 pods billed, none refused)
and the running totals grew by exactly 1,000 pods x 60 s per snapshot (at 250m and 512Mi).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

import httpx
import psutil
import psycopg

from starform_adapters.postgres import VarCipher, migrate, open_pool
from starform_adapters.postgres.billing import PostgresUsageLedger
from starform_adapters.postgres.job_schema import migrate_job_queue
from starform_apps.starbase.logs import configure_logging
from starform_apps.starbase.server import ServerThread, open_starbase
from starform_apps.starbase.tokens import hash_token, new_token
from starform_core.billing import SampleKind, UsageSample, UsageSnapshot, snapshot_digest
from starform_core.model.tenant import TenantKey
from starform_testkit.postgres import fresh_database, postgres_server

PODS, PROJECTS, SERVICES = 1000, 10, 40
TABLES = (
    "billing_snapshots",
    "billing_cluster_windows",
    "billing_coverage",
    "billing_usage",
    "billing_audit_snapshots",
)
Pod = dict[str, str]


def generate(url: str, clusters: int) -> list[dict[str, Any]]:
    """Insert the clusters, tenants (on their plan for 40 days) and pods: per cluster its id, token, pods."""
    plan_start = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    world = []
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO regions (name) VALUES ('fra1')")
        ws = str(uuid.uuid4())
        cur.execute("INSERT INTO workspaces (id, name) VALUES (%s, 'bench')", (ws,))
        for c in range(clusters):
            cluster_id, token = str(uuid.uuid4()), new_token("sba_")
            cur.execute(
                "INSERT INTO clusters (id, name, region, gateway_namespace, gateway_name, storage_class,"
                " agent_token_hash) VALUES (%s, %s, 'fra1', 'gw', 'gw', 'sc', %s)",
                (cluster_id, f"bench-{c}", hash_token(token)),
            )
            projects, envs, services, pods = [], [], [], []
            for p in range(PROJECTS):
                pid, eid = str(uuid.uuid4()), str(uuid.uuid4())
                projects.append((pid, ws, cluster_id, f"p{c}-{p}"))
                envs.append((eid, pid))
                for s in range(SERVICES):
                    sid = str(uuid.uuid4())
                    services.append((sid, pid, eid, f"svc-{s}"))
            for index in range(PODS):
                sid, pid, _, _ = services[index % len(services)]
                pods.append({"uid": str(uuid.uuid4()), "project_id": pid, "service_id": sid})
            cur.executemany(
                "INSERT INTO projects (id, workspace_id, cluster_id, name, tier)"
                " VALUES (%s, %s, %s, %s, 'pro')",
                projects,
            )
            cur.executemany(
                "INSERT INTO environments (id, project_id, name) VALUES (%s, %s, 'production')", envs
            )
            cur.executemany(
                "INSERT INTO services (id, project_id, environment_id, name, type, state, cpu_request,"
                " memory_request) VALUES (%s, %s, %s, %s, 'worker', 'active', '250m', '512Mi')",
                services,
            )
            world.append({"cluster_id": cluster_id, "token": token, "workspace_id": ws, "pods": pods})
        cur.execute("UPDATE billing_plan_periods SET during = tstzrange(%s, NULL)", (plan_start,))
        conn.commit()
        conn.execute("ANALYZE")
    return world


def _samples(cluster: dict[str, Any]) -> tuple[UsageSample, ...]:
    return tuple(
        UsageSample(
            SampleKind.POD,
            pod["uid"],
            TenantKey(cluster["workspace_id"], pod["project_id"], "production", pod["service_id"]),
            "Running",
            cpu_millis=250,
            memory_bytes=512 * 2**20,
        )
        for pod in cluster["pods"]
    )


def _snapshot(
    cluster: dict[str, Any], samples: tuple[UsageSample, ...], step: int, origin: dt.datetime
) -> UsageSnapshot:
    start = origin + dt.timedelta(minutes=step)
    return UsageSnapshot(cluster["cluster_id"], f"s-{step}", start, start + dt.timedelta(minutes=1), samples)


def _rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        record = conn.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0) FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            (list(TABLES),),
        ).fetchone()
    return int(record[0]) if record else 0


def _commits(url: str) -> int:
    """Transactions committed in the database so far (autocommit: one per statement, so one
    per round trip of Starbase's)."""
    with psycopg.connect(url) as conn:
        record = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(record[0]) if record else 0


def _pod_microseconds(url: str) -> tuple[int, int, int]:
    """The running totals of every month: pod-, millicore- and byte-microseconds."""
    with psycopg.connect(url) as conn:
        record = conn.execute(
            "SELECT coalesce(sum(pod_us), 0), coalesce(sum(cpu_milli_us), 0),"
            " coalesce(sum(memory_byte_us), 0) FROM billing_usage"
        ).fetchone()
    assert record is not None
    return int(record[0]), int(record[1]), int(record[2])


def _check_totals(before: tuple[int, int, int], after: tuple[int, int, int], snapshots: int) -> None:
    """Each accepted snapshot bills its 1,000 pods 60 s each at 250m and 512Mi, exactly."""
    pod_us = snapshots * PODS * 60 * 10**6
    expected = (pod_us, pod_us * 250, pod_us * 512 * 2**20)
    got = tuple(a - b for a, b in zip(after, before, strict=True))
    if got != expected:
        raise SystemExit(f"the running totals are wrong: {got} added, {expected} expected")
    print(f"  running totals exact: {snapshots} snapshots added {pod_us // 10**6:,} pod-seconds")


def _stats_settled(url: str, before: int, expected_min: int) -> int:
    """pg_stat counters are flushed asynchronously: wait (bounded) until they cover the run."""
    deadline = time.monotonic() + 5
    rows = _rows(url)
    while rows - before < expected_min and time.monotonic() < deadline:
        threading.Event().wait(0.2)
        rows = _rows(url)
    return rows


def _ledger_run(
    ledger: PostgresUsageLedger,
    world: list[dict[str, Any]],
    threads: int,
    steps: range | None,
    seconds: float,
    origin: dt.datetime,
) -> tuple[float, list[float], list[int]]:
    """Apply snapshots with ``threads`` threads: every cluster at each step of ``steps`` (once
    each), or contiguous steps until ``seconds`` have passed. Returns (elapsed, latencies, rows)."""
    samples = {c["cluster_id"]: _samples(c) for c in world}
    latencies: list[float] = []
    written: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(mine: list[dict[str, Any]]) -> None:
        lat, rows = [], []
        for step in steps if steps is not None else itertools.count(1):
            for cluster in mine:
                snap = _snapshot(cluster, samples[cluster["cluster_id"]], step, origin)
                digest = snapshot_digest(snap)
                t0 = time.perf_counter()
                result = ledger.ingest(snap, digest=digest)
                lat.append(time.perf_counter() - t0)
                if result.duplicate or result.billed != PODS or result.rejected:
                    raise SystemExit(f"snapshot {snap.snapshot_id} not billed whole: {result}")
                rows.append(result.rows_written)
                if steps is None and time.monotonic() >= deadline:
                    break
            if steps is None and time.monotonic() >= deadline:
                break
        with lock:
            latencies.extend(lat)
            written.extend(rows)

    pool_threads = [threading.Thread(target=worker, args=(world[i::threads],)) for i in range(threads)]
    t0 = time.perf_counter()
    for t in pool_threads:
        t.start()
    for t in pool_threads:
        t.join()
    return time.perf_counter() - t0, latencies, written


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def bench_ledger(url: str, world: list[dict[str, Any]], threads: int, seconds: float) -> None:
    """Ledger-level ingest: a first snapshot per cluster (every object new), then the steady state."""
    origin = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(days=1)
    pool = open_pool(url, max_size=threads + 1)
    ledger = PostgresUsageLedger(pool)
    took, first, first_rows = _ledger_run(ledger, world, threads, range(1), 0, origin)
    print(
        f"ledger, first snapshot of each of {len(world)} clusters (every object new):"
        f" {len(first) / took:.1f} snapshots/s, p50 {1000 * _percentile(first, 0.5):.0f} ms,"
        f" rows written {statistics.mean(first_rows):.0f} per snapshot"
    )
    before = _rows(url)
    parts = {"benchmark (psycopg)": [psutil.Process()], "postgres": _postgres_processes(url)}
    cpu = {name: _cpu_seconds(processes) for name, processes in parts.items()}
    elapsed, latencies, written = _ledger_run(ledger, world, threads, None, seconds, origin)
    cpu = {name: _cpu_seconds(processes) - cpu[name] for name, processes in parts.items()}
    after = _stats_settled(url, before, sum(written))
    pool.close()
    n = len(latencies)
    print(
        f"ledger, steady state ({threads} threads, {elapsed:.0f} s): {n / elapsed:.1f} snapshots/s ="
        f" {n * PODS / elapsed:,.0f} pod-samples/s; latency p50 {1000 * _percentile(latencies, 0.5):.0f} ms"
        f" p99 {1000 * _percentile(latencies, 0.99):.0f} ms"
    )
    print(
        f"  PostgreSQL rows written per snapshot: {statistics.mean(written):.0f} (the function's count:"
        f" the de-duplication record, the cluster's windows, running totals, changed coverage),"
        f" {(after - before) / n:.0f} (pg_stat)"
    )
    shares = ", ".join(f"{name} {1000 * used / n:.1f} ms" for name, used in cpu.items())
    print(f"  CPU per snapshot: {shares}")


def _body_template(cluster: dict[str, Any]) -> tuple[bytes, bytes]:
    """The snapshot body around its id and window: the pods encoded once (the load generator's
    CPU is the server's, on one machine; an agent encodes on its own)."""
    pods = [
        {
            "uid": p["uid"],
            "workspace_id": cluster["workspace_id"],
            "project_id": p["project_id"],
            "environment": "production",
            "service_id": p["service_id"],
            "phase": "Running",
            "cpu": "250m",
            "memory": "512Mi",
        }
        for p in cluster["pods"]
    ]
    return b'{"snapshot_id": "h-%d", "window": {"start": "%s", "end": "%s"}, "pods": ', (
        json.dumps(pods).encode() + b"}"
    )


def _body(template: tuple[bytes, bytes], step: int, origin: dt.datetime) -> bytes:
    head, tail = template
    start = origin + dt.timedelta(minutes=step)
    end = start + dt.timedelta(minutes=1)
    return head % (step, start.isoformat().encode(), end.isoformat().encode()) + tail


def _postgres_processes(url: str) -> list[psutil.Process]:
    """The PostgreSQL server's processes (the postmaster and its children)."""
    with psycopg.connect(url) as conn:
        record = conn.execute("SELECT current_setting('data_directory')").fetchone()
    assert record is not None
    with open(os.path.join(record[0], "postmaster.pid")) as handle:
        postmaster = psutil.Process(int(handle.readline()))
    return [postmaster, *postmaster.children()]


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def load(path: str, threads: int, seconds: float) -> None:
    """The HTTP load generator (a second process): posts snapshots; prints JSON figures.

    Step 0 of every cluster first (its objects are new), untimed; then contiguous steps.
    """
    with open(path) as handle:
        setup = json.load(handle)
    base, world = setup["base"], setup["world"]
    origin = dt.datetime.fromisoformat(setup["origin"])
    templates = {cluster["cluster_id"]: _body_template(cluster) for cluster in world}
    counts, statuses, lock = [0], {}, threading.Lock()
    refused: list[str] = []  # snapshots not accepted whole (any but 201 with every pod billed)
    phase = {"deadline": 0.0, "steps": range(1)}
    barrier = threading.Barrier(threads + 1)

    def post(client: httpx.Client, cluster: dict[str, Any], step: int) -> int:
        answer = client.post(
            f"/v1/clusters/{cluster['cluster_id']}/usage-snapshots",
            content=_body(templates[cluster["cluster_id"]], step, origin),
            headers={"Authorization": f"Bearer {cluster['token']}", "Content-Type": "application/json"},
        )
        accepted = (
            answer.status_code == 201 and answer.json()["billed"] == PODS and not answer.json()["rejected"]
        )
        if not accepted:
            with lock:
                refused.append(f"{answer.status_code} {answer.text[:200]}")
        return answer.status_code

    def worker(mine: list[dict[str, Any]]) -> None:
        sent, codes = 0, {}
        with httpx.Client(base_url=base, timeout=60) as client:
            for cluster in mine:
                post(client, cluster, 0)
            barrier.wait()
            barrier.wait()
            for step in itertools.count(1):
                for cluster in mine:
                    status = post(client, cluster, step)
                    codes[status] = codes.get(status, 0) + 1
                    sent += 1
                    if time.monotonic() >= phase["deadline"]:
                        break
                if time.monotonic() >= phase["deadline"]:
                    break
        with lock:
            counts[0] += sent
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    workers = [threading.Thread(target=worker, args=(world[i::threads],)) for i in range(threads)]
    for t in workers:
        t.start()
    barrier.wait()  # every cluster's first snapshot is in
    before = _rows(setup["database"])
    commits = _commits(setup["database"])
    parts = {
        "starbase": [psutil.Process(os.getppid())],
        "postgres": _postgres_processes(setup["database"]),
        "load generator": [psutil.Process()],
    }
    cpu = {name: _cpu_seconds(processes) for name, processes in parts.items()}
    phase["deadline"] = time.monotonic() + seconds
    print(f"load generator: the timed phase starts ({seconds:.0f} s)", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    barrier.wait()
    for t in workers:
        t.join()
    elapsed = time.perf_counter() - t0
    cpu = {name: _cpu_seconds(processes) - cpu[name] for name, processes in parts.items()}
    rows = _stats_settled(setup["database"], before, counts[0] * 400) - before
    commits = _commits(setup["database"]) - commits - 1  # less this read's own
    figures = {"snapshots": counts[0], "seconds": elapsed, "statuses": statuses, "rows": rows, "cpu": cpu}
    figures.update(commits=commits, refused=refused, posted=counts[0] + len(world))
    print(json.dumps(figures))


def bench_http(url: str, world: list[dict[str, Any]], threads: int, seconds: float) -> None:
    """Starbase's endpoint under load from a second process (the steady state, after one
    snapshot per cluster)."""
    cipher = VarCipher.from_base64(base64.b64encode(os.urandom(32)).decode())
    origin = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=12)
    totals = _pod_microseconds(url)
    with open_starbase(url, cipher, pool_max_size=threads + 4) as starbase:
        server = ServerThread(starbase.app)
        base = server.start()
        try:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
                json.dump(
                    {"base": base, "database": url, "world": world, "origin": origin.isoformat()}, handle
                )
            generator = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--load",
                    handle.name,
                    "--threads",
                    str(threads),
                    "--seconds",
                    str(seconds),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            out, _ = generator.communicate()
            if generator.returncode:
                raise SystemExit(f"the load generator failed ({generator.returncode})")
            figures = json.loads(out.strip().splitlines()[-1])
            if figures["refused"]:
                raise SystemExit(
                    f"{len(figures['refused'])} snapshots not accepted: {figures['refused'][:3]}"
                )
            _check_totals(totals, _pod_microseconds(url), figures["posted"])
            n = figures["snapshots"]
            rate = n / figures["seconds"]
            print(
                f"HTTP, steady state ({threads} client threads, {figures['seconds']:.0f} s): {rate:.1f}"
                f" snapshots/s = {rate * PODS:,.0f} pod-samples/s; statuses {figures['statuses']}"
            )
            print(f"  PostgreSQL rows written per snapshot (with the audit trail): {figures['rows'] / n:.0f}")
            print(
                f"  PostgreSQL transactions per snapshot (autocommit: round trips, the listener's"
                f" and job queue's included): {figures['commits'] / n:.2f}"
            )
            print(
                "  CPU per snapshot: "
                + ", ".join(f"{name} {1000 * used / n:.1f} ms" for name, used in figures["cpu"].items())
            )
        finally:
            server.stop()
            os.unlink(handle.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--load", help="(internal) run the HTTP load generator from this setup file")
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2, help="ledger threads")
    parser.add_argument("--clients", type=int, default=4, help="HTTP clients (agents posting at once)")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--skip-ledger", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    if args.load:
        load(args.load, args.threads, args.seconds)
        return
    configure_logging("warning")
    with postgres_server() as server, fresh_database(server, prefix="bench_billing") as url:
        migrate(url)
        migrate_job_queue(url)
        t0 = time.perf_counter()
        world = generate(url, args.clusters)
        took = time.perf_counter() - t0
        print(
            f"world: {args.clusters} clusters, {PODS} pods, {PROJECTS * SERVICES} services each ({took:.0f}s)"
        )
        print(
            f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work shares them)"
        )
        if not args.skip_ledger:
            bench_ledger(url, world, args.threads, args.seconds)
        if not args.skip_http:
            bench_http(url, world, args.clients, args.seconds)
        print("target: >= 20,000 pod-samples/s (1,000 clusters x 1,000 pods every 60 s is ~16,700)")


if __name__ == "__main__":
    main()
