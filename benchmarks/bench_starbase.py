"""Starbase benchmark: a 2,000-service cluster; payload build, the 304 path, long-poll wake-ups.

Run: ``.venv/bin/python benchmarks/bench_starbase.py`` (embedded PostgreSQL, or DATABASE_URL;
``wrk`` from Debian: ``apt-get install wrk``).

1. Generates one cluster with 2,000 services (20 projects x 2 environments x 50 services, each
   with a release, var groups attached, web services with hostnames) by bulk SQL.
2. Times building the payload from the database: the set-based queries, ``build_payload`` and
   ``to_json`` (median of several runs); then the incremental rebuild the payload cache does
   after one service's release changed (checked byte for byte against the full build).
3. Serves Starbase (uvicorn with uvloop and httptools, one process) on 127.0.0.1 and loads it
   with ``wrk`` from another process, alternating, ``--runs`` times each: ``GET /desired-state``
   with the current ETag (``304``) and a trivial ``GET /bench/hello`` route added to the same
   app (same middleware, same server). Prints the medians and their ratio. Fails when a ``304``
   rebuilt the payload, checked a connection out of the pool (a query), or answered anything
   but ``304``, or when wrk counted errors.
4. Change -> wake latency: a held long-poll (``Prefer: wait=60``) against a change committed on
   another connection, from the commit's return to the answer's arrival: a reconcile request
   on the 2,000-service cluster (``304``, no rebuild: the wake-up alone), a generation bump on
   a one-service cluster (``200``) and on the 2,000-service cluster (``200`` including the
   rebuild). p50/p95 of ``--wakes`` rounds each.
5. 1,000 held long-polls from a second process on the 2,000-service cluster: Starbase's RSS
   before and while they are held, then one reconcile request, and the p50/p99/max of how long
   each answer took to arrive after its commit (all must be ``304`` naming it; a new generation
   would send 1,000 copies of a 1.8 MB body, which measures loopback bandwidth, not the wake).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import psutil
import psycopg
from fastapi.responses import PlainTextResponse

from starform_adapters.postgres import VarCipher
from starform_apps.starbase.logs import configure_logging
from starform_apps.starbase.server import ServerThread, Starbase, open_starbase
from starform_apps.starbase.tokens import hash_token, new_token
from starform_core.payload.build import build_payload
from starform_core.payload.codec import to_json
from starform_core.payload.incremental import IncrementalPayload
from starform_core.secrets_values import SecretValue
from starform_testkit.postgres import fresh_database, postgres_server
from starform_testkit.starbase import UNLIMITED

PROJECTS, ENVIRONMENTS, SERVICES_PER_ENV = 20, 2, 50
IMAGE = "registry.example.com/bench/app@sha256:" + "ab" * 32


def generate(
    url: str,
    cipher: VarCipher,
    token: str,
    *,
    projects_n: int = PROJECTS,
    environments_n: int = ENVIRONMENTS,
    services_n: int = SERVICES_PER_ENV,
) -> str:
    """Insert a cluster and its services (2,000 by default); returns the cluster id."""
    cluster_id = str(uuid.uuid4())
    ws = str(uuid.uuid4())
    user = str(uuid.uuid4())
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (id, email) VALUES (%s, %s)", (user, f"bench-{user}@example.com"))
        cur.execute("INSERT INTO workspaces (id, name) VALUES (%s, %s)", (ws, f"bench-{ws}"))
        cur.execute("INSERT INTO regions (name) VALUES ('fra1') ON CONFLICT DO NOTHING")
        cur.execute(
            "INSERT INTO clusters (id, name, region, gateway_namespace, gateway_name, storage_class,"
            " lb_target_api_version, lb_target_kind, lb_target_namespace, lb_target_name,"
            " lb_size_unit, agent_token_hash) VALUES (%s, %s, 'fra1', 'envoy-gateway-system',"
            " 'starform-gateway', 'do-block-storage', 'v1', 'Service', 'envoy-gateway-system',"
            " 'envoy-lb', 4, %s)",
            (cluster_id, f"bench-{cluster_id[:8]}", hash_token(token)),
        )
        services, deployments, groups, entries, links, hosts, envs, projects = ([] for _ in range(8))
        for p in range(projects_n):
            pid = str(uuid.uuid4())
            projects.append((pid, ws, cluster_id, f"project-{p}", "pro"))
            gids = []
            for g in range(2):
                gid = str(uuid.uuid4())
                gids.append(gid)
                groups.append((gid, pid, f"group-{g}"))
                for k in range(5):
                    sealed = cipher.seal(gid, f"KEY_{k}", SecretValue(f"value-{p}-{g}-{k}"))
                    entries.append((gid, f"KEY_{k}", sealed.ciphertext, sealed.nonce, sealed.key_id))
            for e in range(environments_n):
                eid = str(uuid.uuid4())
                envs.append((eid, pid, f"env-{e}"))
                for s in range(services_n):
                    sid = str(uuid.uuid4())
                    web = s % 3 != 2
                    services.append(
                        (sid, pid, eid, f"svc-{s}", "web" if web else "worker", 8080 if web else None)
                    )
                    deployments.append((str(uuid.uuid4()), sid, 1, IMAGE))
                    for order, gid in enumerate(gids):
                        links.append((sid, gid, pid, order))
                    if web:
                        hosts.append((f"svc-{s}-env-{e}-p{p}.{cluster_id[:8]}.bench.example.com", sid))
        cur.executemany(
            "INSERT INTO projects (id, workspace_id, cluster_id, name, tier) VALUES (%s, %s, %s, %s, %s)",
            projects,
        )
        cur.executemany("INSERT INTO environments (id, project_id, name) VALUES (%s, %s, %s)", envs)
        cur.executemany(
            "INSERT INTO services (id, project_id, environment_id, name, type, state, cpu_request,"
            " memory_request, port, replicas) VALUES (%s, %s, %s, %s, %s, 'active', '100m', '128Mi', %s, 1)",
            services,
        )
        cur.executemany(
            "INSERT INTO deployments (id, service_id, version, image) VALUES (%s, %s, %s, %s)", deployments
        )
        cur.executemany("INSERT INTO var_groups (id, project_id, name) VALUES (%s, %s, %s)", groups)
        cur.executemany(
            "INSERT INTO var_group_entries (var_group_id, key, ciphertext, nonce, key_id)"
            " VALUES (%s, %s, %s, %s, %s)",
            entries,
        )
        cur.executemany(
            "INSERT INTO service_var_groups (service_id, var_group_id, project_id, attach_order)"
            " VALUES (%s, %s, %s, %s)",
            links,
        )
        cur.executemany("INSERT INTO hostnames (hostname, service_id) VALUES (%s, %s)", hosts)
        cur.execute("ANALYZE")
    return cluster_id


def fail(message: str) -> None:
    """A correctness check failed: no figure is printed for a wrong answer."""
    print(f"FAILED: {message}", file=sys.stderr)
    raise SystemExit(1)


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, max(0, math.ceil(fraction * len(ranked)) - 1))]


# --- 3. the 304 path against a hello endpoint, both loaded by wrk ---------------------------

_WRK_RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")
_WRK_TOTAL = re.compile(r"([0-9]+) requests in")
_WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, headers: dict[str, str], *, seconds: int, connections: int) -> dict[str, float]:
    """One wrk run: requests/s, total, p50/p99 ms; fails on socket errors or non-2xx/3xx answers."""
    if shutil.which("wrk") is None:
        fail("wrk is not installed (apt-get install wrk)")
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Socket errors" in out or "Non-2xx or 3xx" in out:
        fail(f"wrk saw errors against {url}:\n{out}")
    latency = {q: float(v) * _UNIT[u] for q, v, u in _WRK_LATENCY.findall(out)}
    rps, total = _WRK_RPS.search(out), _WRK_TOTAL.search(out)
    if rps is None or total is None or set(latency) != {"50", "99"}:
        fail(f"cannot read wrk's output:\n{out}")
    assert rps is not None
    assert total is not None
    return {"rps": float(rps[1]), "total": float(total[1]), "p50": latency["50"], "p99": latency["99"]}


def counters(starbase: Starbase) -> tuple[float, float, int]:
    """(304s answered, payload builds, pool connection requests) so far."""
    sample = starbase.metrics.registry.get_sample_value
    pool = starbase.store._pool  # every store statement checks a connection out
    return (
        sample("starbase_payload_not_modified_total") or 0.0,
        sample("starbase_payload_builds_total") or 0.0,
        int(pool.get_stats()["requests_num"]),
    )


def not_modified_vs_hello(starbase: Starbase, base: str, cluster: str, token: str, args: Any) -> None:
    """Alternate wrk runs on the 304 path and on the hello route; medians and the ratio."""
    endpoint = f"{base}/v1/clusters/{cluster}/desired-state"
    etag = httpx.get(endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=60).headers["etag"]
    headers = {"Authorization": f"Bearer {token}", "If-None-Match": etag}
    wrk(endpoint, headers, seconds=2, connections=args.connections)  # warm-up
    wrk(f"{base}/bench/hello", {}, seconds=2, connections=args.connections)
    cached, hello = [], []
    for _ in range(args.runs):
        before = counters(starbase)
        run = wrk(endpoint, headers, seconds=args.seconds, connections=args.connections)
        after = counters(starbase)
        if after[1] != before[1]:
            fail("a 304 rebuilt the payload")
        if after[2] != before[2]:
            fail(f"the 304 path checked {after[2] - before[2]} connections out of the pool (queries)")
        if abs((after[0] - before[0]) - run["total"]) > args.connections:
            fail(f"wrk counted {run['total']:.0f} answers, Starbase {after[0] - before[0]:.0f} 304s")
        cached.append(run)
        hello.append(wrk(f"{base}/bench/hello", {}, seconds=args.seconds, connections=args.connections))
    median = {k: statistics.median(r[k] for r in cached) for k in ("rps", "p50", "p99")}
    base_median = {k: statistics.median(r[k] for r in hello) for k in ("rps", "p50", "p99")}
    print(
        f"304 path (wrk -t1 -c{args.connections} -d{args.seconds}s, median of {args.runs}):"
        f" {median['rps']:.0f} req/s, p50 {median['p50']:.2f} ms, p99 {median['p99']:.2f} ms;"
        f" no rebuild, no query (checked)"
    )
    print(
        f"hello endpoint, same app and server: {base_median['rps']:.0f} req/s,"
        f" p50 {base_median['p50']:.2f} ms, p99 {base_median['p99']:.2f} ms"
    )
    ratios = [c["rps"] / h["rps"] for c, h in zip(cached, hello, strict=True)]
    print(
        f"ratio 304 / hello: {median['rps'] / base_median['rps']:.2f}"
        f" (per run: {', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.7)"
    )


# --- 4. change -> wake latency ---------------------------------------------------------------


def commit(url: str, statement: str, params: tuple[object, ...]) -> float:
    """Run one statement on a new connection; the ``perf_counter`` when its commit returned."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)
        return time.perf_counter()


