"""Usage snapshots: what Shuttle reports every 60 s about the billable objects it runs.

A snapshot covers a **window** ``[window_start, window_end)`` of one cluster and lists the pods
(and bound volumes) Shuttle observed, each with its tenant key and its resource requests. The
metering rule (:mod:`starform_core.billing.metering`) turns snapshots into billed time.

Which part of the window a sample bills (its *billable span*):

* a pod in phase ``Running`` bills ``[max(window_start, running_since), min(window_end,
  running_until))``; ``running_since``/``running_until`` are optional and default to the window;
* a pod in phase ``Succeeded`` or ``Failed`` bills the same span only when ``running_until``
  (the moment it stopped) is given, else nothing; ``Pending`` and ``Unknown`` bill nothing;
* a volume in phase ``Bound`` bills like a running pod; any other phase bills nothing.

Requests are what the PodSpec asks for (v1.7: labels are not billing math): the pod's effective
CPU request in millicores and memory request in bytes; a volume's requested capacity in bytes.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import json
import math
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from starform_core.billing.months import as_utc, from_micros, micros
from starform_core.errors import ValidationError
from starform_core.model.tenant import TenantKey
from starform_core.quantity import parse_quantity
from starform_core.validation import check_uuid

__all__ = [
    "MAX_SAMPLES",
    "MAX_WINDOW",
    "SAMPLE_ROW",
    "SampleKind",
    "UsageSample",
    "UsageSnapshot",
    "billable_span",
    "billable_spans",
    "bytes_of",
    "cpu_millis_of",
    "digest_document",
    "running_pod_sample",
    "sample_document",
    "sample_from_document",
    "sample_from_row",
    "sample_row",
    "snapshot_digest",
]

MAX_WINDOW = dt.timedelta(minutes=5)
"""The longest window a snapshot may cover: a longer one would bill time nobody observed."""

MAX_SAMPLES = 10_000
"""The most samples (pods plus volumes) one snapshot may carry (the soft limit is 1,000 pods)."""

MAX_REQUEST_BYTES = 1 << 50
"""A request above a pebibyte is a reporting error, not a pod."""

_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SNAPSHOT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$")
_POD_BILLABLE = frozenset({"Running"})
_POD_FINISHED = frozenset({"Succeeded", "Failed"})
_POD_PHASES = _POD_BILLABLE | _POD_FINISHED | {"Pending", "Unknown"}
_VOLUME_PHASES = frozenset({"Pending", "Bound", "Lost", "Released"})


class SampleKind(enum.StrEnum):
    """What a sample measures."""

    POD = "pod"
    VOLUME = "volume"


def _whole_units(field: str, quantity: str, scale: int, limit: str) -> int:
    try:
        value = parse_quantity(quantity) * scale
    except ValueError as exc:
        raise ValidationError(field, f"{quantity!r} is not a Kubernetes quantity") from exc
    if value < 0 or value > MAX_REQUEST_BYTES:
        raise ValidationError(field, f"must be between 0 and {limit}")
    return math.ceil(value)


@functools.lru_cache(maxsize=4096)
def cpu_millis_of(field: str, quantity: str) -> int:
    """A CPU quantity (``250m``, ``1``, ``0.5``) in whole millicores, rounded up."""
    return _whole_units(field, quantity, 1000, "2^50 millicores")


@functools.lru_cache(maxsize=4096)
def bytes_of(field: str, quantity: str) -> int:
    """A memory or storage quantity (``512Mi``, ``1G``) in whole bytes, rounded up."""
    return _whole_units(field, quantity, 1, "1 PiB")


def _check_phase(sample: UsageSample, _attribute: object, value: str) -> None:
    allowed = _POD_PHASES if sample.kind is SampleKind.POD else _VOLUME_PHASES
    if value not in allowed:
        raise ValidationError(
            "phase", f"{value!r} is not a {sample.kind.value} phase ({', '.join(sorted(allowed))})"
        )


def _sample_kind(value: SampleKind | str) -> SampleKind:
    return value if type(value) is SampleKind else SampleKind(value)  # Enum calls are slow


def _since_utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else as_utc("running_since", value)


def _until_utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else as_utc("running_until", value)


def _window_start(value: dt.datetime) -> dt.datetime:
    return as_utc("window.start", value)


def _window_end(value: dt.datetime) -> dt.datetime:
    return as_utc("window.end", value)


def _non_negative(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= MAX_REQUEST_BYTES:
        raise ValidationError(attribute.name, "must be between 0 and 2^50")


@attrs.frozen
class UsageSample:
    """One pod or volume as observed in a snapshot window."""

    kind: SampleKind = attrs.field(converter=_sample_kind)
    uid: str = attrs.field()
    tenant: TenantKey
    phase: str = attrs.field(validator=_check_phase)
    cpu_millis: int = attrs.field(default=0, kw_only=True, validator=_non_negative)
    memory_bytes: int = attrs.field(default=0, kw_only=True, validator=_non_negative)
    storage_bytes: int = attrs.field(default=0, kw_only=True, validator=_non_negative)
    running_since: dt.datetime | None = attrs.field(default=None, kw_only=True, converter=_since_utc)
    running_until: dt.datetime | None = attrs.field(default=None, kw_only=True, converter=_until_utc)

    @uid.validator
    def _check_uid(self, _attribute: object, value: str) -> None:
        if not isinstance(value, str) or not _UID.match(value):
            raise ValidationError("uid", "must be a Kubernetes UID (a lower-case hyphenated UUID)")

    def __attrs_post_init__(self) -> None:
        if self.running_since and self.running_until and self.running_until < self.running_since:
            raise ValidationError("running_until", "must not be before running_since")


_set = object.__setattr__


def running_pod_sample(
    uid: str, tenant: TenantKey, phase: str, *, cpu_millis: int, memory_bytes: int
) -> UsageSample:
    """``UsageSample(SampleKind.POD, uid, tenant, phase, cpu_millis=..., memory_bytes=...)``.

    The same value, checked the same way, made in one pass when the checks pass (a snapshot
    carries a thousand pods, nearly all of them running): any other case (a check failing
    included) is the constructor's, with its errors.
    """
    if (
        type(uid) is str
        and _UID.match(uid)
        and phase in _POD_PHASES
        and 0 <= cpu_millis <= MAX_REQUEST_BYTES
        and 0 <= memory_bytes <= MAX_REQUEST_BYTES
    ):
        sample: UsageSample = object.__new__(UsageSample)
        _set(sample, "kind", SampleKind.POD)
        _set(sample, "uid", uid)
        _set(sample, "tenant", tenant)
        _set(sample, "phase", phase)
        _set(sample, "cpu_millis", cpu_millis)
        _set(sample, "memory_bytes", memory_bytes)
        _set(sample, "storage_bytes", 0)
        _set(sample, "running_since", None)
        _set(sample, "running_until", None)
        return sample
    return UsageSample(SampleKind.POD, uid, tenant, phase, cpu_millis=cpu_millis, memory_bytes=memory_bytes)


def _as_samples(samples: Iterable[UsageSample]) -> tuple[UsageSample, ...]:
    return tuple(samples)


def _check_snapshot_id(_instance: object, _attribute: object, value: str) -> None:
    if not _SNAPSHOT_ID.match(value):
        raise ValidationError(
            "snapshot_id",
            "must be 1 to 200 characters of letters, digits and . _ : @ - (a stable id per snapshot)",
        )


@attrs.frozen
class UsageSnapshot:
    """Every billable object one cluster's agent observed during ``[window_start, window_end)``."""

    cluster_id: str = attrs.field()
    snapshot_id: str = attrs.field(validator=_check_snapshot_id)
    window_start: dt.datetime = attrs.field(converter=_window_start)
    window_end: dt.datetime = attrs.field(converter=_window_end)
    samples: tuple[UsageSample, ...] = attrs.field(converter=_as_samples)
    agent: str = attrs.field(default="", kw_only=True)

    @cluster_id.validator
    def _check_cluster(self, _attribute: object, value: str) -> None:
        check_uuid("cluster_id", value)

    @functools.cached_property
    def rows(self) -> tuple[tuple[Any, ...], ...]:
        """Every sample as a :func:`sample_row`, in sample order (made once: the digest and the
        audit trails all read them)."""
        return tuple(sample_row(sample) for sample in self.samples)

    def __attrs_post_init__(self) -> None:
        if self.window_end <= self.window_start:
            raise ValidationError("window.end", "must be after window.start")
        if self.window_end - self.window_start > MAX_WINDOW:
            raise ValidationError("window", f"may cover at most {int(MAX_WINDOW.total_seconds())} seconds")
        if len(self.samples) > MAX_SAMPLES:
            raise ValidationError("samples", f"at most {MAX_SAMPLES} pods and volumes per snapshot")
        if len({sample.uid for sample in self.samples}) == len(self.samples):
            return
        seen: set[str] = set()
        for index, sample in enumerate(self.samples):
            if sample.uid in seen:
                raise ValidationError(f"samples[{index}].uid", "appears twice in the snapshot")
            seen.add(sample.uid)


