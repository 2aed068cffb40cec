"""The API semantics, independent of HTTP: create, get, list, update, patch, apply, delete.

Every method takes the store lock for its whole duration, so each request is atomic. Writes
go through one path (:meth:`Engine._finish`): identity, defaults, immutability, schema
validation, managedFields, generation, no-op detection, resourceVersion, watch event, and
finally the controller simulation.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import datetime as _dt
import ipaddress
import json
import random
import uuid
from typing import TYPE_CHECKING, Any

import yaml

from . import field_validation, ssa, structure
from ._json import Obj, clone, format_time
from .admission import admit_create
from .clock import SettableClock
from .defaults import Allocators, apply_defaults
from .errors import ApiError
from .patches import json_merge_patch, json_patch, strategic_merge_patch
from .resources import ResourceKind, ResourceRegistry
from .selectors import FieldSelector, LabelSelector
from .store import Store
from .typed_patch import check_apply_typed
from .validation import check_immutable, validate

if TYPE_CHECKING:
    from .controllers import Controllers

__all__ = ["APPLY_PATCH", "Engine"]

APPLY_PATCH = "application/apply-patch+yaml"
"""Content type of a server-side apply request."""

_JSON_PATCH = "application/json-patch+json"
_MERGE_PATCH = "application/merge-patch+json"
_STRATEGIC = "application/strategic-merge-patch+json"
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_NS_KEY = "/namespaces"
_DELETE_RETURNS_OBJECT = frozenset(
    {"Pod", "PersistentVolumeClaim", "ResourceQuota", "Service", "ServiceAccount"}
)


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


_GENERATION_KINDS = frozenset(
    {"Deployment", "ReplicaSet", "Job", "CronJob", "HorizontalPodAutoscaler", "NetworkPolicy", "Pod"}
)
"""Built-in kinds whose registry strategy sets ``metadata.generation`` (custom resources all do);
the others (ConfigMap, Secret, Service, Namespace, ...) have none."""


def _has_generation(kind: ResourceKind) -> bool:
    return kind.is_crd or kind.kind in _GENERATION_KINDS


def _generation_moves(kind: ResourceKind, old: Obj, new: Obj) -> bool:
    """Spec changes move the generation; a Deployment's annotations too (they are copied to its
    ReplicaSets, so the deployment controller must see them as a new generation)."""
    if _spec_part(old) != _spec_part(new):
        return True
    if kind.kind != "Deployment":
        return False
    return (old["metadata"].get("annotations") or {}) != (new["metadata"].get("annotations") or {})


def _without_times(obj: Obj) -> Obj:
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("resourceVersion", None)
    meta["managedFields"] = [
        {k: v for k, v in entry.items() if k != "time"} for entry in meta.get("managedFields") or ()
    ]
    out["metadata"] = meta
    return out


class Engine:
    """Applies API requests to a :class:`Store`; one instance per test server.

    Objects returned by the engine may share structure with the store: callers serialize
    them or copy them, never mutate them.
    """

    def __init__(
        self,
        store: Store,
        registry: ResourceRegistry,
        clock: SettableClock,
        *,
        seed: int = 0,
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.rng = random.Random(seed)  # noqa: S311 - reproducible names, not secrets
        self.controllers: Controllers | None = None
        self._next_ip = int(ipaddress.IPv4Address("10.96.0.10"))
        self._next_node_port = 30000
        self.allocators = Allocators(self._allocate_ip, self._allocate_node_port)

    # -- helpers -----------------------------------------------------------------------

    def _allocate_ip(self) -> str:
        self._next_ip += 1
        return str(ipaddress.IPv4Address(self._next_ip))

    def _allocate_node_port(self) -> int:
        self._next_node_port += 1
        return self._next_node_port

    def now(self) -> _dt.datetime:
        """The server's current time."""
        return self.clock.now()

    def new_uid(self) -> str:
        """A fresh object uid (deterministic for a given seed)."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def random_suffix(self, length: int = 5) -> str:
        """A random name suffix in the API server's alphabet."""
        return "".join(self.rng.choice(_NAME_CHARS) for _ in range(length))

    @staticmethod
    def space(kind: ResourceKind, namespace: str | None) -> str:
        """The storage namespace of an object of ``kind`` ("" for cluster-scoped kinds)."""
        return (namespace or "") if kind.namespaced else ""

    def kind_of(self, obj: Obj) -> ResourceKind:
        """The served kind of an object, from its apiVersion and kind (``400`` if unknown)."""
        found = self.registry.by_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if found is None:
            raise ApiError(400, f"no kind {obj.get('kind')!r} is registered for {obj.get('apiVersion')!r}")
        return found

    def stored(self, kind: ResourceKind, namespace: str | None, name: str) -> Obj | None:
        """The stored object (not a copy; do not mutate), or ``None``."""
        return self.store.get(kind.key, self.space(kind, namespace), name)

    def _require(self, kind: ResourceKind, namespace: str | None, name: str) -> Obj:
        obj = self.stored(kind, namespace, name)
        if obj is None:
            raise ApiError.not_found(kind.label, name, group=kind.group)
        return obj

    def _require_namespace(self, kind: ResourceKind, namespace: str | None) -> None:
        if not kind.namespaced:
            return
        if not namespace:
            raise ApiError(400, "the namespace of the object must be set")
        if self.store.get(_NS_KEY, "", namespace) is None:
            raise ApiError.not_found("namespaces", namespace)

    # -- reads -------------------------------------------------------------------------

    def get(self, kind: ResourceKind, namespace: str | None, name: str) -> Obj:
        """One stored object (``404`` when absent); shared with the store, do not mutate it."""
        with self.store.lock:
            return self._require(kind, namespace, name)

    def list(
        self,
        kind: ResourceKind,
        namespace: str | None,
        *,
        label_selector: LabelSelector | None = None,
        field_selector: FieldSelector | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> Obj:
        """A list response; ``namespace=None`` lists across namespaces."""
        labels = label_selector or LabelSelector()
        fields = field_selector or FieldSelector()
        with self.store.lock:
            rv = self.store.resource_version
            space = self.space(kind, namespace) if namespace or not kind.namespaced else None
            matched = [
                obj
                for obj in self.store.iter(kind.key, namespace=space)
                if labels.matches(obj) and fields.matches(obj)
            ]
            start = 0
            if continue_token:
                try:
                    start = int(json.loads(base64.urlsafe_b64decode(continue_token))["start"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise ApiError(400, "invalid continue token") from exc
            end = len(matched) if not limit else min(len(matched), start + limit)
            items = []
            for obj in matched[start:end]:
                items.append({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")})
        meta: Obj = {"resourceVersion": str(rv)}
        if end < len(matched):
            token = json.dumps({"start": end}).encode()
            meta["continue"] = base64.urlsafe_b64encode(token).decode()
            meta["remainingItemCount"] = len(matched) - end
        return {"kind": kind.list_kind, "apiVersion": kind.api_version, "metadata": meta, "items": items}

    # -- writes ------------------------------------------------------------------------

    def create(
        self,
        kind: ResourceKind,
        namespace: str | None,
        body: Any,
        *,
        manager: str,
        dry_run: bool = False,
        keep_status: bool = False,
        trusted: bool = False,
    ) -> Obj:
        """Create an object (``409 AlreadyExists`` when the name is taken).

        ``trusted`` skips schema validation; the controller simulation uses it for the
        objects it builds itself.
        """
        obj = self._check_body(kind, namespace, body)
        meta = _meta(obj)
        with self.store.lock:
            self._require_namespace(kind, namespace)
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = f"{meta['generateName']}{self.random_suffix()}"
            name = str(meta.get("name") or "")
            if name and self.stored(kind, namespace, name) is not None:
                raise ApiError.already_exists(kind.label, name, group=kind.group)
            if not keep_status and kind.has_status and kind.kind != "Namespace":
                obj.pop("status", None)
            return self._finish(kind, namespace, None, obj, manager=manager, dry_run=dry_run, trusted=trusted)

    def replace(
        self,
        kind: ResourceKind,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        manager: str,
        dry_run: bool = False,
        subresource: str = "",
    ) -> Obj:
        """PUT: replace an object; a stale ``metadata.resourceVersion`` is ``409 Conflict``."""
        obj = self._check_body(kind, namespace, body, name=name)
        with self.store.lock:
            old = self._require(kind, namespace, name)
            self._check_precondition(kind, old, obj)
            return self._finish(
                kind, namespace, old, obj, manager=manager, dry_run=dry_run, subresource=subresource
            )

    def patch(
        self,
        kind: ResourceKind,
        namespace: str | None,
        name: str,
        raw: bytes,
        content_type: str,
        *,
        manager: str | None,
        force: bool = False,
        dry_run: bool = False,
        subresource: str = "",
    ) -> tuple[Obj, bool]:
        """PATCH in any of the four flavours; returns the object and whether it was created."""
        ctype = content_type.split(";", 1)[0].strip().lower()
        if ctype == APPLY_PATCH:
            return self._apply(
                kind,
                namespace,
                name,
                raw,
                manager=manager,
                force=force,
                dry_run=dry_run,
                subresource=subresource,
            )
        if force:
            raise ApiError(400, "force is only allowed for apply patches")
        try:
            patch = json.loads(raw or b"null")
        except ValueError as exc:
            raise ApiError(400, f"the body of the request was in an unknown format: {exc}") from exc
        with self.store.lock:
            old = self._require(kind, namespace, name)
            new = _patched(kind, clone(old), patch, ctype, content_type)
            self._check_precondition(kind, old, new)
            result = self._finish(
                kind,
                namespace,
                old,
                new,
                manager=manager or "unknown",
                dry_run=dry_run,
                subresource=subresource,
            )
            return result, False

    @staticmethod
    def _load_apply(raw: bytes) -> Any:
        try:
            return json.loads(raw or b"null")
        except ValueError:
            pass
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(raw.decode("utf-8") or "null", Loader=loader)  # noqa: S506 - safe loader

    def _apply_config(self, kind: ResourceKind, namespace: str | None, name: str, raw: bytes) -> Obj:
        """The apply configuration in ``raw`` (JSON or YAML), checked against the URL."""
        try:
            config = self._load_apply(raw)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"error decoding YAML: {exc}") from exc
        if not isinstance(config, dict):
            raise ApiError(400, "an apply configuration must be an object")
        if config.get("apiVersion") != kind.api_version or config.get("kind") != kind.kind:
            raise ApiError(
                400,
                f"apiVersion and kind must be {kind.api_version!r} and {kind.kind!r} in an "
                "apply configuration",
            )
        meta = _meta(config)
        if meta.get("name") not in (None, name):
            raise ApiError(400, "the name of the object does not match the name on the URL")
        if kind.namespaced and meta.get("namespace") not in (None, namespace):
            raise ApiError(400, "the namespace of the object does not match the namespace on the request")
        return config

    def _apply(
        self,
        kind: ResourceKind,
        namespace: str | None,
        name: str,
        raw: bytes,
        *,
        manager: str | None,
        force: bool,
        dry_run: bool,
        subresource: str,
    ) -> tuple[Obj, bool]:
        if not manager:
            raise _field_manager_required()
        config = self._apply_config(kind, namespace, name, raw)
        check_apply_typed(kind, namespace, name, config)
        with self.store.lock:
            old = self.stored(kind, namespace, name)
            if old is None and subresource:
                raise ApiError.not_found(kind.label, name, group=kind.group)
            if old is not None:
                self._check_precondition(kind, old, config)
            merged, managed = ssa.apply_config(
                old,
                config,
                structure.root(kind),
                manager=manager,
                force=force,
                api_version=kind.api_version,
                now=self.now(),
                subresource=subresource,
                prepare=lambda obj: apply_defaults(kind, obj, self.allocators),
            )
            merged.setdefault("metadata", {})["name"] = name
            if old is None:
                self._require_namespace(kind, namespace)
            result = self._finish(
                kind,
                namespace,
                old,
                merged,
                manager=manager,
                dry_run=dry_run,
                subresource=subresource,
                managed_fields=managed,
            )
            return result, old is None

    def _check_body(
        self, kind: ResourceKind, namespace: str | None, body: Any, *, name: str | None = None
    ) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "the body of the request must be a JSON object")
        obj = clone(body)
        if obj.get("kind") not in (None, kind.kind) or obj.get("apiVersion") not in (None, kind.api_version):
            raise ApiError(
                400,
                f"the API version in the data ({obj.get('apiVersion')}) does not match the "
                f"expected API version ({kind.api_version})",
            )
        meta = _meta(obj)
        if kind.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") not in (None, name):
            raise ApiError(400, "the name of the object does not match the name on the URL")
        if name is not None:
            meta["name"] = name
        return obj

    @staticmethod
    def _check_precondition(kind: ResourceKind, old: Obj, new: Obj) -> None:
        wanted = (new.get("metadata") or {}).get("resourceVersion")
        if wanted and str(wanted) != old["metadata"]["resourceVersion"]:
            raise ApiError.conflict(kind.label, old["metadata"]["name"], group=kind.group)

    def _finish(
        self,
        kind: ResourceKind,
        namespace: str | None,
        old: Obj | None,
        candidate: Obj,
        *,
        manager: str,
        dry_run: bool,
        subresource: str = "",
        managed_fields: builtins.list[Obj] | None = None,
        trusted: bool = False,
    ) -> Obj:
        """Complete a write: server-owned metadata, defaults, validation, managed fields, a new
        resourceVersion and the stored event (none for a no-op or a dry run)."""
        space = self.space(kind, namespace)
        candidate["apiVersion"] = kind.api_version
        candidate["kind"] = kind.kind
        if old is not None:
            candidate = _carry_over(kind, old, candidate, subresource)
        else:
            self._stamp_identity(kind, _meta(candidate))
        _normalise_metadata(kind, _meta(candidate), space)
        apply_defaults(kind, candidate, self.allocators)
        if old is not None:
            check_immutable(kind, old, candidate)
        if not trusted:
            field_validation.enforce(kind, candidate)
            validate(kind, candidate)
        self._track_fields(
            kind, old, candidate, manager=manager, subresource=subresource, managed=managed_fields
        )
        if old is None:
            admit_create(kind.kind, candidate)
        else:
            meta = candidate["metadata"]
            if subresource != "status" and _has_generation(kind) and _generation_moves(kind, old, candidate):
                meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            if _without_times(old) == _without_times(candidate):
                return old
        if dry_run:
            return candidate
        return self._commit(kind, space, candidate, created=old is None)

    def _stamp_identity(self, kind: ResourceKind, meta: Obj) -> None:
        """A new object's uid, creation time and first generation (no managed fields yet)."""
        meta["uid"] = self.new_uid()
        meta["creationTimestamp"] = format_time(self.now())
        if _has_generation(kind):
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        meta.pop("managedFields", None)

    def _track_fields(
        self,
        kind: ResourceKind,
        old: Obj | None,
        candidate: Obj,
        *,
        manager: str,
        subresource: str,
        managed: builtins.list[Obj] | None,
    ) -> None:
        """Set ``managedFields``: the ones given (an apply computed them) or an update's."""
        if managed is None:
            managed = ssa.update_managed_fields(
                old,
                candidate,
                structure.root(kind),
                manager=manager,
                api_version=kind.api_version,
                now=self.now(),
                subresource=subresource,
            )
        meta = candidate["metadata"]
        if managed:
            meta["managedFields"] = managed
        else:
            meta.pop("managedFields", None)

    def _commit(self, kind: ResourceKind, space: str, candidate: Obj, *, created: bool) -> Obj:
        """Store the object under a new resourceVersion and let the controllers react."""
        candidate["metadata"]["resourceVersion"] = str(self.store.next_rv())
        self.store.put(kind.key, space, candidate, "ADDED" if created else "MODIFIED")
        if self.controllers is not None:
            self.controllers.after_write(kind, candidate)
        return candidate

    def write_as(
        self,
        kind: ResourceKind,
        old: Obj,
        new: Obj,
        *,
        manager: str,
        subresource: str = "",
        trusted: bool = False,
    ) -> Obj:
        """Store ``new`` over the stored ``old`` as an Update by ``manager`` (no HTTP, no log).

        ``trusted`` skips schema validation (for objects the simulation builds itself).
        """
        with self.store.lock:
            return self._finish(
                kind,
                old["metadata"].get("namespace"),
                old,
                clone(new),
                manager=manager,
                dry_run=False,
                subresource=subresource,
                trusted=trusted,
            )

    def delete(
        self,
        kind: ResourceKind,
        namespace: str | None,
        name: str,
        *,
        dry_run: bool = False,
        propagation: str | None = None,
        precondition_rv: str | None = None,
        precondition_uid: str | None = None,
    ) -> Obj:
        """Delete an object now; dependents go too unless ``propagation`` is ``Orphan``."""
        if propagation not in (None, "", "Foreground", "Background", "Orphan"):
            raise ApiError(400, f"unsupported propagationPolicy {propagation!r}")
        with self.store.lock:
            old = self._require(kind, namespace, name)
            meta = old["metadata"]
            for field, wanted, actual in (
                ("UID", precondition_uid, meta["uid"]),
                ("ResourceVersion", precondition_rv, meta["resourceVersion"]),
            ):
                if wanted and wanted != actual:
                    raise ApiError.precondition_failed(
                        kind.kind, name, group=kind.group, field=field, wanted=wanted, actual=actual
                    )
            if not dry_run:
                self.remove_cascading(kind, old, orphan=propagation == "Orphan")
            if kind.kind in _DELETE_RETURNS_OBJECT:
                final = clone(old)
                final["metadata"]["deletionTimestamp"] = format_time(self.now())
                final["metadata"]["deletionGracePeriodSeconds"] = 0
                return final
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": kind.group, "kind": kind.plural, "uid": meta["uid"]},
        }

    def delete_collection(
        self,
        kind: ResourceKind,
        namespace: str | None,
        *,
        label_selector: LabelSelector | None = None,
        field_selector: FieldSelector | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Delete every matching object; answers with an (empty) list like the real server."""
        with self.store.lock:
            listed = self.list(kind, namespace, label_selector=label_selector, field_selector=field_selector)
            if not dry_run:
                for item in listed["items"]:
                    current = self.stored(kind, item["metadata"].get("namespace"), item["metadata"]["name"])
                    if current is not None:
                        self.remove_cascading(kind, current, orphan=False)
        return listed

    def _remove_one(self, kind: ResourceKind, obj: Obj) -> None:
        final = clone(obj)
        final["metadata"]["resourceVersion"] = str(self.store.next_rv())
        self.store.remove(
            kind.key, self.space(kind, obj["metadata"].get("namespace")), obj["metadata"]["name"], final
        )
        if self.controllers is not None:
            self.controllers.after_delete(kind, obj)

    def remove_cascading(self, kind: ResourceKind, obj: Obj, *, orphan: bool) -> None:
        """Remove ``obj``; then its namespace's contents (for a Namespace) and its dependents."""
        hold = self.controllers.hold() if self.controllers is not None else contextlib.nullcontext()
        with hold:
            self._remove_cascading(kind, obj, orphan=orphan)

    def _remove_cascading(self, kind: ResourceKind, obj: Obj, *, orphan: bool) -> None:
        if kind.kind == "Namespace":
            space = obj["metadata"]["name"]
            for other in list(self.registry):
                if other.namespaced:
                    for child in list(self.store.iter(other.key, namespace=space)):
                        self._remove_one(other, child)
            self._remove_one(kind, obj)
            return
        self._remove_one(kind, obj)
        gone = [obj["metadata"]["uid"]]
        while gone:
            next_gone: list[str] = []
            for uid in gone:
                for other in list(self.registry):
                    for child in self.store.dependents(other.key, uid):
                        current = self.store.get(
                            other.key,
                            self.space(other, child["metadata"].get("namespace")),
                            child["metadata"]["name"],
                        )
                        if current is None:
                            continue
                        refs = current["metadata"].get("ownerReferences") or []
                        remaining = [ref for ref in refs if ref.get("uid") != uid]
                        if orphan or remaining:
                            updated = clone(current)
                            if remaining:
                                updated["metadata"]["ownerReferences"] = remaining
                            else:
                                updated["metadata"].pop("ownerReferences", None)
                            self._finish(
                                other,
                                current["metadata"].get("namespace"),
                                current,
                                updated,
                                manager="kube-controller-manager",
                                dry_run=False,
                                trusted=True,
                            )
                        else:
                            self._remove_one(other, current)
                            next_gone.append(current["metadata"]["uid"])
            gone = next_gone
            orphan = False


def _keep_service_allocations(old: Obj, new: Obj) -> None:
    old_spec = old.get("spec") or {}
    spec = new.get("spec")
    if not isinstance(spec, dict):
        return
    for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        if field not in spec and field in old_spec:
            spec[field] = clone(old_spec[field])
    old_ports = {p.get("port"): p for p in old_spec.get("ports") or () if isinstance(p, dict)}
    for port in spec.get("ports") or ():
        if isinstance(port, dict) and "nodePort" not in port:
            previous = old_ports.get(port.get("port"))
            if previous and "nodePort" in previous:
                port["nodePort"] = previous["nodePort"]


def _carry_over(kind: ResourceKind, old: Obj, candidate: Obj, subresource: str) -> Obj:
    """An update keeps what the server owns: status (or, for a status write, everything but the
    status and annotations), identity, generation, managed fields and a Service's allocations."""
    meta = _meta(candidate)
    if subresource == "status":
        # a status write changes the status and, as kube-apiserver's status strategies
        # allow, the annotations (the deployment controller sets its revision that way)
        status = candidate.get("status")
        annotations = meta.get("annotations")
        candidate = clone(old)
        meta = candidate["metadata"]
        if status is None:
            candidate.pop("status", None)
        else:
            candidate["status"] = status
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
    elif kind.has_status:
        if "status" in old:
            candidate["status"] = clone(old["status"])
        else:
            candidate.pop("status", None)
    old_meta = old["metadata"]
    for field in ("uid", "creationTimestamp", "name", "generation"):
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    meta["managedFields"] = clone(old_meta.get("managedFields") or [])
    if kind.kind == "Service":
        _keep_service_allocations(old, candidate)
    return candidate


def _normalise_metadata(kind: ResourceKind, meta: Obj, space: str) -> None:
    """The namespace the URL names (none for a cluster-scoped kind); no client-set versions."""
    if kind.namespaced:
        meta["namespace"] = space
    else:
        meta.pop("namespace", None)
    for key in ("resourceVersion", "deletionTimestamp", "selfLink"):
        meta.pop(key, None)


def _patched(kind: ResourceKind, current: Obj, patch: Any, media_type: str, content_type: str) -> Obj:
    """``current`` with a JSON, merge or strategic merge patch applied (by its media type)."""
    if media_type == _JSON_PATCH:
        patched: Obj = json_patch(current, patch)
        return patched
    if media_type == _MERGE_PATCH:
        if not isinstance(patch, dict):
            raise ApiError(400, "merge patch must be a JSON object")
        merged: Obj = json_merge_patch(current, patch)
        return merged
    if media_type == _STRATEGIC:
        if kind.is_crd:
            raise ApiError(
                415,
                "the body of the request was in an unknown format - accepted media "
                f"types include: {_JSON_PATCH}, {_MERGE_PATCH}, {APPLY_PATCH}",
            )
        if not isinstance(patch, dict):
            raise ApiError(400, "strategic merge patch must be a JSON object")
        strategic: Obj = strategic_merge_patch(current, patch, structure.root(kind))
        return strategic
    raise ApiError(415, f"unsupported patch type {content_type!r}")


def _field_manager_required() -> ApiError:
    """kube-apiserver's answer to an apply patch without ``fieldManager``."""
    return ApiError(
        422,
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
        details={
            "group": "meta.k8s.io",
            "kind": "PatchOptions",
            "causes": [
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value: is required for apply patch",
                    "field": "fieldManager",
                }
            ],
        },
    )