async def _one_wake(
    http: httpx.AsyncClient,
    starbase: Starbase,
    cluster: str,
    token: str,
    change: tuple[str, tuple[object, ...]],
) -> tuple[float, int]:
    endpoint = f"/v1/clusters/{cluster}/desired-state"
    auth = {"Authorization": f"Bearer {token}"}
    etag = (await http.get(endpoint, headers=auth)).headers["etag"]
    gauge = starbase.metrics.registry.get_sample_value
    held = gauge("starbase_desired_state_held_polls") or 0.0
    poll = asyncio.ensure_future(
        http.get(endpoint, headers={**auth, "If-None-Match": etag, "Prefer": "wait=60"})
    )
    deadline = time.monotonic() + 30
    while (gauge("starbase_desired_state_held_polls") or 0.0) <= held:
        if time.monotonic() > deadline or poll.done():
            fail("the long-poll was not held")
        await asyncio.sleep(0.002)  # waiting for a condition, not for timing
    committed = await asyncio.to_thread(commit, starbase.database_url, *change)
    answer = await poll
    return time.perf_counter() - committed, answer.status_code


_RECONCILE = (
    "INSERT INTO reconcile_requests (id, cluster_id, requested_by) VALUES (gen_random_uuid(), %s, 'bench')"
)
_BUMP = "UPDATE clusters SET generation = generation + 1 WHERE id = %s"
_SERVED = "UPDATE reconcile_requests SET served_at = now() WHERE cluster_id = %s AND served_at IS NULL"