def _span(sample: UsageSample, start: int, end: int) -> tuple[int, int] | None:
    """The part of the window ``[start, end)`` (microseconds) the sample bills, or ``None``."""
    if sample.kind is SampleKind.POD:
        if sample.phase in _POD_FINISHED and sample.running_until is None:
            return None
        if sample.phase not in _POD_BILLABLE and sample.phase not in _POD_FINISHED:
            return None
    elif sample.phase != "Bound":
        return None
    if sample.running_since is not None:
        start = max(start, micros(sample.running_since))
    if sample.running_until is not None:
        end = min(end, micros(sample.running_until))
    return (start, end) if start < end else None


def billable_span(snapshot: UsageSnapshot, sample: UsageSample) -> tuple[int, int] | None:
    """The ``[start, end)`` microseconds the sample bills (see the module rule), or ``None``."""
    return _span(sample, micros(snapshot.window_start), micros(snapshot.window_end))


def billable_spans(snapshot: UsageSnapshot) -> list[tuple[int, int] | None]:
    """:func:`billable_span` of every sample, in sample order (the window converted once)."""
    start, end = micros(snapshot.window_start), micros(snapshot.window_end)
    return [_span(sample, start, end) for sample in snapshot.samples]


def sample_document(sample: UsageSample) -> dict[str, Any]:
    """A sample as a JSON-ready document (times in microseconds since the epoch)."""
    return {
        "kind": sample.kind.value,
        "uid": sample.uid,
        "workspace_id": sample.tenant.workspace_id,
        "project_id": sample.tenant.project_id,
        "environment": sample.tenant.environment,
        "service_id": sample.tenant.service_id,
        "phase": sample.phase,
        "cpu_millis": sample.cpu_millis,
        "memory_bytes": sample.memory_bytes,
        "storage_bytes": sample.storage_bytes,
        "running_since": None if sample.running_since is None else micros(sample.running_since),
        "running_until": None if sample.running_until is None else micros(sample.running_until),
    }


