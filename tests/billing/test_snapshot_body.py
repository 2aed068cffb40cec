"""The usage snapshot body's fast path reads exactly what the exact path reads, and refuses
exactly what it refuses (with the same answer); the core helpers the hot path uses agree with the
constructors and functions they stand for."""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from typing import Any

import msgspec
import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from starform_apps.starbase.billing.digest import fast_snapshot_digest
from starform_apps.starbase.body_guard import BodyRejectedError
from starform_apps.starbase.schemas_billing import PodSampleIn, UsageSnapshotIn, VolumeSampleIn, WindowIn
from starform_apps.starbase.snapshot_body import (
    PodWire,
    SnapshotWire,
    VolumeWire,
    WindowWire,
    _exact,
    _fast,
    read_snapshot,
)
from starform_core.billing import SampleKind, UsageSample, UsageSnapshot, billable_span, billable_spans
from starform_core.billing.snapshots import running_pod_sample, snapshot_digest
from starform_core.errors import ValidationError
from starform_core.model.tenant import TenantKey

CLUSTER = str(uuid.UUID(int=1))
WORKSPACE, PROJECT, SERVICE = (str(uuid.UUID(int=n)) for n in (2, 3, 4))
START = "2026-11-30T10:00:00+00:00"
END = "2026-11-30T10:01:00+00:00"


def _pod(**extra: Any) -> dict[str, Any]:
    return {
        "uid": str(uuid.uuid4()),
        "workspace_id": WORKSPACE,
        "project_id": PROJECT,
        "environment": "production",
        "service_id": SERVICE,
        "phase": "Running",
        "cpu": "250m",
        "memory": "512Mi",
        **extra,
    }


def _volume(**extra: Any) -> dict[str, Any]:
    return {
        "uid": str(uuid.uuid4()),
        "workspace_id": WORKSPACE,
        "project_id": PROJECT,
        "environment": "production",
        "service_id": SERVICE,
        "phase": "Bound",
        "storage": "10Gi",
        **extra,
    }


def _body(**fields: Any) -> dict[str, Any]:
    return {"snapshot_id": "s-1", "window": {"start": START, "end": END}, "pods": [_pod()], **fields}


def _outcome(read: Any, body: bytes) -> tuple[str, Any]:
    """What reading ``body`` gives: the snapshot and pod count, or the error and its answer."""
    try:
        result = read(CLUSTER, body)
    except BodyRejectedError as exc:
        return ("400-guard", (exc.status, exc.detail))
    except RequestValidationError as exc:
        return ("422-shape", [(e["loc"], e["type"]) for e in exc.errors()])
    except ValidationError as exc:
        return ("422-value", (exc.field, exc.reason))
    return ("ok", (result.snapshot, result.pods))


def _same(body: bytes) -> tuple[str, Any]:
    fast = _outcome(functools.partial(read_snapshot, content_type="application/json"), body)
    exact = _outcome(_exact, body)
    assert fast == exact
    return fast


def test_the_wire_structs_mirror_the_pydantic_models_field_for_field() -> None:
    """A field added to one and not the other fails here (the fast path would refuse it, or
    worse, the documented schema would not say it)."""
    pairs = [
        (SnapshotWire, UsageSnapshotIn),
        (WindowWire, WindowIn),
        (PodWire, PodSampleIn),
        (VolumeWire, VolumeSampleIn),
    ]
    for wire, model in pairs:
        assert set(wire.__struct_fields__) == set(model.model_fields), wire.__name__


def test_an_agents_snapshot_takes_the_fast_path_and_reads_as_the_exact_one() -> None:
    pods = [_pod() for _ in range(50)] + [_pod(phase="Succeeded", running_until=END, running_since=START)]
    for dumps in (
        json.dumps,
        lambda d: json.dumps(d, separators=(",", ":")),
        lambda d: json.dumps(d, indent=2),
    ):
        body = dumps(_body(pods=pods, volumes=[_volume()], agent='shuttle "1.0": ok\\')).encode()
        fast = _fast(CLUSTER, body)  # no fall-back
        assert fast == _exact(CLUSTER, body)
        assert fast.pods == 51 and len(fast.snapshot.samples) == 52


