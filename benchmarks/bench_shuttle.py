"""Shuttle benchmark: (a) Kubernetes API calls per no-op tick, (b) latency from a Starbase write
to a converged cluster, (c) first full apply and no-op reconcile of 2,000 services (~12,000
objects): wall time, tracemalloc peak and RSS.

Run: ``.venv/bin/python benchmarks/bench_shuttle.py [--services 2000] [--interval 1] [--trials 5]``

The Kubernetes test server runs in a child process (so time, tracemalloc and RSS figures are
Shuttle's own; its request log is read over a pipe). (a) and (c) use the in-memory source with a
synthetic payload built from deterministic rows by ``build_payload``; (b) uses a real Starbase
(``running_starbase()``: PostgreSQL, HTTP) and a real ``StarbaseClient``. Shuttle runs in
this process with the same wiring as ``shuttle run`` (``build_shuttle``).

(d) write -> converged at 2,000 services with the default 30 s interval, long-poll against
polling: by default against a real Starbase in a child process (``running_starbase()``:
embedded PostgreSQL, 2,000 services stored by bulk SQL, its change listener and held long-poll),
each write a deploy through Starbase's HTTP API, each trial checked to reach the test server and
its generation to be reported applied; ``--against double`` runs it against the long-poll
protocol double (``tests/shuttle/protocol_double.py``) instead.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import resource
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import attrs
import httpx
from kubernetes.client import Configuration

from starform_adapters.starbase import InMemorySource, StarbaseClient
from starform_apps.shuttle import Shuttle, ShuttleConfig, build_shuttle
from starform_core.model.enums import ServiceType
from starform_core.model.workload import Autoscaling
from starform_core.payload import DesiredState, etag_of, to_json
from starform_core.payload.build import build_payload
from starform_core.payload.rows import (
    ClusterRow,
    ClusterRows,
    DeploymentRow,
    EnvironmentRow,
    HostnameRow,
    ProjectRow,
    ServiceRow,
    ServiceVarGroupRow,
    VarGroupEntryRow,
    VarGroupRow,
)
from starform_core.render import render
from starform_core.secrets_values import SecretValue

LB_NAMESPACE = "envoy-gateway-system"
LB_NAME = "envoy-lb"
CLUSTER_ID = "9b2e7c1d-4a5f-4e8b-b0c9-000000000001"


# --- the Kubernetes test server in a child process ---------------------------------------------
def _serve_kube(conn: multiprocessing.connection.Connection, controllers: bool) -> None:
    from starform_testkit.kube_testserver import KubeTestServer

    with KubeTestServer(controllers=controllers) as kube:
        kube.install_gateway_api_crd()
        kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LB_NAMESPACE}})
        kube.apply_as(
            "envoy-gateway",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": LB_NAME, "namespace": LB_NAMESPACE},
                "spec": {"type": "LoadBalancer", "ports": [{"name": "https", "port": 443}]},
            },
        )
        conn.send(kube.url)
        while True:
            command, argument = conn.recv()
            if command == "stop":
                return
            if command == "clear":
                kube.clear_request_log()
                conn.send(None)
            elif command == "counts":
                records = kube.requests.records()
                verbs: dict[str, int] = {}
                for record in records:
                    verbs[record.verb] = verbs.get(record.verb, 0) + 1
                conn.send(verbs)
            elif command == "image":
                namespace, name = argument
                deployment = kube.get("apps/v1", "Deployment", name, namespace=namespace)
                containers = (deployment or {}).get("spec", {}).get("template", {}).get("spec", {})
                conn.send([c["image"] for c in containers.get("containers", [])])


class KubeChild:
    """A handle on the child process's test server."""

    def __init__(self, conn: multiprocessing.connection.Connection, url: str) -> None:
        self._conn = conn
        self.url = url
        self._lock = threading.Lock()

    def ask(self, command: str, argument: Any = None) -> Any:
        with self._lock:
            self._conn.send((command, argument))
            return self._conn.recv()

    def configuration(self) -> Configuration:
        return Configuration(host=self.url)