def sample_from_document(document: Mapping[str, Any]) -> UsageSample:
    """The sample a :func:`sample_document` describes."""
    since, until = document.get("running_since"), document.get("running_until")
    return UsageSample(
        SampleKind(document["kind"]),
        document["uid"],
        TenantKey(
            document["workspace_id"], document["project_id"], document["environment"], document["service_id"]
        ),
        document["phase"],
        cpu_millis=document["cpu_millis"],
        memory_bytes=document["memory_bytes"],
        storage_bytes=document["storage_bytes"],
        running_since=None if since is None else from_micros(since),
        running_until=None if until is None else from_micros(until),
    )


SAMPLE_ROW = (
    "uid",
    "kind",
    "workspace_id",
    "project_id",
    "environment",
    "service_id",
    "phase",
    "cpu_millis",
    "memory_bytes",
    "storage_bytes",
    "running_since",
    "running_until",
)
"""The fields of :func:`sample_row`, in order (times in microseconds since the epoch)."""


def sample_row(sample: UsageSample) -> tuple[Any, ...]:
    """A sample as a compact JSON-ready row of :data:`SAMPLE_ROW` fields."""
    since, until = sample.running_since, sample.running_until
    return (
        sample.uid,
        sample.kind.value,
        sample.tenant.workspace_id,
        sample.tenant.project_id,
        sample.tenant.environment,
        sample.tenant.service_id,
        sample.phase,
        sample.cpu_millis,
        sample.memory_bytes,
        sample.storage_bytes,
        None if since is None else micros(since),
        None if until is None else micros(until),
    )


def sample_from_row(row: Sequence[Any]) -> UsageSample:
    """The sample a :func:`sample_row` describes."""
    return sample_from_document(dict(zip(SAMPLE_ROW, row, strict=True)))


def snapshot_digest(snapshot: UsageSnapshot) -> bytes:
    """SHA-256 of the snapshot's content in a canonical form (sample order does not matter).

    The form is a JSON array of fixed shape (strings, integers and nulls only, samples sorted by
    uid), so it is canonical without a general canonicaliser. A retry of the same snapshot id must
    carry the same digest; another one is a conflict.
    """
    document = digest_document(snapshot)
    return hashlib.sha256(json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode()).digest()


def digest_document(snapshot: UsageSnapshot) -> list[Any]:
    """What :func:`snapshot_digest` hashes, before encoding: cluster, id, window, rows by uid.

    Its strings are all of checked alphabets (UUIDs, RFC 1123 labels, phases, the snapshot id's
    characters), so any JSON encoder that escapes nothing else writes the same bytes.
    """
    return [
        snapshot.cluster_id,
        snapshot.snapshot_id,
        micros(snapshot.window_start),
        micros(snapshot.window_end),
        sorted(snapshot.rows, key=operator.itemgetter(0)),
    ]
