"""A small, deterministic simulation of kube-controller-manager and the kubelet.

* Deployments get a ReplicaSet per pod template (``<name>-<pod-template-hash>``); older
  ReplicaSets are scaled to zero at once and trimmed to ``revisionHistoryLimit``.
* ReplicaSets get pods (labels from the template plus ``pod-template-hash``, an
  ``ownerReference``); the "kubelet" marks them Running and Ready, or, when an image matches
  the failing-image pattern, Pending with the container waiting in ``ImagePullBackOff``.
* Deployment status: observedGeneration, replicas, updated/ready/available/unavailable
  counts and the Available and Progressing conditions (``NewReplicaSetAvailable``,
  ``ReplicaSetUpdated``, or ``ProgressDeadlineExceeded`` once deadlines are expired).
* CronJobs record ``status.lastScheduleTime`` (and create a completed Job) when the settable
  clock passes a scheduled minute.
* A gateway controller (manager ``gateway-controller``) accepts every HTTPRoute: one
  ``status.parents`` entry per parentRef with ``Accepted`` and ``ResolvedRefs`` true.
* The PV binder (manager ``kube-controller-manager``, like the real one) binds every
  PersistentVolumeClaim: an Update setting ``spec.volumeName`` and the ``pv.kubernetes.io/*`` and
  storage-provisioner annotations, then ``status.phase: Bound`` with the requested capacity.
* The HPA controller (``kube-controller-manager``, ``/status``) reports every autoscaler able
  to scale: ``AbleToScale``, ``ScalingActive`` true, ``ScalingLimited`` false, current and
  desired replicas of its target.
* The deployment controller also records the current revision on the Deployment itself
  (``deployment.kubernetes.io/revision``, an Update of its status subresource), as a real one does.

It runs synchronously inside the write that triggered it, so tests never wait on timing.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import re
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ._json import Obj, canonical, clone, format_time
from .resources import ResourceKind

if TYPE_CHECKING:
    from .engine import Engine

__all__ = [
    "CONTROLLER_MANAGER",
    "GATEWAY_CONTROLLER",
    "GATEWAY_CONTROLLER_NAME",
    "KUBELET",
    "VOLUME_BINDER",
    "Controllers",
    "cron_matches",
]

CONTROLLER_MANAGER = "kube-controller-manager"
"""Field manager of the simulated controllers."""

KUBELET = "kubelet"
"""Field manager of the simulated kubelet (pod status)."""

GATEWAY_CONTROLLER = "gateway-controller"
"""Field manager of the simulated Gateway API controller (HTTPRoute status)."""

GATEWAY_CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
"""The ``controllerName`` the simulated gateway reports in route status."""

VOLUME_BINDER = CONTROLLER_MANAGER
"""Field manager of the simulated PV binder (it runs in kube-controller-manager)."""

PROVISIONER = "rancher.io/local-path"
"""The storage provisioner the PV binder names on the claims it binds."""

_REVISION = "deployment.kubernetes.io/revision"

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_STEPS = 100_000
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def _field_matches(expr: str, value: int, low: int, high: int) -> bool:
    for part in expr.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = int(first), int(last)
        else:
            start = int(part)
            end = high if step != 1 else start
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


def cron_matches(schedule: str, when: _dt.datetime) -> bool:
    """Whether a standard five-field cron ``schedule`` fires at minute ``when``."""
    text = _MACROS.get(schedule.strip(), schedule)
    fields = text.split()
    if len(fields) != 5:
        return False
    minute, hour, dom, month, dow = fields
    weekday = (when.weekday() + 1) % 7
    if not (
        _field_matches(minute, when.minute, 0, 59)
        and _field_matches(hour, when.hour, 0, 23)
        and _field_matches(month, when.month, 1, 12)
    ):
        return False
    dom_ok = _field_matches(dom, when.day, 1, 31)
    dow_ok = _field_matches(dow, weekday, 0, 6) or (weekday == 0 and _field_matches(dow, 7, 0, 7))
    if dom not in ("*", "?") and dow not in ("*", "?"):
        return dom_ok or dow_ok
    return dom_ok and dow_ok


def template_hash(template: Any) -> str:
    """A stable 10-character ``pod-template-hash`` for a pod template."""
    digest = hashlib.sha256(canonical(template).encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:10])


def _owner_ref(owner: Obj, kind: ResourceKind) -> Obj:
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _controlled_by(obj: Obj, uid: str) -> bool:
    refs = obj["metadata"].get("ownerReferences") or ()
    return any(ref.get("uid") == uid and ref.get("controller") for ref in refs)


def _controller_of(obj: Obj) -> Obj | None:
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def _scaled(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%"):
        share = total * int(value[:-1])
        return -(-share // 100) if round_up else share // 100
    return 0


class Controllers:
    """The controller simulation, driven by the engine after each write."""

    def __init__(self, engine: Engine, *, enabled: bool = True, failing_images: str | None = None) -> None:
        self.engine = engine
        self.enabled = enabled
        self.failing_images = re.compile(failing_images) if failing_images else None
        self._queue: deque[tuple[str, str, str]] = deque()
        self._queued: set[tuple[str, str, str]] = set()
        self._running = False
        self._expired: set[tuple[str, int]] = set()
        reg = engine.registry
        found = {k.kind: k for k in reg if not k.is_crd}
        self.deployments = found["Deployment"]
        self.replicasets = found["ReplicaSet"]
        self.pods = found["Pod"]
        self.cronjobs = found["CronJob"]
        self.jobs = found["Job"]
        self.autoscalers = found["HorizontalPodAutoscaler"]

    def set_failing_images(self, pattern: str | None) -> None:
        """Images matching this regular expression fail to pull (``None``: none fail)."""
        self.failing_images = re.compile(pattern) if pattern else None

    # -- triggers ----------------------------------------------------------------------

    def _enqueue(self, kind: str, namespace: str, name: str) -> None:
        key = (kind, namespace, name)
        if key not in self._queued:
            self._queued.add(key)
            self._queue.append(key)

    def _enqueue_owner(self, obj: Obj) -> None:
        ref = _controller_of(obj)
        if ref and ref.get("kind") in ("Deployment", "ReplicaSet", "CronJob"):
            self._enqueue(ref["kind"], obj["metadata"].get("namespace", ""), ref["name"])

    def after_write(self, kind: ResourceKind, obj: Obj) -> None:
        """React to a stored object (queues the affected controllers and drains the queue)."""
        if not (self.enabled or self._running):
            return
        if kind.kind in ("Deployment", "ReplicaSet"):
            self._enqueue(kind.kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
        if kind.kind in ("ReplicaSet", "Pod", "Job"):
            self._enqueue_owner(obj)
        if kind.kind == "HTTPRoute":
            self._accept_route(kind, obj)
        elif kind.kind == "PersistentVolumeClaim":
            self._bind_claim(kind, obj)
        elif kind.kind == "HorizontalPodAutoscaler":
            self._hpa_status(kind, obj)
        elif kind.kind == "Deployment":
            self._enqueue_autoscalers(obj)
        self._drain()

    def _accept_route(self, kind: ResourceKind, obj: Obj) -> None:
        generation = int(obj["metadata"].get("generation", 1))
        parents = []
        for ref in (obj.get("spec") or {}).get("parentRefs") or ():
            conditions = [
                {
                    "type": kind_,
                    "status": "True",
                    "reason": reason,
                    "message": "simulated gateway controller",
                    "observedGeneration": generation,
                    "lastTransitionTime": format_time(self.engine.clock.now()),
                }
                for kind_, reason in (("Accepted", "Accepted"), ("ResolvedRefs", "ResolvedRefs"))
            ]
            parents.append(
                {"parentRef": dict(ref), "controllerName": GATEWAY_CONTROLLER_NAME, "conditions": conditions}
            )
        current = (obj.get("status") or {}).get("parents") or []
        if [
            (p["parentRef"], p["conditions"][0]["observedGeneration"]) for p in current if p.get("conditions")
        ] == [(p["parentRef"], generation) for p in parents]:
            return
        self._set_status(kind, obj, {"parents": parents}, manager=GATEWAY_CONTROLLER)

    def _bind_claim(self, kind: ResourceKind, obj: Obj) -> None:
        spec = obj.get("spec") or {}
        if not spec.get("volumeName"):
            bound = clone(obj)
            bound.setdefault("spec", {})["volumeName"] = f"pvc-{obj['metadata']['uid']}"
            bound["metadata"].setdefault("annotations", {}).update(
                {
                    "pv.kubernetes.io/bind-completed": "yes",
                    "pv.kubernetes.io/bound-by-controller": "yes",
                    "volume.beta.kubernetes.io/storage-provisioner": PROVISIONER,
                    "volume.kubernetes.io/storage-provisioner": PROVISIONER,
                }
            )
            self._write(kind, obj, bound, manager=VOLUME_BINDER)
            stored = self.engine.stored(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if stored is None:
                return
            obj, spec = stored, stored.get("spec") or {}
        status = {
            "phase": "Bound",
            "accessModes": list(spec.get("accessModes") or ()),
            "capacity": dict(((spec.get("resources") or {}).get("requests")) or {}),
        }
        self._set_status(kind, obj, status, manager=VOLUME_BINDER)

    def _enqueue_autoscalers(self, deploy: Obj) -> None:
        namespace = deploy["metadata"].get("namespace", "")
        for hpa in list(self.engine.store.iter(self.autoscalers.key, namespace=namespace)):
            target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            if target.get("kind") == "Deployment" and target.get("name") == deploy["metadata"]["name"]:
                self._hpa_status(self.autoscalers, hpa)

    def _hpa_status(self, kind: ResourceKind, hpa: Obj) -> None:
        """The autoscaler's status: able to scale, metrics valid, within range (kube-controller-manager)."""
        spec = hpa.get("spec") or {}
        target = spec.get("scaleTargetRef") or {}
        deploy = self.engine.stored(
            self.deployments, hpa["metadata"].get("namespace"), str(target.get("name", ""))
        )
        if deploy is None:
            able = (
                "False",
                "FailedGetScale",
                "the HPA controller was unable to get the target's current scale",
            )
            current = 0
        else:
            able = ("True", "ReadyForNewScale", "recommended size matches current size")
            current = int((deploy.get("spec") or {}).get("replicas", 1))
        old = {c.get("type"): c for c in (hpa.get("status") or {}).get("conditions") or ()}
        now = format_time(self.engine.now())
        conditions = [
            _condition("AbleToScale", able, old.get("AbleToScale"), now),
            _condition(
                "ScalingActive",
                ("True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count"),
                old.get("ScalingActive"),
                now,
            ),
            _condition(
                "ScalingLimited",
                ("False", "DesiredWithinRange", "the desired count is within the acceptable range"),
                old.get("ScalingLimited"),
                now,
            ),
        ]
        for entry in conditions:
            entry.pop("lastUpdateTime", None)
        status = dict(hpa.get("status") or {})
        status.update({"currentReplicas": current, "desiredReplicas": current, "conditions": conditions})
        self._set_status(kind, hpa, status, manager=CONTROLLER_MANAGER)

    def after_delete(self, kind: ResourceKind, obj: Obj) -> None:
        """React to a deletion (a deleted pod is replaced, a deleted ReplicaSet recreated)."""
        if not (self.enabled or self._running):
            return
        if kind.kind in ("ReplicaSet", "Pod"):
            self._enqueue_owner(obj)
        self._drain()

    def run_all(self) -> None:
        """Reconcile every Deployment, ReplicaSet and CronJob now."""
        store = self.engine.store
        with store.lock:
            for kind in (self.deployments, self.replicasets, self.cronjobs):
                for obj in list(store.iter(kind.key)):
                    self._enqueue(kind.kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
            self._drain(force=True)

    def expire_progress_deadlines(self) -> None:
        """Mark every Deployment that has not finished rolling out as past its deadline."""
        store = self.engine.store
        with store.lock:
            for obj in list(store.iter(self.deployments.key)):
                self._expired.add((obj["metadata"]["uid"], int(obj["metadata"]["generation"])))
                self._enqueue("Deployment", obj["metadata"]["namespace"], obj["metadata"]["name"])
            self._drain(force=True)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Queue reactions instead of running them until the block ends (used by cascades)."""
        if self._running:
            yield
            return
        self._running = True
        try:
            yield
        finally:
            self._running = False
        self._drain()

    def _drain(self, *, force: bool = False) -> None:
        if self._running or not (self.enabled or force):
            return
        self._running = True
        steps = 0
        try:
            while self._queue and steps < _MAX_STEPS:
                steps += 1
                key = self._queue.popleft()
                self._queued.discard(key)
                kind, namespace, name = key
                if kind == "Deployment":
                    self._deployment(namespace, name)
                elif kind == "ReplicaSet":
                    self._replicaset(namespace, name)
                elif kind == "CronJob":
                    self._cronjob(namespace, name)
        finally:
            self._running = False

    # -- writes ------------------------------------------------------------------------

    def _write(self, kind: ResourceKind, old: Obj, new: Obj, *, manager: str, subresource: str = "") -> Obj:
        return self.engine.write_as(kind, old, new, manager=manager, subresource=subresource, trusted=True)

    def _set_status(self, kind: ResourceKind, old: Obj, status: Obj, *, manager: str) -> None:
        if old.get("status") == status:
            return
        new = clone(old)
        new["status"] = status
        self._write(kind, old, new, manager=manager, subresource="status")

    # -- deployments -------------------------------------------------------------------

    def _deployment(self, namespace: str, name: str) -> None:
        deploy = self.engine.stored(self.deployments, namespace, name)
        if deploy is None:
            return
        uid = deploy["metadata"]["uid"]
        spec = deploy.get("spec") or {}
        rs_name = f"{name}-{template_hash(spec.get('template') or {})}"
        owned = [
            rs for rs in self.engine.store.dependents(self.replicasets.key, uid) if _controlled_by(rs, uid)
        ]
        current = self._current_replicaset(deploy, rs_name, owned)
        old_sets = sorted((rs for rs in owned if rs["metadata"]["name"] != rs_name), key=_revision_of)
        self._retire(namespace, old_sets, keep=int(spec.get("revisionHistoryLimit", 10)))
        self._record_revision(deploy, current)
        self._deployment_status(namespace, name)

    def _current_replicaset(self, deploy: Obj, rs_name: str, owned: list[Obj]) -> Obj:
        """The ReplicaSet of the Deployment's pod template, created or scaled to its replicas."""
        spec = deploy.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        namespace = deploy["metadata"]["namespace"]
        current = next((rs for rs in owned if rs["metadata"]["name"] == rs_name), None)
        if current is None:
            revision = max((_revision_of(rs) for rs in owned), default=0) + 1
            body = _replicaset_for(deploy, self.deployments, rs_name, revision=revision)
            return self.engine.create(
                self.replicasets, namespace, body, manager=CONTROLLER_MANAGER, trusted=True
            )
        if int(current["spec"].get("replicas", 1)) == replicas:
            return current
        updated = clone(current)
        updated["spec"]["replicas"] = replicas
        updated["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/desired-replicas"] = str(
            replicas
        )
        return self._write(self.replicasets, current, updated, manager=CONTROLLER_MANAGER)

    def _retire(self, namespace: str, old_sets: list[Obj], *, keep: int) -> None:
        """Old ReplicaSets (oldest first) scale to zero; all but the newest ``keep`` are deleted."""
        for index, rs in enumerate(old_sets):
            stored = self.engine.stored(self.replicasets, namespace, rs["metadata"]["name"])
            if stored is None:
                continue
            if index < len(old_sets) - keep:
                self.engine.remove_cascading(self.replicasets, stored, orphan=False)
            elif int(stored["spec"].get("replicas", 1)) != 0:
                scaled = clone(stored)
                scaled["spec"]["replicas"] = 0
                self._write(self.replicasets, stored, scaled, manager=CONTROLLER_MANAGER)

    def _record_revision(self, deploy: Obj, current: Obj) -> None:
        """The Deployment carries its newest ReplicaSet's revision, written as the real controller
        does (``UpdateStatus``: the status subresource, which may change annotations and never
        moves ``metadata.generation``)."""
        revision = (current["metadata"].get("annotations") or {}).get(_REVISION)
        stored = self.engine.stored(
            self.deployments, deploy["metadata"]["namespace"], deploy["metadata"]["name"]
        )
        if revision is None or stored is None:
            return
        if (stored["metadata"].get("annotations") or {}).get(_REVISION) == revision:
            return
        updated = clone(stored)
        updated["metadata"].setdefault("annotations", {})[_REVISION] = revision
        self._write(self.deployments, stored, updated, manager=CONTROLLER_MANAGER, subresource="status")

    def _deployment_status(self, namespace: str, name: str) -> None:
        engine = self.engine
        deploy = engine.stored(self.deployments, namespace, name)
        if deploy is None:
            return
        uid = deploy["metadata"]["uid"]
        spec = deploy.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        pod_hash = template_hash(spec.get("template") or {})
        owned = [rs for rs in engine.store.dependents(self.replicasets.key, uid) if _controlled_by(rs, uid)]
        total = ready = updated = 0
        for rs in owned:
            rs_status = rs.get("status") or {}
            total += int(rs_status.get("replicas", 0))
            ready += int(rs_status.get("readyReplicas", 0))
            if rs["metadata"]["name"] == f"{name}-{pod_hash}":
                updated = int(rs_status.get("replicas", 0))
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        max_unavailable = _scaled(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
        generation = int(deploy["metadata"]["generation"])
        rs_label = f'ReplicaSet "{name}-{pod_hash}"'
        complete = updated == desired and ready == desired and total == desired
        old_conditions = {c.get("type"): c for c in (deploy.get("status") or {}).get("conditions") or ()}
        now = format_time(engine.now())
        if ready >= desired - max_unavailable:
            available = ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            available = (
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        if complete:
            progressing = ("True", "NewReplicaSetAvailable", f"{rs_label} has successfully progressed.")
        elif (uid, generation) in self._expired:
            progressing = ("False", "ProgressDeadlineExceeded", f"{rs_label} has timed out progressing.")
        else:
            progressing = ("True", "ReplicaSetUpdated", f"{rs_label} is progressing.")
        conditions = [
            _condition("Available", available, old_conditions.get("Available"), now),
            _condition("Progressing", progressing, old_conditions.get("Progressing"), now),
        ]
        status: Obj = {"observedGeneration": generation}
        for key, value in (
            ("replicas", total),
            ("updatedReplicas", updated),
            ("readyReplicas", ready),
            ("availableReplicas", ready),
            ("unavailableReplicas", max(total, desired) - ready),
        ):
            if value:
                status[key] = value
        status["conditions"] = conditions
        self._set_status(self.deployments, deploy, status, manager=CONTROLLER_MANAGER)

    # -- replicasets and pods ----------------------------------------------------------

    def _replicaset(self, namespace: str, name: str) -> None:
        engine = self.engine
        rs = engine.stored(self.replicasets, namespace, name)
        if rs is None:
            return
        uid = rs["metadata"]["uid"]
        want = int((rs.get("spec") or {}).get("replicas", 1))
        pods = [p for p in engine.store.dependents(self.pods.key, uid) if _controlled_by(p, uid)]
        template = (rs.get("spec") or {}).get("template") or {}
        while len(pods) < want:
            pods.append(self._create_pod(rs, template))
        if len(pods) > want:
            for pod in sorted(pods, key=lambda p: p["metadata"]["name"], reverse=True)[: len(pods) - want]:
                stored = engine.stored(self.pods, namespace, pod["metadata"]["name"])
                if stored is not None:
                    engine.remove_cascading(self.pods, stored, orphan=False)
            pods = [p for p in engine.store.dependents(self.pods.key, uid) if _controlled_by(p, uid)]
        ready = sum(1 for p in pods if _pod_ready(p))
        status: Obj = {"replicas": len(pods)}
        if pods:
            status["fullyLabeledReplicas"] = len(pods)
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        status["observedGeneration"] = int(rs["metadata"]["generation"])
        current = engine.stored(self.replicasets, namespace, name)
        if current is not None:
            self._set_status(self.replicasets, current, status, manager=CONTROLLER_MANAGER)
        self._enqueue_owner(rs)

    def _create_pod(self, rs: Obj, template: Obj) -> Obj:
        engine = self.engine
        namespace = rs["metadata"]["namespace"]
        meta = clone(template.get("metadata") or {})
        meta.pop("creationTimestamp", None)
        meta["name"] = f"{rs['metadata']['name']}-{engine.random_suffix()}"
        meta["namespace"] = namespace
        meta["ownerReferences"] = [_owner_ref(rs, self.replicasets)]
        spec = clone(template.get("spec") or {})
        spec["nodeName"] = "kube-test-node"
        body: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
        pod = engine.create(self.pods, namespace, body, manager=CONTROLLER_MANAGER, trusted=True)
        status = self._pod_status(pod)
        stored = engine.stored(self.pods, namespace, pod["metadata"]["name"])
        if stored is not None:
            self._set_status(self.pods, stored, status, manager=KUBELET)
        return engine.stored(self.pods, namespace, pod["metadata"]["name"]) or pod

    def _pod_status(self, pod: Obj) -> Obj:
        now = format_time(self.engine.now())
        containers = (pod.get("spec") or {}).get("containers") or []
        statuses: list[Obj] = []
        all_ready = True
        for container in containers:
            image = str(container.get("image", ""))
            if self.failing_images is not None and self.failing_images.search(image):
                all_ready = False
                statuses.append(
                    {
                        "name": container.get("name", ""),
                        "image": image,
                        "imageID": "",
                        "ready": False,
                        "started": False,
                        "restartCount": 0,
                        "state": {
                            "waiting": {
                                "reason": "ImagePullBackOff",
                                "message": f'Back-off pulling image "{image}"',
                            }
                        },
                    }
                )
            else:
                statuses.append(
                    {
                        "name": container.get("name", ""),
                        "image": image,
                        "imageID": f"{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
                        "containerID": f"containerd://{hashlib.sha256(pod['metadata']['uid'].encode()).hexdigest()}",
                        "ready": True,
                        "started": True,
                        "restartCount": 0,
                        "state": {"running": {"startedAt": now}},
                    }
                )
        ready = "True" if all_ready else "False"
        conditions = [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": ready, "lastTransitionTime": now},
            {"type": "Ready", "status": ready, "lastTransitionTime": now},
        ]
        status: Obj = {
            "phase": "Running" if all_ready else "Pending",
            "conditions": conditions,
            "hostIP": "10.0.0.1",
            "startTime": now,
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
        }
        if all_ready:
            octets = hashlib.sha256(pod["metadata"]["uid"].encode()).digest()
            status["podIP"] = f"10.244.{octets[0]}.{octets[1] or 1}"
        return status

    # -- cronjobs ----------------------------------------------------------------------

    def _cronjob(self, namespace: str, name: str) -> None:
        engine = self.engine
        cron = engine.stored(self.cronjobs, namespace, name)
        if cron is None:
            return
        spec = cron.get("spec") or {}
        if spec.get("suspend"):
            return
        fired = _last_firing(cron, engine.now().replace(second=0))
        if fired is None:
            return
        stamp = format_time(fired)
        job_name = f"{name}-{int(fired.timestamp() // 60)}"
        if engine.stored(self.jobs, namespace, job_name) is None:
            self._run_job(cron, job_name, stamp)
        uid = cron["metadata"]["uid"]
        jobs = sorted(
            (j for j in engine.store.dependents(self.jobs.key, uid) if _controlled_by(j, uid)),
            key=lambda j: j["metadata"]["name"],
        )
        keep = int(spec.get("successfulJobsHistoryLimit", 3))
        for job in jobs[: max(0, len(jobs) - keep)]:
            engine.remove_cascading(self.jobs, job, orphan=False)
        current = engine.stored(self.cronjobs, namespace, name)
        if current is not None:
            new_status = dict(current.get("status") or {})
            new_status["lastScheduleTime"] = stamp
            new_status["lastSuccessfulTime"] = stamp
            self._set_status(self.cronjobs, current, new_status, manager=CONTROLLER_MANAGER)

    def _run_job(self, cron: Obj, job_name: str, stamp: str) -> None:
        """Create the Job of one firing from the template, and complete it at once."""
        engine = self.engine
        namespace = cron["metadata"]["namespace"]
        template = (cron.get("spec") or {}).get("jobTemplate") or {}
        job_meta = clone(template.get("metadata") or {})
        job_meta.update(
            {"name": job_name, "namespace": namespace, "ownerReferences": [_owner_ref(cron, self.cronjobs)]}
        )
        body: Obj = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": job_meta,
            "spec": clone(template.get("spec") or {}),
        }
        job = engine.create(self.jobs, namespace, body, manager=CONTROLLER_MANAGER, trusted=True)
        stored_job = engine.stored(self.jobs, namespace, job["metadata"]["name"])
        if stored_job is None:
            return
        complete = {"type": "Complete", "status": "True", "lastProbeTime": stamp, "lastTransitionTime": stamp}
        status = {"startTime": stamp, "completionTime": stamp, "succeeded": 1, "conditions": [complete]}
        self._set_status(self.jobs, stored_job, status, manager=CONTROLLER_MANAGER)


def _revision_of(replicaset: Obj) -> int:
    return int(replicaset["metadata"].get("annotations", {}).get(_REVISION, "0"))


def _replicaset_for(deploy: Obj, kind: ResourceKind, rs_name: str, *, revision: int) -> Obj:
    """A new ReplicaSet for the Deployment's pod template (labelled with its hash)."""
    spec = deploy.get("spec") or {}
    template = spec.get("template") or {}
    replicas = int(spec.get("replicas", 1))
    pod_hash = template_hash(template)
    labels = {**((template.get("metadata") or {}).get("labels") or {}), "pod-template-hash": pod_hash}
    rs_template = clone(template)
    rs_template.setdefault("metadata", {})["labels"] = dict(labels)
    selector = clone(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": rs_name,
            "namespace": deploy["metadata"]["namespace"],
            "labels": labels,
            "annotations": {
                _REVISION: str(revision),
                "deployment.kubernetes.io/desired-replicas": str(replicas),
            },
            "ownerReferences": [_owner_ref(deploy, kind)],
        },
        "spec": {"replicas": replicas, "selector": selector, "template": rs_template},
    }


def _last_firing(cron: Obj, now: _dt.datetime) -> _dt.datetime | None:
    """The latest minute after the last schedule (or creation) and up to ``now`` that the
    schedule matches, looking back at most a week; ``None`` when there is none."""
    status = cron.get("status") or {}
    since_text = status.get("lastScheduleTime") or cron["metadata"]["creationTimestamp"]
    since = _dt.datetime.strptime(since_text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.UTC)
    schedule = str((cron.get("spec") or {}).get("schedule", ""))
    probe = now
    limit = 7 * 24 * 60
    while probe > since and limit > 0:
        if cron_matches(schedule, probe):
            return probe
        probe -= _dt.timedelta(minutes=1)
        limit -= 1
    return None


def _condition(kind: str, value: tuple[str, str, str], old: Obj | None, now: str) -> Obj:
    status, reason, message = value
    same_status = old is not None and old.get("status") == status
    same_all = (
        same_status and old is not None and old.get("reason") == reason and old.get("message") == message
    )
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": old.get("lastUpdateTime", now) if same_all and old else now,
        "lastTransitionTime": old.get("lastTransitionTime", now) if same_status and old else now,
        "reason": reason,
        "message": message,
    }


def _pod_ready(pod: Obj) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False