@contextmanager
def kube_child(*, controllers: bool) -> Iterator[KubeChild]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve_kube, args=(child, controllers), daemon=True)
    process.start()
    try:
        yield KubeChild(parent, parent.recv())
    finally:
        parent.send(("stop", None))
        process.join(timeout=60)
        if process.is_alive():
            process.kill()


# --- the synthetic payload ----------------------------------------------------------------------
def _uuid(kind: int, n: int) -> str:
    return f"{kind:08x}-0000-4000-8000-{n:012x}"


def synthetic_rows(services: int, *, per_project: int = 20, generation: int = 1) -> ClusterRows:
    """``services`` services, ``per_project`` to a project (one namespace each). Nine in ten are
    public web services with an autoscaler (ServiceAccount, NetworkPolicy, Deployment, Service,
    HPA, HTTPRoute); one in ten is a worker (ServiceAccount, Deployment). Each project has one
    var group (a Secret) attached to all its services."""
    cluster = ClusterRow(
        cluster_id=CLUSTER_ID,
        name="bench-1",
        region="fra1",
        generation=generation,
        gateway_namespace=LB_NAMESPACE,
        gateway_name="starform-gateway",
        storage_class="do-block-storage",
        lb_target_api_version="v1",
        lb_target_kind="Service",
        lb_target_namespace=LB_NAMESPACE,
        lb_target_name=LB_NAME,
        lb_size_unit=2,
    )
    projects, environments, rows, deployments = [], [], [], []
    groups, entries, attachments, hostnames = [], [], [], []
    for p in range((services + per_project - 1) // per_project):
        project_id, environment_id, group_id = _uuid(1, p), _uuid(2, p), _uuid(3, p)
        projects.append(
            ProjectRow(
                project_id=project_id,
                workspace_id=_uuid(9, 0),
                cluster_id=CLUSTER_ID,
                name=f"p{p}",
                tier="pro",
            )
        )
        environments.append(
            EnvironmentRow(environment_id=environment_id, project_id=project_id, name="production")
        )
        groups.append(VarGroupRow(var_group_id=group_id, project_id=project_id, name="shared"))
        entries.append(VarGroupEntryRow(var_group_id=group_id, key="LOG_LEVEL", value=SecretValue("info")))
        for s in range(p * per_project, min(services, (p + 1) * per_project)):
            service_id = _uuid(4, s)
            web = s % 10 != 9
            rows.append(
                ServiceRow(
                    service_id=service_id,
                    project_id=project_id,
                    environment_id=environment_id,
                    name=f"svc-{s}",
                    type=ServiceType.WEB if web else ServiceType.WORKER,
                    state="active",
                    port=8080 if web else None,
                    replicas=None if web else 1,
                    autoscaling=Autoscaling(min_replicas=1, max_replicas=4, target_cpu_percent=70)
                    if web
                    else None,
                )
            )
            deployments.append(
                DeploymentRow(
                    deployment_id=_uuid(5, s),
                    service_id=service_id,
                    version=1,
                    image=f"registry.example.com/app-{s}@sha256:{'ab' * 32}",
                )
            )
            attachments.append(
                ServiceVarGroupRow(service_id=service_id, var_group_id=group_id, attach_order=0)
            )
            if web:
                hostnames.append(HostnameRow(service_id=service_id, hostname=f"svc-{s}.bench.example.com"))
    return ClusterRows(
        cluster=cluster,
        projects=tuple(projects),
        environments=tuple(environments),
        services=tuple(rows),
        deployments=tuple(deployments),
        var_groups=tuple(groups),
        var_group_entries=tuple(entries),
        service_var_groups=tuple(attachments),
        hostnames=tuple(hostnames),
    )


def synthetic_payload(services: int) -> DesiredState:
    return build_payload(synthetic_rows(services), checksum_key=b"bench-checksum-key-not-a-secret!")


# --- helpers -------------------------------------------------------------------------------------
def make_shuttle(
    kube: KubeChild,
    source: Any,
    state_dir: Path,
    *,
    interval: float = 30.0,
    qps: float = 50.0,
    burst: int = 100,
    long_poll_wait: int = 30,
) -> Shuttle:
    config = ShuttleConfig(
        long_poll_wait=long_poll_wait,
        starbase_url="http://unused.invalid",
        cluster_id=CLUSTER_ID,
        token="unused",
        state_dir=state_dir,
        interval=interval,
        qps=qps,
        burst=burst,
    )
    agent = build_shuttle(config, kube_configuration=kube.configuration(), source=source, serve_ops=False)
    agent.start(sync_timeout=120)
    return agent


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.005)


