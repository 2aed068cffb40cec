"""Starbase benchmark: a 2,000-service cluster; payload build time and the 304 path under load.

Run: ``.venv/bin/python benchmarks/bench_starbase.py`` (embedded PostgreSQL, or DATABASE_URL).

1. Generates one cluster with 2,000 services (20 projects x 2 environments x 50 services, each
   with a release, var groups attached, web services with hostnames) by bulk SQL.
2. Times building the payload from the database: the set-based queries, ``build_payload`` and
   ``to_json`` (median of several runs).
3. Serves Starbase on 127.0.0.1 and hammers ``GET /desired-state`` with ``If-None-Match`` from a
   second process (httpx, several threads, a bounded number of requests); reports p50/p99
   latency and requests per second, and checks that no 304 rebuilt the payload.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

import httpx
import psycopg

from starform_adapters.postgres import VarCipher
from starform_apps.starbase.logs import configure_logging
from starform_apps.starbase.server import ServerThread, open_starbase
from starform_apps.starbase.tokens import hash_token, new_token
from starform_core.payload.build import build_payload
from starform_core.payload.codec import to_json
from starform_core.secrets_values import SecretValue
from starform_testkit.postgres import fresh_database, postgres_server

PROJECTS, ENVIRONMENTS, SERVICES_PER_ENV = 20, 2, 50
IMAGE = "registry.example.com/bench/app@sha256:" + "ab" * 32


def generate(url: str, cipher: VarCipher, token: str) -> str:
    """Insert the cluster and its 2,000 services; returns the cluster id."""
    cluster_id = str(uuid.uuid4())
    ws = str(uuid.uuid4())
    user = str(uuid.uuid4())
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (id, email) VALUES (%s, 'bench@example.com')", (user,))
        cur.execute("INSERT INTO workspaces (id, name) VALUES (%s, 'bench')", (ws,))
        cur.execute("INSERT INTO regions (name) VALUES ('fra1')")
        cur.execute(
            "INSERT INTO clusters (id, name, region, gateway_namespace, gateway_name, storage_class,"
            " lb_target_api_version, lb_target_kind, lb_target_namespace, lb_target_name,"
            " lb_size_unit, agent_token_hash) VALUES (%s, 'bench', 'fra1', 'envoy-gateway-system',"
            " 'starform-gateway', 'do-block-storage', 'v1', 'Service', 'envoy-gateway-system',"
            " 'envoy-lb', 4, %s)",
            (cluster_id, hash_token(token)),
        )
        services, deployments, groups, entries, links, hosts, envs, projects = ([] for _ in range(8))
        for p in range(PROJECTS):
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
            for e in range(ENVIRONMENTS):
                eid = str(uuid.uuid4())
                envs.append((eid, pid, f"env-{e}"))
                for s in range(SERVICES_PER_ENV):
                    sid = str(uuid.uuid4())
                    web = s % 3 != 2
                    services.append(
                        (sid, pid, eid, f"svc-{s}", "web" if web else "worker", 8080 if web else None)
                    )
                    deployments.append((str(uuid.uuid4()), sid, 1, IMAGE))
                    for order, gid in enumerate(gids):
                        links.append((sid, gid, pid, order))
                    if web:
                        hosts.append((f"svc-{s}-env-{e}-p{p}.bench.example.com", sid))
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


def load(url: str, token: str, etag: str, threads: int, requests: int) -> None:
    """The load generator (runs in a second process): prints latencies as JSON."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    per_thread = requests // threads

    def worker() -> None:
        headers = {"Authorization": f"Bearer {token}", "If-None-Match": f'"{etag}"'}
        mine: list[float] = []
        codes: dict[int, int] = {}
        with httpx.Client(timeout=30) as client:
            for _ in range(per_thread):
                started = time.perf_counter()
                status = client.get(url, headers=headers).status_code
                mine.append(time.perf_counter() - started)
                codes[status] = codes.get(status, 0) + 1
        with lock:
            latencies.extend(mine)
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "statuses": statuses,
                "seconds": elapsed,
                "rps": len(latencies) / elapsed,
                "p50_ms": 1000 * latencies[len(latencies) // 2],
                "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--load", help="(internal) run the load generator against this URL")
    parser.add_argument("--token", default="")
    parser.add_argument("--etag", default="")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.load:
        load(args.load, args.token, args.etag, args.threads, args.requests)
        return

    configure_logging("warning")
    key = base64.b64encode(os.urandom(32)).decode()
    cipher = VarCipher.from_base64(key)
    token = new_token("sba_")
    with (
        postgres_server() as server,
        fresh_database(server, prefix="bench") as url,
        open_starbase(url, cipher, pool_max_size=8) as starbase,
    ):
        cluster_id = generate(url, cipher, token)
        store = starbase.store
        query_s, build_s, json_s = [], [], []
        body = b""
        for _ in range(args.runs):
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
            f"payload from the database (median of {args.runs}): queries {q:.0f} ms"
            f" + build {b:.0f} ms + to_json {j:.0f} ms = {q + b + j:.0f} ms"
        )

        thread = ServerThread(starbase.app)
        base = thread.start()
        try:
            endpoint = f"{base}/v1/clusters/{cluster_id}/desired-state"
            headers = {"Authorization": f"Bearer {token}"}
            t0 = time.perf_counter()
            first = httpx.get(endpoint, headers=headers, timeout=60)
            cold_ms = (time.perf_counter() - t0) * 1000
            print(f"first GET (cold cache, HTTP): {first.status_code} in {cold_ms:.0f} ms")
            etag = first.headers["etag"].strip('"')
            builds = starbase.metrics.registry.get_sample_value("starbase_payload_builds_total")
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--load",
                    endpoint,
                    "--token",
                    token,
                    "--etag",
                    etag,
                    "--threads",
                    str(args.threads),
                    "--requests",
                    str(args.requests),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout)
            after = starbase.metrics.registry.get_sample_value("starbase_payload_builds_total")
            print(
                f"304 path from a second process ({args.threads} threads, {result['requests']} requests):"
                f" p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms,"
                f" {result['rps']:.0f} requests/s, statuses {result['statuses']},"
                f" payload rebuilds during load: {int((after or 0) - (builds or 0))}"
            )
        finally:
            thread.stop()


if __name__ == "__main__":
    main()