async def _until_served(http: httpx.AsyncClient, cluster: str, token: str) -> None:
    deadline = time.monotonic() + 30
    auth = {"Authorization": f"Bearer {token}"}
    while (
        "starform-reconcile-request"
        in (await http.get(f"/v1/clusters/{cluster}/desired-state", headers=auth)).headers
    ):
        if time.monotonic() > deadline:
            fail("served reconcile requests are still announced")
        await asyncio.sleep(0.002)  # waiting for a condition, not for timing


def wake_latency(
    starbase: Starbase, base: str, label: str, cluster: str, token: str, kind: str, rounds: int
) -> None:
    """p50/p95 from a committed change to the held poll's answer."""
    if kind == "reconcile":
        statement = _RECONCILE
        expected = 304
    else:
        statement = _BUMP
        expected = 200

    async def scenario() -> list[float]:
        latencies = []
        async with httpx.AsyncClient(base_url=base, timeout=90) as http:
            for _ in range(rounds):
                seconds, status = await _one_wake(http, starbase, cluster, token, (statement, (cluster,)))
                if status != expected:
                    fail(f"{label}: the held poll answered {status}, not {expected}")
                latencies.append(seconds * 1000)
                if kind == "reconcile":  # served, so the next poll is held again
                    await asyncio.to_thread(commit, starbase.database_url, _SERVED, (cluster,))
                    await _until_served(http, cluster, token)
        return latencies

    latencies = asyncio.run(scenario())
    print(
        f"change -> wake, {label} ({rounds} rounds): p50 {percentile(latencies, 0.5):.1f} ms,"
        f" p95 {percentile(latencies, 0.95):.1f} ms, max {max(latencies):.1f} ms"
    )