def converge(agent: Shuttle, desired: int) -> None:
    for _ in range(5):
        if agent.loop.run_once().converged:
            break
    else:
        raise RuntimeError("did not converge")
    wait_until(lambda: len(agent.cluster.live_objects()) >= desired, "the watch cache")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    print(f"\n{title}")
    print("-" * (width + 24))
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


# --- (a) API calls per no-op tick ----------------------------------------------------------------
def bench_noop_calls(services: int, ticks: int) -> list[tuple[str, str]]:
    document = synthetic_payload(services)
    desired = len(render(document).objects)
    with kube_child(controllers=True) as kube, tempfile.TemporaryDirectory() as state:
        agent = make_shuttle(kube, InMemorySource(document), Path(state), qps=1000, burst=1000)
        try:
            converge(agent, desired)
            agent.loop.run_once()
            kube.ask("clear")
            for _ in range(ticks):
                result = agent.loop.run_once()
                assert result.plan is not None
                assert not result.plan.executable
            counts: dict[str, int] = kube.ask("counts")
        finally:
            agent.stop()
    writes = sum(counts.get(v, 0) for v in ("create", "update", "patch", "delete", "deletecollection"))
    return [
        ("services / desired objects", f"{services} / {desired}"),
        ("no-op ticks measured", str(ticks)),
        ("writes per tick", f"{writes / ticks:g}"),
        ("LISTs per tick", f"{counts.get('list', 0) / ticks:g}"),
        ("GETs per tick", f"{counts.get('get', 0) / ticks:g}"),
        ("new WATCH requests per tick", f"{counts.get('watch', 0) / ticks:g}"),
    ]


# --- (b) Starbase write -> converged -------------------------------------------------------------
def _has_image(kube: KubeChild, namespace: str, name: str, image: str) -> Callable[[], bool]:
    return lambda: bool(kube.ask("image", (namespace, name)) == [image])


def bench_latency(interval: float, trials: int) -> list[tuple[str, str]]:
    from tests.shuttle.tenant import make_tenant

    from starform_testkit.starbase import running_starbase

    latencies: list[float] = []
    with running_starbase() as sb, httpx.Client(base_url=sb.base_url, timeout=30) as http:
        tenant = make_tenant(sb, http, services=5)
        with kube_child(controllers=True) as kube, tempfile.TemporaryDirectory() as state:
            client = StarbaseClient(sb.base_url, cluster_id=tenant.cluster_id, token=tenant.agent_token)
            agent = make_shuttle(kube, client, Path(state), interval=interval)
            namespace = "sf-" + tenant.project_id.replace("-", "")
            try:
                agent.loop.run_once()
                agent.run_in_thread()
                for trial in range(trials):
                    target = tenant.service_ids[trial % len(tenant.service_ids)]
                    name = f"svc-{tenant.service_ids.index(target):03d}-production"
                    image = f"registry.example.com/team/bench-{trial}@sha256:{trial:02x}{'ef' * 31}"
                    # start at a random phase of the poll cycle, as a user would
                    time.sleep((trial * 0.37) % interval)
                    started = time.perf_counter()
                    tenant.deploy(target, image)
                    wait_until(_has_image(kube, namespace, name, image), "the new image", 120)
                    latencies.append(time.perf_counter() - started)
            finally:
                agent.stop()
    return [
        ("poll interval", f"{interval:g} s"),
        ("trials", str(trials)),
        ("median write -> Deployment updated", f"{statistics.median(latencies) * 1000:.0f} ms"),
        ("min / max", f"{min(latencies) * 1000:.0f} / {max(latencies) * 1000:.0f} ms"),
        ("expected worst case", f"~ poll interval ({interval:g} s) + one reconcile"),
    ]


