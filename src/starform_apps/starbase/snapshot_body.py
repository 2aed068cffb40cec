"""Reading a usage snapshot's body: one compiled decode on the hot path, the exact rules behind it.

A Shuttle sends a snapshot of up to a thousand pods every minute; at 1,000 clusters that is
about 17 bodies of 200 KB a second. The generic way (the body guard's checking parse, then
pydantic over the document, then the core values) walks every pod three times in Python, so
this endpoint reads its body itself:

1. **Fast path**: ``msgspec`` decodes the bytes straight into typed structs (:class:`SnapshotWire`)
   that mirror :class:`~starform_apps.starbase.schemas_billing.UsageSnapshotIn` field for field
   (types, lengths, patterns, phases, unknown fields refused); the body guard's rules hold by
   construction (UTF-8, no ``NaN``, no unpaired surrogate, no integers, bounded depth) or by
   one check (no key twice: the keys the bytes hold are counted against the fields decoded).
   The core values are then built from the structs (a service's pods share one tenant key).
2. **Exact path**: when anything on the fast path fails, the body is read the generic way
   (:func:`~starform_apps.starbase.body_guard.check_json_body`, pydantic, then
   :func:`snapshot_of`), which answers exactly as the endpoint always did: ``400`` for bytes the
   guard refuses, ``422`` naming the field. The fast path never accepts a body the exact path
   refuses, nor reads one differently (tests check both on the same bodies).

Adding a list to the snapshot means a struct here, its field in :class:`SnapshotWire`, its count
in :func:`_keys_decoded` and its samples in :func:`_wire_samples`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal, NoReturn

import attrs
import msgspec
from fastapi.exceptions import RequestValidationError
from msgspec import UNSET, Meta, Struct, UnsetType
from pydantic import AwareDatetime, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from starform_apps.starbase.body_guard import check_json_body
from starform_apps.starbase.schemas_billing import PodSampleIn, UsageSnapshotIn, VolumeSampleIn
from starform_core.billing import MAX_SAMPLES, SampleKind, UsageSample, UsageSnapshot, bytes_of, cpu_millis_of
from starform_core.billing.snapshots import running_pod_sample
from starform_core.errors import ValidationError
from starform_core.model.tenant import TenantKey

__all__ = ["PodWire", "ReadSnapshot", "SnapshotWire", "VolumeWire", "read_snapshot", "snapshot_of"]

# UUIDs are checked by the core values (TenantKey once per service, the sample's uid once per
# sample, of 36 characters: see _uid), not by a pattern per field here (a thousand pods carry
# four thousand). The snapshot id's pattern is pydantic's, anchored with \Z: msgspec searches
# with ``re``, whose ``$`` also matches before a final newline (pydantic's does not).
Uuid = str
Quantity = Annotated[str, Meta(min_length=1, max_length=32)]
Environment = Annotated[str, Meta(min_length=1, max_length=30)]
SnapshotId = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*\Z")]
# Times stay strings here: pydantic parses them, so both paths read a time the same way.
Moment = str | None | UnsetType

_UUID_LENGTH = 36
_MOMENT: TypeAdapter[dt.datetime] = TypeAdapter(AwareDatetime)
_SPACED_KEY_END = re.compile(rb'"[ \t\r\n]+:')


def _keys_in(body: bytes) -> int | None:
    """How many object keys ``body`` holds, or ``None`` when a space precedes a colon.

    A key ends with a closing quote and a colon; inside a string a quote is escaped (``\\"``).
    Counted over a body that decoded, whose keys are all field names (no backslash in any), the
    quotes followed by a colon less the escaped ones are exactly its keys.
    """
    spaced = b" :" in body or b"\n:" in body or b"\t:" in body or b"\r:" in body  # memchr-fast
    if spaced and _SPACED_KEY_END.search(body):
        return None
    return body.count(b'":') - body.count(b'\\":')


class WindowWire(Struct, forbid_unknown_fields=True, frozen=True):
    """:class:`~starform_apps.starbase.schemas_billing.WindowIn`."""

    start: str
    end: str


class PodWire(Struct, forbid_unknown_fields=True, frozen=True):
    """:class:`~starform_apps.starbase.schemas_billing.PodSampleIn`."""

    uid: Uuid
    workspace_id: Uuid
    project_id: Uuid
    environment: Environment
    service_id: Uuid
    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"]
    cpu: Quantity
    memory: Quantity
    running_since: Moment = UNSET
    running_until: Moment = UNSET


class VolumeWire(Struct, forbid_unknown_fields=True, frozen=True):
    """:class:`~starform_apps.starbase.schemas_billing.VolumeSampleIn`."""

    uid: Uuid
    workspace_id: Uuid
    project_id: Uuid
    environment: Environment
    service_id: Uuid
    phase: Literal["Pending", "Bound", "Lost", "Released"]
    storage: Quantity
    bound_since: Moment = UNSET
    bound_until: Moment = UNSET


class SnapshotWire(Struct, forbid_unknown_fields=True, frozen=True):
    """:class:`~starform_apps.starbase.schemas_billing.UsageSnapshotIn`."""

    snapshot_id: SnapshotId
    window: WindowWire
    agent: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    pods: Annotated[list[PodWire], Meta(max_length=MAX_SAMPLES)] | UnsetType = UNSET
    volumes: Annotated[list[VolumeWire], Meta(max_length=MAX_SAMPLES)] | UnsetType = UNSET


_DECODER = msgspec.json.Decoder(SnapshotWire)
_POD_KEYS = 8  # the required fields of a pod (the optional ones are counted when present)
_VOLUME_KEYS = 7
_TOP_KEYS = 2 + 2  # snapshot_id, window and the window's start and end


@attrs.frozen
class ReadSnapshot:
    """A snapshot read from a body, and how many of its samples are pods (they come first)."""

    snapshot: UsageSnapshot
    pods: int


class _ExactPathError(Exception):
    """The fast path cannot vouch for this body: read it the exact way."""


def _present(*values: object) -> int:
    return sum(value is not UNSET for value in values)


def _keys_decoded(wire: SnapshotWire) -> int:
    """How many keys the decoded body holds (each field present once)."""
    pods = wire.pods if wire.pods is not UNSET else ()
    volumes = wire.volumes if wire.volumes is not UNSET else ()
    optional = sum((p.running_since is not UNSET) + (p.running_until is not UNSET) for p in pods)
    optional += sum((v.bound_since is not UNSET) + (v.bound_until is not UNSET) for v in volumes)
    return (
        _TOP_KEYS
        + _present(wire.agent, wire.pods, wire.volumes)
        + _POD_KEYS * len(pods)
        + optional
        + _VOLUME_KEYS * len(volumes)
    )


def _moment(value: str | UnsetType | None) -> dt.datetime | None:
    if value is None or value is UNSET:
        return None
    try:
        return _MOMENT.validate_python(value)
    except PydanticValidationError as exc:
        raise _ExactPathError from exc


def _uid(uid: str) -> str:
    """The core's uid pattern is pydantic's but for a final newline: refused here."""
    if len(uid) != _UUID_LENGTH:
        raise _ExactPathError
    return uid


def _pod(pod: PodWire, tenant: TenantKey) -> UsageSample:
    _uid(pod.uid)
    if pod.running_since is UNSET and pod.running_until is UNSET:
        return running_pod_sample(
            pod.uid,
            tenant,
            pod.phase,
            cpu_millis=cpu_millis_of("cpu", pod.cpu),
            memory_bytes=bytes_of("memory", pod.memory),
        )
    return UsageSample(
        SampleKind.POD,
        pod.uid,
        tenant,
        pod.phase,
        cpu_millis=cpu_millis_of("cpu", pod.cpu),
        memory_bytes=bytes_of("memory", pod.memory),
        running_since=_moment(pod.running_since),
        running_until=_moment(pod.running_until),
    )


def _volume(volume: VolumeWire, tenant: TenantKey) -> UsageSample:
    return UsageSample(
        SampleKind.VOLUME,
        _uid(volume.uid),
        tenant,
        volume.phase,
        storage_bytes=bytes_of("storage", volume.storage),
        running_since=_moment(volume.bound_since),
        running_until=_moment(volume.bound_until),
    )


def _wire_samples(pods: Sequence[PodWire], volumes: Sequence[VolumeWire]) -> list[UsageSample]:
    tenants: dict[tuple[str, str, str, str], TenantKey] = {}  # a service's pods share theirs

    def tenant_of(item: PodWire | VolumeWire) -> TenantKey:
        key = (item.workspace_id, item.project_id, item.environment, item.service_id)
        tenant = tenants.get(key)
        if tenant is None:
            tenant = tenants[key] = TenantKey(*key)
        return tenant

    samples = [_pod(pod, tenant_of(pod)) for pod in pods]
    samples.extend(_volume(volume, tenant_of(volume)) for volume in volumes)
    return samples


def _fast(cluster_id: str, body: bytes) -> ReadSnapshot:
    try:
        wire = _DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _ExactPathError from exc
    if _keys_in(body) != _keys_decoded(wire):
        raise _ExactPathError  # an object repeats a key: the guard's rule, answered the exact way
    pods = wire.pods if wire.pods is not UNSET else []
    volumes = wire.volumes if wire.volumes is not UNSET else []
    try:
        samples = _wire_samples(pods, volumes)
        snapshot = UsageSnapshot(
            cluster_id,
            wire.snapshot_id,
            _MOMENT.validate_python(wire.window.start),
            _MOMENT.validate_python(wire.window.end),
            samples,
            agent=wire.agent if wire.agent is not UNSET else "",
        )
    except (ValidationError, PydanticValidationError) as exc:
        raise _ExactPathError from exc  # the exact path names the field
    return ReadSnapshot(snapshot, len(pods))


_VOLUME_FIELDS = {"running_since": "bound_since", "running_until": "bound_until"}
"""A volume's bound span is the core sample's running span (errors name the body's fields)."""


def _samples(body: UsageSnapshotIn) -> list[UsageSample]:
    samples: list[UsageSample] = []
    tenants: dict[tuple[str, str, str, str], TenantKey] = {}
    lists: tuple[tuple[str, Sequence[PodSampleIn | VolumeSampleIn]], ...] = (
        ("pods", body.pods),
        ("volumes", body.volumes),
    )
    for name, items in lists:
        for index, item in enumerate(items):
            key = (item.workspace_id, item.project_id, item.environment, item.service_id)
            try:
                tenant = tenants.get(key) or tenants.setdefault(key, TenantKey(*key))
                if isinstance(item, PodSampleIn):
                    samples.append(
                        UsageSample(
                            SampleKind.POD,
                            item.uid,
                            tenant,
                            item.phase,
                            cpu_millis=cpu_millis_of("cpu", item.cpu),
                            memory_bytes=bytes_of("memory", item.memory),
                            running_since=item.running_since,
                            running_until=item.running_until,
                        )
                    )
                else:
                    samples.append(
                        UsageSample(
                            SampleKind.VOLUME,
                            item.uid,
                            tenant,
                            item.phase,
                            storage_bytes=bytes_of("storage", item.storage),
                            running_since=item.bound_since,
                            running_until=item.bound_until,
                        )
                    )
            except ValidationError as exc:
                field = _VOLUME_FIELDS.get(exc.field, exc.field) if name == "volumes" else exc.field
                raise ValidationError(f"{name}[{index}].{field}", exc.reason) from exc
    return samples


def snapshot_of(cluster_id: str, body: UsageSnapshotIn) -> UsageSnapshot:
    """The core value of a validated request body (field errors name the body's paths)."""
    samples = _samples(body)
    try:
        return UsageSnapshot(
            cluster_id, body.snapshot_id, body.window.start, body.window.end, samples, agent=body.agent
        )
    except ValidationError as exc:
        field = exc.field
        if field.startswith("samples["):
            index = int(field[len("samples[") : field.index("]")])
            pods = len(body.pods)
            field = f"pods[{index}].uid" if index < pods else f"volumes[{index - pods}].uid"
        raise ValidationError(field, exc.reason) from exc


def _exact(cluster_id: str, body: bytes) -> ReadSnapshot:
    document: Any = check_json_body(body)  # BodyRejectedError: the guard's answer
    try:
        model = UsageSnapshotIn.model_validate(document)
    except PydanticValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc
    return ReadSnapshot(snapshot_of(cluster_id, model), len(model.pods))


def _is_json(content_type: str | None) -> bool:
    """FastAPI's rule: ``application/json`` or ``application/…+json``."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _not_json(body: bytes, content_type: str | None) -> NoReturn:
    """What a body FastAPI does not read as JSON is answered (``422`` at ``body``)."""
    if not body:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    if content_type is None:
        check_json_body(body)  # the body guard checks a body without a type as JSON first
    raise RequestValidationError(
        [
            {
                "type": "model_attributes_type",
                "loc": ("body",),
                "msg": "Input should be a valid dictionary or object to extract fields from",
            }
        ]
    )


def read_snapshot(cluster_id: str, body: bytes, *, content_type: str | None) -> ReadSnapshot:
    """The snapshot a request body holds (``content_type``: the request's, if it has one).

    Raises :class:`~starform_apps.starbase.body_guard.BodyRejectedError` (not JSON this API
    accepts), :class:`~fastapi.exceptions.RequestValidationError` (the body's shape) or
    :class:`~starform_core.errors.ValidationError` (a value the core refuses), naming the field.
    """
    if not body or not _is_json(content_type):
        _not_json(body, content_type)
    try:
        return _fast(cluster_id, body)
    except _ExactPathError:
        return _exact(cluster_id, body)