# --- 5. 1,000 held long-polls from a second process ------------------------------------------


async def _raw_poll(host: str, port: int, request: bytes) -> tuple[int, str, float]:
    """One HTTP/1.1 GET on its own connection (asyncio streams: a client that costs next to
    nothing per connection, unlike httpx's pool); (status, reconcile header, arrival time)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        arrived = time.perf_counter()
    finally:
        writer.close()
    lines = head.split("\r\n")
    fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    reconcile = next((v.strip() for k, v in fields.items() if k.lower() == "starform-reconcile-request"), "")
    return int(lines[0].split()[1]), reconcile, arrived


def hold(args: Any) -> None:
    """(Second process) hold ``--count`` polls, wait for "go", commit one change, time the answers."""

    async def scenario() -> dict[str, Any]:
        auth = {"Authorization": f"Bearer {args.token}"}
        endpoint = f"/v1/clusters/{args.cluster}/desired-state"
        async with httpx.AsyncClient(base_url=args.hold, timeout=60) as http:
            etag = (await http.get(endpoint, headers=auth)).headers["etag"]
        host, port = args.hold.removeprefix("http://").rsplit(":", 1)
        request = (
            f"GET {endpoint} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {args.token}\r\n"
            f"If-None-Match: {etag}\r\nPrefer: wait=60\r\n\r\n"
        ).encode()
        polls = [asyncio.ensure_future(_raw_poll(host, int(port), request)) for _ in range(args.count)]
        print("sent", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        committed = await asyncio.to_thread(commit, args.database_url, _RECONCILE, (args.cluster,))
        answers = await asyncio.wait_for(asyncio.gather(*polls), timeout=60)
        waits = [(arrived - committed) * 1000 for _status, _reconcile, arrived in answers]
        return {
            "statuses": sorted({status if reconcile else -1 for status, reconcile, _ in answers}),
            "p50": percentile(waits, 0.5),
            "p99": percentile(waits, 0.99),
            "max": max(waits),
        }

    print(json.dumps(asyncio.run(scenario())), flush=True)


def held_polls(starbase: Starbase, base: str, cluster: str, token: str, count: int) -> None:
    """Starbase's RSS with ``count`` polls held from a second process; one change answers them all."""
    me = psutil.Process()
    gauge = starbase.metrics.registry.get_sample_value
    rss_before = me.memory_info().rss
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--hold",
            base,
            "--token",
            token,
            "--cluster",
            cluster,
            "--count",
            str(count),
            "--database-url",
            starbase.database_url,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    if child.stdout.readline().strip() != "sent":
        fail("the holding process did not start")
    deadline = time.monotonic() + 120
    while (gauge("starbase_desired_state_held_polls") or 0.0) < count:
        if time.monotonic() > deadline:
            fail(f"only {gauge('starbase_desired_state_held_polls')} of {count} polls were held")
        time.sleep(0.01)  # waiting for a condition, not for timing
    rss_held = me.memory_info().rss
    child.stdin.write("go\n")
    child.stdin.flush()
    result = json.loads(child.stdout.readline())
    child.wait(timeout=60)
    if result["statuses"] != [304]:
        fail(f"held polls answered {result['statuses']}, not all 304 naming the reconcile request")
    print(
        f"{count} held long-polls (second process): Starbase RSS {rss_before / 2**20:.0f} MiB before,"
        f" {rss_held / 2**20:.0f} MiB held (+{(rss_held - rss_before) / 2**10 / count:.1f} KiB per poll);"
        f" one reconcile request answered all: p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms,"
        f" max {result['max']:.0f} ms after the commit"
    )