HEAD = b'{"snapshot_id":"s","window":{"start":"%s","end":"%s"}'
BAD = {
    "a pod repeats a key": HEAD + b',"pods":[{"uid":"%s","uid":"%s","workspace_id":"%s","project_id":"%s",'
    b'"environment":"e","service_id":"%s","phase":"Running","cpu":"1","memory":"1"}]}',
    "the top repeats a key, spaced": b'{"snapshot_id":"s", "snapshot_id" :"t",' + HEAD[1:] + b"}",
    "NaN": HEAD + b',"agent":NaN}',
    "a long integer": HEAD + b',"agent":' + b"9" * 120 + b"}",
    "an unpaired surrogate": HEAD + b',"agent":"\\ud800"}',
    "not UTF-8": HEAD + b',"agent":"\xff"}',
    "not JSON": b'{"snapshot_id":"s",',
    "too deep": HEAD + b',"agent":' + b"[" * 40 + b"]" * 40 + b"}",
}


def _fill(template: bytes) -> bytes:
    values: list[bytes] = [START.encode(), END.encode()]
    values += [str(uuid.uuid4()).encode() for _ in range(template.count(b"%s") - 2)]
    return template % tuple(values[: template.count(b"%s")])


@pytest.mark.parametrize("name", sorted(BAD))
def test_bodies_the_guard_refuses_are_refused_alike(name: str) -> None:
    kind, _ = _same(_fill(BAD[name]))
    assert kind == "400-guard"


