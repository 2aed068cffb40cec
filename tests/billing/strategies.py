"""Hypothesis strategies for billing: a small world of pods and volumes, snapshots over it."""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
from hypothesis import strategies as st

from starform_core.billing import PlanPeriod, SampleKind, UsageSample, UsageSnapshot
from starform_core.model.tenant import TenantKey

CLUSTER = "6f0b4c3e-0b8f-4c1e-9a57-1f0d6f3c2a10"
WORKSPACE = "0d8f6a4e-2c1b-4f7e-8a3d-5b6c7d8e9f01"
PROJECT = "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b"
SERVICES = ("7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "8b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e")
ORIGIN = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC)
"""Snapshots start two hours before a month boundary, so splitting at months is exercised."""

PLANS = (
    PlanPeriod(PROJECT, WORKSPACE, "hobby", dt.datetime(2026, 10, 1, tzinfo=dt.UTC), project_name="shop"),
)


@attrs.frozen
class PodSpec:
    """An object of the world: its uid, kind, service and (immutable) requests."""

    uid: str
    kind: SampleKind
    service_id: str
    cpu_millis: int
    memory_bytes: int
    storage_bytes: int


@st.composite
def objects(draw: st.DrawFn, *, max_size: int = 5) -> list[PodSpec]:
    """A handful of pods and volumes with fixed requests."""
    count = draw(st.integers(min_value=1, max_value=max_size))
    out = []
    for index in range(count):
        kind = draw(st.sampled_from([SampleKind.POD, SampleKind.POD, SampleKind.VOLUME]))
        out.append(
            PodSpec(
                uid=str(uuid.UUID(int=index + 1)),
                kind=kind,
                service_id=draw(st.sampled_from(SERVICES)),
                cpu_millis=draw(st.sampled_from([100, 250, 1000, 2500])) if kind is SampleKind.POD else 0,
                memory_bytes=draw(st.sampled_from([2**27, 2**29, 3 * 10**8]))
                if kind is SampleKind.POD
                else 0,
                storage_bytes=draw(st.sampled_from([2**30, 5 * 10**9])) if kind is SampleKind.VOLUME else 0,
            )
        )
    return out


def sample_of(spec: PodSpec, phase: str, **times: dt.datetime | None) -> UsageSample:
    """A sample of ``spec`` in ``phase``."""
    return UsageSample(
        spec.kind,
        spec.uid,
        TenantKey(WORKSPACE, PROJECT, "production", spec.service_id),
        phase,
        cpu_millis=spec.cpu_millis,
        memory_bytes=spec.memory_bytes,
        storage_bytes=spec.storage_bytes,
        **times,  # type: ignore[arg-type]
    )


@st.composite
def snapshots(draw: st.DrawFn, world: list[PodSpec], *, max_size: int = 8) -> list[UsageSnapshot]:
    """Snapshots with windows that may overlap, leave gaps, or straddle the month boundary."""
    count = draw(st.integers(min_value=1, max_value=max_size))
    out = []
    for index in range(count):
        start = ORIGIN + dt.timedelta(seconds=draw(st.integers(min_value=0, max_value=4 * 3600)))
        length = dt.timedelta(seconds=draw(st.integers(min_value=1, max_value=300)))
        members = draw(st.lists(st.sampled_from(world), unique_by=lambda s: s.uid, max_size=len(world)))
        samples = []
        for spec in members:
            phase = draw(
                st.sampled_from(["Running", "Running", "Pending", "Succeeded"])
                if spec.kind is SampleKind.POD
                else st.sampled_from(["Bound", "Bound", "Pending"])
            )
            since = until = None
            if draw(st.booleans()):
                since = start + dt.timedelta(seconds=draw(st.integers(min_value=-30, max_value=300)))
            if draw(st.booleans()):
                until = (since or start) + dt.timedelta(seconds=draw(st.integers(min_value=0, max_value=300)))
            samples.append(sample_of(spec, phase, running_since=since, running_until=until))
        out.append(UsageSnapshot(CLUSTER, f"snap-{index}", start, start + length, samples))
    return out


@st.composite
def aligned_snapshots(draw: st.DrawFn, world: list[PodSpec], *, max_size: int = 10) -> list[UsageSnapshot]:
    """Snapshots on a coarse grid near the month boundary: windows that repeat, abut, overlap and
    leave gaps far more often than :func:`snapshots` draws them, with objects that come and go
    and now and then start or stop inside a window."""
    count = draw(st.integers(min_value=1, max_value=max_size))
    offsets = [0, 30, 60, 90, 120, 7170, 7200, 7230]  # 7200 s after ORIGIN: 1 December
    out = []
    for index in range(count):
        start = ORIGIN + dt.timedelta(
            seconds=draw(st.sampled_from(offsets)) + draw(st.sampled_from([0, 0, 1, 17]))
        )
        length = dt.timedelta(seconds=draw(st.sampled_from([30, 60, 60, 90, 300])))
        members = draw(st.lists(st.sampled_from(world), unique_by=lambda s: s.uid, max_size=len(world)))
        samples = []
        for spec in members:
            phase = draw(
                st.sampled_from(["Running", "Running", "Running", "Pending", "Succeeded"])
                if spec.kind is SampleKind.POD
                else st.sampled_from(["Bound", "Bound", "Pending"])
            )
            since = until = None
            if draw(st.integers(min_value=0, max_value=3)) == 0:
                since = start + dt.timedelta(seconds=draw(st.integers(min_value=-30, max_value=100)))
            if draw(st.integers(min_value=0, max_value=3)) == 0:
                until = (since or start) + dt.timedelta(seconds=draw(st.integers(min_value=0, max_value=100)))
            samples.append(sample_of(spec, phase, running_since=since, running_until=until))
        out.append(UsageSnapshot(CLUSTER, f"snap-{index}", start, start + length, samples))
    return out


@st.composite
def ingestions(draw: st.DrawFn, *, aligned: bool = True) -> tuple[list[UsageSnapshot], list[UsageSnapshot]]:
    """Snapshots and the order they arrive in (shuffled, two of them sent twice)."""
    world = draw(objects())
    snaps = draw(aligned_snapshots(world) if aligned else snapshots(world))
    return snaps, draw(st.permutations(snaps + snaps[:2]))