# --- the run ----------------------------------------------------------------------------------


def payload_build(starbase: Starbase, cluster_id: str, runs: int) -> None:
    """Median time of the queries, the build and the serialisation of the 2,000-service payload."""
    store, cipher = starbase.store, starbase.cipher
    query_s, build_s, json_s = [], [], []
    body, services = b"", 0
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = store.cluster_rows(cluster_id)
        t1 = time.perf_counter()
        document = build_payload(rows, checksum_key=cipher.checksum_key(cluster_id))
        t2 = time.perf_counter()
        body = to_json(document)
        t3 = time.perf_counter()
        query_s.append(t1 - t0)
        build_s.append(t2 - t1)
        json_s.append(t3 - t2)
        services = sum(len(p.services) for p in document.projects)
    print(f"cluster: {services} services, payload {len(body) / 1e6:.2f} MB")
    q, b, j = (statistics.median(x) * 1000 for x in (query_s, build_s, json_s))
    print(
        f"payload from the database (median of {runs}): queries {q:.0f} ms"
        f" + build {b:.0f} ms + to_json {j:.0f} ms = {q + b + j:.0f} ms"
    )


_REDEPLOY = (
    "UPDATE deployments SET image = %s WHERE id = (SELECT d.id FROM deployments d"
    " JOIN services s ON s.id = d.service_id JOIN projects p ON p.id = s.project_id"
    " WHERE p.cluster_id = %s ORDER BY d.id OFFSET %s LIMIT 1)"
)


