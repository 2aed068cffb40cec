"""Pod watch benchmark: Shuttle's pod watch and usage ledger at 1,000 pods with churn.

Run: ``.venv/bin/python benchmarks/bench_pod_watch.py [--pods 1000] [--churn 5] [--seconds 30]``

The Kubernetes test server runs in a child process and does the churn there (every second it
deletes ``--churn`` pods and creates as many, each created pod also getting a status update as a
kubelet would), so the CPU and memory figures are this process's: the Kubernetes adapter's pod
watch (list, then watch: JSON decoding, the cache) feeding the usage ledger. Prints the time to
list and sync, the CPU share of the watch under churn, the memory the watch cache and the ledger
hold (tracemalloc), and one usage snapshot of every pod: time to build and queue it, its size.
Checks before printing: the ledger tracks exactly the pods the server runs, and the snapshot
bills every one of them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import multiprocessing.connection
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubernetes.client import Configuration

from starform_adapters.kubernetes import KubernetesCluster
from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.reports import ReportKind
from starform_apps.shuttle.statedb import StateDB
from starform_apps.shuttle.usage import UsageReporter
from starform_core.kube.labels import (
    LABEL_ENVIRONMENT,
    LABEL_MANAGED_BY,
    LABEL_PROJECT_ID,
    LABEL_SERVICE_ID,
    LABEL_WORKSPACE_ID,
    MANAGED_BY_VALUE,
)

CLUSTER_ID = "9b2e7c1d-4a5f-4e8b-b0c9-000000000001"
NAMESPACES = 50


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(n: int) -> dict[str, Any]:
    """A pod of one of 400 services, shaped as a Deployment's pod is (labels, requests, probes)."""
    service = n % 400
    labels = {
        LABEL_MANAGED_BY: MANAGED_BY_VALUE,
        LABEL_WORKSPACE_ID: f"00000001-0000-4000-8000-{service // 20:012d}",
        LABEL_PROJECT_ID: f"00000002-0000-4000-8000-{service // 20:012d}",
        LABEL_ENVIRONMENT: "production",
        LABEL_SERVICE_ID: f"00000003-0000-4000-8000-{service:012d}",
        "starform.io/service-name": f"svc-{service}",
        "app.kubernetes.io/name": f"svc-{service}",
        "pod-template-hash": uuid.uuid4().hex[:10],
    }
    container = {
        "name": "app",
        "image": f"registry.example/svc-{service}@sha256:{'ab' * 32}",
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": f"VAR_{i}", "value": "x" * 16} for i in range(8)],
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"svc-{service}-{uuid.uuid4().hex[:10]}",
            "namespace": f"p-{n % NAMESPACES}",
            "labels": labels,
        },
        "spec": {"containers": [container], "nodeName": "node-1"},
        "status": {"phase": "Pending"},
    }


def _running(obj: dict[str, Any]) -> dict[str, Any]:
    now = _stamp()
    obj = json.loads(json.dumps(obj))
    obj["status"] = {
        "phase": "Running",
        "startTime": now,
        "containerStatuses": [
            {
                "name": "app",
                "ready": True,
                "restartCount": 0,
                "image": "x",
                "imageID": "x",
                "state": {"running": {"startedAt": now}},
            }
        ],
    }
    return obj


# --- the Kubernetes test server (and the churn) in a child process ------------------------------
def _serve(conn: multiprocessing.connection.Connection, pods: int) -> None:
    from starform_testkit.kube_testserver import KubeTestServer

    with KubeTestServer(controllers=False) as kube:
        for n in range(NAMESPACES):
            kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"p-{n}"}})
        live = [kube.put(_running(_pod(n))) for n in range(pods)]
        conn.send(kube.url)
        stop = threading.Event()
        churned = [0]

        def churn(rate: int) -> None:
            n = pods
            while not stop.wait(1.0):
                for _ in range(rate):
                    gone = live.pop(0)
                    kube.delete(
                        "v1", "Pod", gone["metadata"]["name"], namespace=gone["metadata"]["namespace"]
                    )
                    created = kube.put(_pod(n))
                    status = {k: created[k] for k in ("apiVersion", "kind", "metadata")}
                    live.append(
                        kube.patch_as(
                            "kubelet", {**status, "status": _running(created)["status"]}, subresource="status"
                        )
                    )
                    n += 1
                    churned[0] += 1

        thread: threading.Thread | None = None
        while True:
            command, argument = conn.recv()
            if command == "churn":
                thread = threading.Thread(target=churn, args=(argument,), daemon=True)
                thread.start()
                conn.send(None)
            elif command == "halt":
                stop.set()
                if thread is not None:
                    thread.join()
                conn.send({"churned": churned[0], "running": sorted(p["metadata"]["uid"] for p in live)})
            elif command == "stop":
                return