# --- (d) write -> converged at scale, long-poll against polling ------------------------------------
def _one_image_changed(document: DesiredState, trial: int) -> tuple[DesiredState, str, str, str]:
    """The document with one service's image changed (the next generation), and the namespace,
    name and new image of that service's Deployment."""
    services = [(p, s) for p, s in document.services() if s.release is not None]
    project, service = services[(trial * 7919) % len(services)]
    assert service.release is not None
    image = f"registry.example.com/team/trial-{trial}@sha256:{trial:02x}{'ab' * 31}"
    edited = attrs.evolve(service, release=attrs.evolve(service.release, image=image))
    projects = tuple(
        attrs.evolve(
            p, services=tuple(edited if s.service_id == service.service_id else s for s in p.services)
        )
        if p.project_id == project.project_id
        else p
        for p in document.projects
    )
    changed = attrs.evolve(document, projects=projects, generation=document.generation + 1)
    deployment = next(
        o
        for o in render(changed).objects
        if o["kind"] == "Deployment"
        and o["metadata"]["labels"].get("starform.io/service-id") == service.service_id
    )
    return changed, deployment["metadata"]["namespace"], deployment["metadata"]["name"], image


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _write_to_converged(
    kube: KubeChild, source: InMemorySource, document: DesiredState, trials: int, interval: float, start: int
) -> tuple[list[float], DesiredState]:
    """``trials`` writes, each at a random phase of the poll cycle; seconds until the cluster shows it."""
    import random

    phases = random.Random(start)  # a reproducible phase
    latencies: list[float] = []
    pause = threading.Event()
    for trial in range(start, start + trials):
        document, namespace, name, image = _one_image_changed(document, trial)
        pause.wait(phases.uniform(0, interval))
        started = time.perf_counter()
        source.publish(document)
        wait_until(_has_image(kube, namespace, name, image), "the new image", 4 * interval + 60)
        latencies.append(time.perf_counter() - started)
    return latencies, document


def bench_long_poll(services: int, trials: int, interval: float, polled_trials: int) -> list[tuple[str, str]]:
    """One agent over HTTP (``StarbaseClient``) against the long-poll protocol double, the
    default poll interval: ``trials`` writes while the server long-polls, then ``polled_trials``
    while it does not (Shuttle falls back to polling every ``interval``)."""
    from tests.shuttle.protocol_double import ProtocolDouble, serving

    document = synthetic_payload(services)
    desired = len(render(document).objects)
    source = InMemorySource(document)
    app = ProtocolDouble(source, cluster_id=CLUSTER_ID, token="bench-token")
    with kube_child(controllers=False) as kube, serving(app) as url, tempfile.TemporaryDirectory() as state:
        client = StarbaseClient(url, cluster_id=CLUSTER_ID, token="bench-token", timeout=30)
        agent = make_shuttle(kube, client, Path(state), interval=interval, qps=1000, burst=1000)
        try:
            converge(agent, desired)
            agent.run_in_thread()
            wait_until(lambda: source.holding == 1, "the long-poll to be held", 60)
            fetches = source.fetches
            held, document = _write_to_converged(kube, source, document, trials, interval, 0)
            pulls = [source.fetches - fetches]
            app.honour_wait = False
            source.release()
            wait_until(
                lambda: agent.metrics.registry.get_sample_value("shuttle_starbase_long_poll") == 0,
                "the fall back to polling",
                60,
            )
            fetches = source.fetches
            polled, document = _write_to_converged(kube, source, document, polled_trials, interval, trials)
            pulls.append(source.fetches - fetches)
        finally:
            source.release()
            agent.stop()
            client.close()
    if source.applied_generation != document.generation:
        raise RuntimeError("the last generation was not reported applied")
    rows = [
        ("services / desired objects", f"{services} / {desired}"),
        ("poll interval (periodic reconcile)", f"{interval:g} s"),
        ("trials (random phase): long-poll / polling", f"{trials} / {polled_trials}"),
    ]
    for (label, values), count in zip(
        (("long-poll", held), ("polling (no Preference-Applied)", polled)), pulls, strict=True
    ):
        rows.append(
            (
                f"{label}: write -> Deployment updated",
                f"median {statistics.median(values):.2f} s, p95 {_percentile(values, 0.95):.2f} s, "
                f"max {max(values):.2f} s ({count} pulls)",
            )
        )
    rows.append(("target (long-poll)", "median < 2 s, p95 < 4 s"))
    met = statistics.median(held) < 2.0 and _percentile(held, 0.95) < 4.0
    rows.append(("  met", "yes" if met else "NO"))
    return rows