def incremental_build(starbase: Starbase, cluster_id: str, runs: int) -> None:
    """Median time of the incremental rebuild after one service's release changed (what the
    payload cache does on a new generation): the queries with the row memo, the build reusing
    unchanged services and their fragments. Fails when its bytes differ from a full build's."""
    store, key = starbase.store, starbase.cipher.checksum_key(cluster_id)
    builder = IncrementalPayload()
    builder.build(store.cluster_rows(cluster_id, memo=builder.row_memo), checksum_key=key)
    query_s, build_s = [], []
    for run in range(runs):
        image = f"registry.example.com/bench/redeploy@sha256:{run % 256:02x}" + "cd" * 31
        commit(starbase.database_url, _REDEPLOY, (image, cluster_id, run * 37))
        commit(starbase.database_url, _BUMP, (cluster_id,))
        t0 = time.perf_counter()
        rows = store.cluster_rows(cluster_id, memo=builder.row_memo)
        t1 = time.perf_counter()
        _, body = builder.build(rows, checksum_key=key)
        t2 = time.perf_counter()
        if body != to_json(build_payload(store.cluster_rows(cluster_id), checksum_key=key)):
            fail("the incremental build differs from the full build")
        query_s.append(t1 - t0)
        build_s.append(t2 - t1)
    q, b = (statistics.median(x) * 1000 for x in (query_s, build_s))
    print(
        f"incremental rebuild after one release changed (median of {runs}, checked equal to the"
        f" full build): queries {q:.0f} ms + build and bytes {b:.0f} ms = {q + b:.0f} ms"
    )


async def hello() -> PlainTextResponse:
    """The trivial endpoint the 304 path is compared with (same app, middleware and server)."""
    return PlainTextResponse("hello")


def arguments() -> Any:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="wrk runs per endpoint, payload builds")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--wakes", type=int, default=40, help="rounds per wake-latency figure")
    parser.add_argument("--held", type=int, default=1000, help="long-polls held at once")
    parser.add_argument("--hold", help=argparse.SUPPRESS)  # (internal) the holding process
    parser.add_argument("--token", default="", help=argparse.SUPPRESS)
    parser.add_argument("--cluster", default="", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default="", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = arguments()
    if args.hold:
        hold(args)
        return
    configure_logging("warning")
    cipher = VarCipher.from_base64(base64.b64encode(os.urandom(32)).decode())
    token, small_token = new_token("sba_"), new_token("sba_")
    with (
        postgres_server() as server,
        fresh_database(server, prefix="bench") as url,
        open_starbase(url, cipher, pool_max_size=8, rate_limits=UNLIMITED) as starbase,
    ):
        cluster_id = generate(url, cipher, token)
        small_id = generate(url, cipher, small_token, projects_n=1, environments_n=1, services_n=1)
        payload_build(starbase, cluster_id, args.runs)
        incremental_build(starbase, cluster_id, args.runs)
        app: Any = starbase.app
        app.add_api_route("/bench/hello", hello, methods=["GET"])
        thread = ServerThread(starbase.app)
        base = thread.start()
        try:
            not_modified_vs_hello(starbase, base, cluster_id, token, args)
            wake_latency(
                starbase,
                base,
                "reconcile request, 2,000 services (304)",
                cluster_id,
                token,
                "reconcile",
                args.wakes,
            )
            wake_latency(
                starbase, base, "new generation, 1 service (200)", small_id, small_token, "bump", args.wakes
            )
            wake_latency(
                starbase,
                base,
                "new generation, 2,000 services (200, rebuild)",
                cluster_id,
                token,
                "bump",
                max(5, args.wakes // 4),
            )
            held_polls(starbase, base, cluster_id, token, args.held)
        finally:
            thread.stop()


if __name__ == "__main__":
    main()