@contextmanager
def kube_child(pods: int) -> Iterator[tuple[multiprocessing.connection.Connection, str]]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(child, pods), daemon=True)
    process.start()
    try:
        yield parent, parent.recv()
    finally:
        parent.send(("stop", None))
        process.join(timeout=60)
        if process.is_alive():
            process.kill()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _wait(predicate: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"FAILED: timed out waiting for {what}")
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--churn", type=int, default=5, help="pods replaced per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the churn runs")
    args = parser.parse_args()
    with kube_child(args.pods) as (conn, url), tempfile.TemporaryDirectory() as state:
        tracemalloc.start()
        before_memory = tracemalloc.get_traced_memory()[0]
        metrics = ShuttleMetrics()
        cluster = KubernetesCluster(Configuration(host=url))
        db = StateDB(Path(state))
        outbox = Outbox(db)
        reporter = UsageReporter(
            cluster_id=CLUSTER_ID, pods=cluster, outbox=outbox, db=db, metrics=metrics.usage, interval=60
        )
        started, cpu = time.perf_counter(), _cpu()
        assert cluster.start(sync_timeout=120), "the watches never synced"
        reporter.begin()
        sync_wall, sync_cpu = time.perf_counter() - started, _cpu() - cpu
        tracked = lambda: metrics.usage.pods_tracked._value.get()  # noqa: E731
        _wait(lambda: tracked() == args.pods, "the ledger to track every pod")
        held = tracemalloc.get_traced_memory()[0] - before_memory
        ledger = sum(
            stat.size
            for stat in tracemalloc.take_snapshot()
            .filter_traces([tracemalloc.Filter(True, "*starform_core/usage/*")])
            .statistics("filename")
        )
        conn.send(("churn", args.churn))
        conn.recv()
        wall, cpu = time.perf_counter(), _cpu()
        time.sleep(args.seconds)
        conn.send(("halt", None))
        truth = conn.recv()
        churn_wall, churn_cpu = time.perf_counter() - wall, _cpu() - cpu
        _wait(lambda: tracked() == len(truth["running"]), "the ledger to catch up with the churn")
        tracemalloc.stop()
        # one snapshot of every pod: the window end is the next grid point, reached by a clock
        reporter._now = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)  # type: ignore[method-assign]
        tick, tick_cpu = time.perf_counter(), time.process_time()
        queued = reporter.tick()
        tick_wall, tick_cpu = time.perf_counter() - tick, time.process_time() - tick_cpu
        snapshots = outbox.pending(ReportKind.USAGE)
        last = snapshots[-1]
        billed = sorted(p["uid"] for p in last["pods"] if "running_until" not in p)  # running at its end
        cluster.stop()
        db.close()
    if billed != truth["running"] or queued < 1:
        print("FAILED: the last snapshot does not bill exactly the pods the server runs", file=sys.stderr)
        return 1
    size = len(json.dumps(last).encode())
    print(
        f"pods: {args.pods}; churn: {args.churn} replaced/s for {churn_wall:.0f} s "
        f"({truth['churned']} replaced)"
    )
    print(f"list and sync: {sync_wall * 1000:.0f} ms wall, {sync_cpu * 1000:.0f} ms CPU")
    print(
        f"watch under churn: {churn_cpu / churn_wall * 100:.1f} % of one core "
        f"({churn_cpu / max(truth['churned'], 1) * 1000:.2f} ms CPU per pod replaced: 3 events)"
    )
    print(
        f"memory held by the pod watch cache and the ledger (tracemalloc): {held / 2**20:.1f} MiB "
        f"({held / args.pods / 1024:.1f} KiB per pod), of which the ledger {ledger / 2**20:.2f} MiB"
    )
    print(
        f"one snapshot of {len(last['pods'])} pods: built and queued in {tick_wall * 1000:.0f} ms "
        f"({tick_cpu * 1000:.0f} ms CPU), {size / 1024:.0f} KiB; {queued} snapshot(s) queued"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