# --- (d) against Starbase: PostgreSQL, HTTP, LISTEN/NOTIFY, a deploy through the API ------------
@attrs.frozen
class StarbaseCluster:
    """A 2,000-service cluster stored in a running Starbase, and who may write to it."""

    cluster_id: str
    agent_token: str
    owner: str
    operator: str
    targets: tuple[tuple[str, str, str], ...]  # (service id, namespace, Deployment name), by id


def starbase_cluster(sb: Any) -> StarbaseCluster:
    """2,000 services (20 projects x 2 environments x 50, var groups, hostnames) inserted by bulk
    SQL (``bench_starbase.generate``), a user owning their workspace, an operator."""
    import psycopg

    from benchmarks.bench_starbase import generate
    from starform_apps.starbase.tokens import new_token
    from starform_core.render.naming import namespace_name

    agent_token = new_token("sba_")
    url = sb.starbase.database_url
    cluster_id = generate(url, sb.starbase.cipher, agent_token)
    owner = sb.user_token("owner@bench.example.com")
    operator = sb.user_token("ops@bench.example.com", operator=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO workspace_members (workspace_id, user_id, role) SELECT DISTINCT"
            " p.workspace_id, u.id, 'owner' FROM projects p, users u"
            " WHERE p.cluster_id = %s AND u.email = 'owner@bench.example.com'",
            (cluster_id,),
        )
        records = conn.execute(
            "SELECT s.id::text, s.project_id::text, s.name, e.name FROM services s"
            " JOIN environments e ON e.id = s.environment_id JOIN projects p ON p.id = s.project_id"
            " WHERE p.cluster_id = %s ORDER BY s.id",
            (cluster_id,),
        ).fetchall()
    targets = tuple((sid, namespace_name(pid), f"{name}-{env}") for sid, pid, name, env in records)
    return StarbaseCluster(cluster_id, agent_token, owner, operator, targets)


def _serve_starbase(conn: multiprocessing.connection.Connection) -> None:
    """(Child process) a Starbase over embedded PostgreSQL with the 2,000-service cluster; sends
    its address and the cluster, then answers metric reads until told to stop."""
    from starform_testkit.starbase import running_starbase

    with running_starbase() as sb:
        conn.send((sb.base_url, starbase_cluster(sb)))
        sample = sb.starbase.metrics.registry.get_sample_value
        while True:
            command, argument = conn.recv()
            if command == "stop":
                return
            conn.send(sample(*argument) or 0.0)