SHAPES: dict[str, dict[str, Any]] = {
    "a uid with a final newline": _body(pods=[_pod(uid=str(uuid.uuid4()) + "\n")]),
    "a snapshot id with a final newline": _body(snapshot_id="s-1\n"),
    "an upper-case uid": _body(pods=[_pod(uid=str(uuid.uuid4()).upper())]),
    "a workspace that is no UUID": _body(pods=[_pod(workspace_id="nope")]),
    "an unknown field": _body(pods=[_pod(colour="red")]),
    "a naive window": _body(window={"start": "2026-11-30T10:00:00", "end": END}),
    "a window as numbers": _body(window={"start": 1764496800, "end": 1764496860}),
    "an empty running_since": _body(pods=[_pod(running_since="")]),
    "a null running_until": _body(pods=[_pod(running_until=None)]),
    "a pod phase of a volume": _body(pods=[_pod(phase="Bound")]),
    "an environment not a label": _body(pods=[_pod(environment="Prod_1")]),
    "an environment too long": _body(pods=[_pod(environment="e" * 31)]),
    "a bad quantity": _body(pods=[_pod(cpu="lots")]),
    "a quantity too long": _body(pods=[_pod(memory="9" * 33)]),
    "the same uid twice": _body(pods=[_pod(uid=str(uuid.UUID(int=9))), _pod(uid=str(uuid.UUID(int=9)))]),
    "a window too long": _body(window={"start": START, "end": "2026-11-30T11:00:00+00:00"}),
    "pods as null": _body(pods=None),
    "no window": {"snapshot_id": "s"},
    "a list": {"snapshot_id": ["s"], "window": {"start": START, "end": END}},
    "until before since": _body(pods=[_pod(running_since=END, running_until=START)]),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_bad_or_odd_snapshots_read_alike_on_both_paths(name: str) -> None:
    _same(json.dumps(SHAPES[name]).encode())


MOMENTS = st.sampled_from([None, START, END, "2026-11-30T10:00:30.5+01:00", "2026-11-30T10:00:30Z"])


@st.composite
def _pods(draw: st.DrawFn) -> dict[str, Any]:
    pod = _pod(
        phase=draw(st.sampled_from(["Pending", "Running", "Succeeded", "Failed", "Unknown"])),
        cpu=draw(st.sampled_from(["250m", "1", "0.5", "2"])),
        memory=draw(st.sampled_from(["512Mi", "1Gi", "1G"])),
        environment=draw(st.sampled_from(["production", "staging", "e-1"])),
    )
    for name in ("running_since", "running_until"):
        if draw(st.booleans()):
            pod[name] = draw(MOMENTS)
    return pod


@settings(max_examples=60, deadline=None)
@given(pods=st.lists(_pods(), max_size=6), volumes=st.integers(0, 2), compact=st.booleans())
def test_any_snapshot_reads_alike_on_both_paths(
    pods: list[dict[str, Any]], volumes: int, compact: bool
) -> None:
    body = _body(pods=pods, volumes=[_volume() for _ in range(volumes)])
    text = json.dumps(body, separators=(",", ":") if compact else None)
    _same(text.encode())


def _snapshot(samples: list[UsageSample], snapshot_id: str = "s-1") -> UsageSnapshot:
    start = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
    return UsageSnapshot(CLUSTER, snapshot_id, start, start + dt.timedelta(minutes=1), samples)


def test_the_fast_digest_is_the_cores() -> None:
    tenant = TenantKey(WORKSPACE, PROJECT, "production", SERVICE)
    since = dt.datetime(2026, 11, 30, 10, 0, 30, tzinfo=dt.UTC)
    samples = [
        UsageSample(SampleKind.POD, str(uuid.uuid4()), tenant, "Running", cpu_millis=250, memory_bytes=2**29),
        UsageSample(
            SampleKind.POD, str(uuid.uuid4()), tenant, "Failed", running_since=since, running_until=since
        ),
        UsageSample(SampleKind.VOLUME, str(uuid.uuid4()), tenant, "Bound", storage_bytes=2**34),
    ]
    for snapshot in (_snapshot(samples), _snapshot([], "empty"), _snapshot(samples[::-1], "a:b@c.d-e_f")):
        assert fast_snapshot_digest(snapshot) == snapshot_digest(snapshot)


def test_the_fast_digest_hands_an_escaped_document_to_the_core() -> None:
    snapshot = _snapshot([])
    encoded = msgspec.json.encode(["\\"])
    assert b"\\" in encoded  # what the fall-back looks for: an escape msgspec and json may write apart
    assert fast_snapshot_digest(snapshot) == snapshot_digest(snapshot)


UIDS = st.one_of(st.uuids().map(str), st.text(max_size=40), st.uuids().map(lambda u: str(u) + "\n"))


@given(
    uid=UIDS,
    phase=st.sampled_from(["Running", "Pending", "Bound", "running"]),
    cpu=st.integers(-1, 2**50 + 1),
    memory=st.sampled_from([0, 2**29, 2**50, 2**50 + 1, -5]),
)
def test_a_running_pod_made_in_one_pass_is_the_constructors(
    uid: str, phase: str, cpu: int, memory: int
) -> None:
    tenant = TenantKey(WORKSPACE, PROJECT, "production", SERVICE)

    def build(make: Any) -> Any:
        try:
            return make()
        except ValidationError as exc:
            return (exc.field, exc.reason)

    fast = build(lambda: running_pod_sample(uid, tenant, phase, cpu_millis=cpu, memory_bytes=memory))
    slow = build(lambda: UsageSample(SampleKind.POD, uid, tenant, phase, cpu_millis=cpu, memory_bytes=memory))
    assert fast == slow
    if isinstance(fast, UsageSample):
        assert hash(fast) == hash(slow) and repr(fast) == repr(slow)


def test_billable_spans_are_each_samples_billable_span() -> None:
    tenant = TenantKey(WORKSPACE, PROJECT, "production", SERVICE)
    mid = dt.datetime(2026, 11, 30, 10, 0, 20, tzinfo=dt.UTC)
    samples = [
        UsageSample(
            SampleKind.POD, str(uuid.uuid4()), tenant, phase, running_since=since, running_until=until
        )
        for phase in ("Running", "Succeeded", "Pending")
        for since, until in ((None, None), (mid, None), (None, mid))
    ] + [UsageSample(SampleKind.VOLUME, str(uuid.uuid4()), tenant, p) for p in ("Bound", "Lost")]
    snapshot = _snapshot(samples)
    assert billable_spans(snapshot) == [billable_span(snapshot, s) for s in samples]
    assert any(span is None for span in billable_spans(snapshot))