@contextmanager
def starbase_child() -> Iterator[tuple[str, StarbaseCluster, Callable[..., float]]]:
    """A real Starbase in a child process (its CPU is not Shuttle's, as in production): its
    base URL, the cluster, and a reader of its metrics."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve_starbase, args=(child,), daemon=True)
    process.start()

    def sample(name: str, labels: dict[str, str] | None = None) -> float:
        parent.send(("sample", (name, labels or {})))
        return float(parent.recv())

    try:
        base_url, cluster = parent.recv()
        yield base_url, cluster, sample
    finally:
        parent.send(("stop", None))
        process.join(timeout=120)
        if process.is_alive():
            process.kill()


def _deploy_and_wait(
    kube: KubeChild, http: httpx.Client, cluster: StarbaseCluster, trial: int, timeout: float
) -> tuple[float, float]:
    """One deploy through Starbase's API; seconds until the Deployment shows the image, and
    until the generation it made is reported applied (checked, not part of the figure)."""
    service_id, namespace, name = cluster.targets[(trial * 7919) % len(cluster.targets)]
    image = f"registry.example.com/team/trial-{trial}@sha256:{trial % 256:02x}{'cd' * 31}"
    started = time.perf_counter()
    answer = http.post(
        f"/v1/services/{service_id}/deployments",
        headers={"Authorization": f"Bearer {cluster.owner}"},
        json={"image": image},
    )
    if answer.status_code != 201:
        raise RuntimeError(f"the deploy answered {answer.status_code}: {answer.text[:200]}")
    written = time.perf_counter() - started
    wait_until(_has_image(kube, namespace, name, image), "the new image", timeout)
    converged = time.perf_counter() - started
    operator = {"Authorization": f"Bearer {cluster.operator}"}
    generation = int(http.get(f"/v1/clusters/{cluster.cluster_id}", headers=operator).json()["generation"])

    def applied() -> bool:
        record = http.get(f"/v1/clusters/{cluster.cluster_id}", headers=operator).json()
        return (record["last_applied_generation"] or 0) >= generation

    wait_until(applied, f"generation {generation} reported applied", timeout)
    reported = time.perf_counter() - started
    print(
        f"  trial {trial}: deploy answered {written:.2f} s, Deployment updated {converged:.2f} s,"
        f" generation {generation} reported applied {reported:.2f} s",
        file=sys.stderr,
        flush=True,
    )
    return converged, reported


def _starbase_trials(
    kube: KubeChild, http: httpx.Client, cluster: StarbaseCluster, trials: range, interval: float
) -> tuple[list[float], list[float]]:
    import random

    phases = random.Random(trials.start)  # a reproducible phase of the poll cycle
    converged, applied = [], []
    pause = threading.Event()
    for trial in trials:
        pause.wait(phases.uniform(0, interval))
        seen, reported = _deploy_and_wait(kube, http, cluster, trial, 4 * interval + 60)
        converged.append(seen)
        applied.append(reported)
    return converged, applied


def _build_seconds(sample: Callable[..., float]) -> tuple[float, float]:
    return (
        sample("starbase_payload_build_duration_seconds_count"),
        sample("starbase_payload_build_duration_seconds_sum"),
    )


def bench_long_poll_starbase(trials: int, interval: float, polled_trials: int) -> list[tuple[str, str]]:
    """Shuttle over HTTP against a real Starbase (``running_starbase()`` in a child process:
    PostgreSQL, its change listener, the held long-poll) with 2,000 stored services: ``trials``
    deploys through the API while Shuttle long-polls, then ``polled_trials`` with a Shuttle that only polls
    (``long_poll_wait=0``), each at a random phase of the poll cycle."""
    from starform_core.payload import parse_payload

    with (
        starbase_child() as (base_url, cluster, sample),
        httpx.Client(base_url=base_url, timeout=120) as http,
    ):
        agent_auth = {"Authorization": f"Bearer {cluster.agent_token}"}
        body = http.get(f"/v1/clusters/{cluster.cluster_id}/desired-state", headers=agent_auth).content
        desired = len(render(parse_payload(body)).objects)
        figures: dict[str, tuple[list[float], list[float], float, float]] = {}
        with kube_child(controllers=False) as kube, tempfile.TemporaryDirectory() as state:
            for mode, wait, count, start in (
                ("long-poll", 30, trials, 0),
                ("polling", 0, polled_trials, trials),
            ):
                if not count:
                    continue
                client = StarbaseClient(
                    base_url, cluster_id=cluster.cluster_id, token=cluster.agent_token, timeout=60
                )
                agent = make_shuttle(
                    kube, client, Path(state), interval=interval, qps=1000, burst=1000, long_poll_wait=wait
                )
                try:
                    converge(agent, desired)
                    agent.run_in_thread()
                    if wait:
                        wait_until(
                            lambda: sample("starbase_desired_state_held_polls") >= 1,
                            "the long-poll to be held",
                            60,
                        )
                    builds = _build_seconds(sample)
                    seen, applied = _starbase_trials(
                        kube, http, cluster, range(start, start + count), interval
                    )
                    after = _build_seconds(sample)
                    figures[mode] = (seen, applied, after[0] - builds[0], after[1] - builds[1])
                finally:
                    agent.stop()
                    client.close()
    rows = [
        ("services / desired objects", f"{len(cluster.targets)} / {desired}"),
        ("poll interval (periodic reconcile)", f"{interval:g} s"),
        ("trials (random phase): long-poll / polling", f"{trials} / {polled_trials}"),
        ("write", "POST /v1/services/{id}/deployments (a new image), through Starbase's API"),
    ]
    for mode, (seen, applied, builds, build_sum) in figures.items():
        rows.append(
            (
                f"{mode}: write -> Deployment updated",
                f"median {statistics.median(seen):.2f} s, p95 {_percentile(seen, 0.95):.2f} s, "
                f"max {max(seen):.2f} s",
            )
        )
        rows.append(
            (
                f"  {mode}: write -> generation reported applied",
                f"median {statistics.median(applied):.2f} s, p95 {_percentile(applied, 0.95):.2f} s",
            )
        )
        rows.append(
            (
                f"  {mode}: Starbase payload builds",
                f"{builds:.0f}, mean {build_sum / max(builds, 1) * 1000:.0f} ms (incremental)",
            )
        )
    held = figures["long-poll"][0] if trials else [float("inf")]
    rows.append(("target (long-poll)", "median < 2 s, p95 < 4 s"))
    met = statistics.median(held) < 2.0 and _percentile(held, 0.95) < 4.0
    rows.append(("  met", "yes" if met else "NO"))
    return rows


# --- (c) 2,000 services --------------------------------------------------------------------------
@attrs.define
class ScalePass:
    """One first apply into an empty test server, then no-op reconciles."""

    first_seconds: float = 0.0
    applied: int = 0
    first_peak: int = 0
    noop_seconds: list[float] = attrs.field(factory=list)
    noop_peak: int = 0
    rss_before: float = 0.0
    rss_max_after_apply: float = 0.0
    rss_end: float = 0.0


def scale_pass(document: DesiredState, qps: float, *, trace: bool) -> ScalePass:
    """With ``trace``, tracemalloc runs during the first apply and one no-op reconcile (it slows
    them, so their times come from the untraced pass)."""
    desired = len(render(document).objects)
    figures = ScalePass()
    with kube_child(controllers=False) as kube, tempfile.TemporaryDirectory() as state:
        figures.rss_before = current_rss_mib()
        agent = make_shuttle(kube, InMemorySource(document), Path(state), qps=qps, burst=int(qps))
        try:
            if trace:
                tracemalloc.start()
            t0 = time.perf_counter()
            first = agent.loop.run_once()
            figures.first_seconds = time.perf_counter() - t0
            _, figures.first_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            if not first.converged:
                raise RuntimeError(
                    f"the first apply failed: {first.execution and first.execution.failed[:3]}"
                )
            figures.applied = len(first.execution.outcomes) if first.execution else 0
            figures.rss_max_after_apply = rss_mib()
            wait_until(lambda: len(agent.cluster.live_objects()) >= desired, "the watch cache")
            agent.loop.run_once()  # the status report after the cache caught up
            for _ in range(3):
                t0 = time.perf_counter()
                quiet = agent.loop.run_once()
                figures.noop_seconds.append(time.perf_counter() - t0)
                if quiet.plan is None or quiet.plan.executable:
                    raise RuntimeError("the no-op reconcile planned actions")
            if trace:
                tracemalloc.start()
                agent.loop.run_once()
                _, figures.noop_peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            figures.rss_end = current_rss_mib()
        finally:
            agent.stop()
    return figures


def bench_scale(services: int, qps: float) -> list[tuple[str, str]]:
    started = time.perf_counter()
    document = synthetic_payload(services)
    desired = len(render(document).objects)
    build_seconds = time.perf_counter() - started
    body = to_json(document)
    timed = scale_pass(document, qps, trace=False)
    traced = scale_pass(document, qps, trace=True)
    mib = 2**20
    return [
        ("services / desired objects", f"{services} / {desired}"),
        ("payload size", f"{len(body) / mib:.1f} MiB (etag {etag_of(body)[:12]}...)"),
        ("build_payload + render (rows -> objects)", f"{build_seconds:.2f} s"),
        ("client rate limit", f"qps={qps:g} burst={int(qps)}"),
        ("first full apply, wall (untraced)", f"{timed.first_seconds:.1f} s for {timed.applied} actions"),
        ("  apply rate", f"{timed.applied / timed.first_seconds:.0f} objects/s"),
        ("  same, under tracemalloc", f"{traced.first_seconds:.1f} s"),
        ("  tracemalloc peak", f"{traced.first_peak / mib:.1f} MiB"),
        (
            "  peak RSS (ru_maxrss) after it",
            f"{timed.rss_max_after_apply:.0f} MiB (before start: {timed.rss_before:.0f})",
        ),
        (
            "no-op reconcile (304, plan vs cache)",
            f"median {statistics.median(timed.noop_seconds) * 1000:.0f} ms "
            f"(min {min(timed.noop_seconds) * 1000:.0f}, max {max(timed.noop_seconds) * 1000:.0f})",
        ),
        ("  tracemalloc peak", f"{traced.noop_peak / mib:.1f} MiB"),
        ("  RSS at the end (watch cache full)", f"{timed.rss_end:.0f} MiB"),
        ("first apply floor at the default qps=50", f"{timed.applied / 50:.0f} s (rate limiter alone)"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--noop-services", type=int, default=200)
    parser.add_argument("--ticks", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--qps", type=float, default=1000.0)
    parser.add_argument("--poll-interval", type=float, default=30.0, help="(d): Shuttle's interval")
    parser.add_argument("--polling-trials", type=int, default=5, help="(d): writes while polling")
    parser.add_argument(
        "--against",
        choices=["starbase", "double"],
        default="starbase",
        help="(d): a real Starbase (default) or the long-poll protocol double",
    )
    parser.add_argument("--only", choices=["a", "b", "c", "d"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["a", "b", "c", "d"])
    print(f"Python {sys.version.split()[0]}")
    if "a" in only:
        table("(a) Kubernetes API calls per no-op tick", bench_noop_calls(args.noop_services, args.ticks))
    if "b" in only:
        table("(b) Starbase write -> cluster converged", bench_latency(args.interval, args.trials))
    if "d" in only and args.against == "starbase":
        table(
            "(d) 2000 services stored in Starbase: write -> converged, long-poll vs polling (HTTP)",
            bench_long_poll_starbase(args.trials, args.poll_interval, args.polling_trials),
        )
    elif "d" in only:
        table(
            f"(d) {args.services} services: write -> converged, long-poll vs polling (protocol double, HTTP)",
            bench_long_poll(args.services, args.trials, args.poll_interval, args.polling_trials),
        )
    if "c" in only:
        table(
            f"(c) {args.services} services: first apply and no-op reconcile",
            bench_scale(args.services, args.qps),
        )


if __name__ == "__main__":
    main()
