"""Starbase's incremental payload build gives exactly the full build's bytes (or its error).

Each example steps one cluster's rows through changes of every kind: a new generation, a new
release of a service, a service removed, hostnames added and taken away, a var group entry
changed, an attachment dropped, every row copied (equal values, new objects), row collections
reordered, rows sharing nothing with the last ones, and rows the payload refuses (a hostname
routed to two services, an unknown environment). After every step,
``IncrementalPayload.build`` must equal ``to_json(build_payload(...))`` byte for byte, or raise
the same ``ValidationError``, and stay usable for the next step.
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies.rows import cluster_rows, images, uuids

from starform_core.errors import ValidationError
from starform_core.payload.build import build_payload
from starform_core.payload.codec import to_json
from starform_core.payload.incremental import IncrementalPayload
from starform_core.payload.rows import ClusterRows, DeploymentRow, HostnameRow, VarGroupEntryRow
from starform_core.secrets_values import SecretValue

KEY = b"incremental-payload-checksum-key"
SEQUENCES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STEPS = (
    "generation",
    "release",
    "remove_service",
    "add_hostname",
    "drop_hostnames",
    "entry",
    "detach",
    "copy",
    "reorder",
    "fresh",
    "duplicate_hostname",
    "unknown_environment",
)


def _full(rows: ClusterRows) -> bytes | tuple[str, str]:
    try:
        return to_json(build_payload(rows, checksum_key=KEY))
    except ValidationError as exc:
        return (exc.field, exc.reason)


def _incremental(builder: IncrementalPayload, rows: ClusterRows) -> bytes | tuple[str, str]:
    try:
        document, body = builder.build(rows, checksum_key=KEY)
    except ValidationError as exc:
        return (exc.field, exc.reason)
    assert body == to_json(document)
    return body


_TABLES = tuple(f.name for f in attrs.fields(ClusterRows) if f.name != "cluster")


def _copied(row: Any) -> Any:
    return attrs.evolve(row)


def _step(draw: st.DrawFn, rows: ClusterRows, step: str) -> ClusterRows:
    services = rows.services
    if step == "generation":
        return attrs.evolve(rows, cluster=attrs.evolve(rows.cluster, generation=rows.cluster.generation + 1))
    if step == "release" and services:
        service = draw(st.sampled_from(services))
        version = max((d.version for d in rows.deployments if d.service_id == service.service_id), default=0)
        release = DeploymentRow(
            deployment_id=draw(uuids), service_id=service.service_id, version=version + 1, image=draw(images)
        )
        others = tuple(d for d in rows.deployments if d.service_id != service.service_id)
        return attrs.evolve(rows, deployments=(*others, release))  # the store gives the current one only
    if step == "remove_service" and services:
        gone = draw(st.sampled_from(services)).service_id
        return attrs.evolve(
            rows,
            services=tuple(s for s in services if s.service_id != gone),
            deployments=tuple(d for d in rows.deployments if d.service_id != gone),
            service_var_groups=tuple(a for a in rows.service_var_groups if a.service_id != gone),
            volumes=tuple(v for v in rows.volumes if v.service_id != gone),
            hostnames=tuple(h for h in rows.hostnames if h.service_id != gone),
        )
    if step == "add_hostname" and services:
        web = [s for s in services if s.type.value == "web" and s.public]
        if web:
            service = draw(st.sampled_from(web))
            host = HostnameRow(service_id=service.service_id, hostname=f"n{draw(uuids)[:8]}.example.com")
            return attrs.evolve(rows, hostnames=(*rows.hostnames, host))
    if step == "drop_hostnames":
        return attrs.evolve(rows, hostnames=rows.hostnames[: len(rows.hostnames) // 2])
    if step == "entry" and rows.var_group_entries:
        index = draw(st.integers(0, len(rows.var_group_entries) - 1))
        entry = rows.var_group_entries[index]
        changed = VarGroupEntryRow(
            var_group_id=entry.var_group_id, key=entry.key, value=SecretValue(entry.value.reveal() + "x")
        )
        entries = list(rows.var_group_entries)
        entries[index] = changed
        return attrs.evolve(rows, var_group_entries=tuple(entries))
    if step == "detach" and rows.service_var_groups:
        return attrs.evolve(rows, service_var_groups=rows.service_var_groups[1:])
    if step == "copy":
        tables = {
            f.name: tuple(_copied(r) for r in getattr(rows, f.name)) for f in attrs.fields(ClusterRows)[1:]
        }
        return attrs.evolve(rows, **tables)
    if step == "reorder":
        tables = {
            f.name: tuple(draw(st.permutations(getattr(rows, f.name)))) for f in attrs.fields(ClusterRows)[1:]
        }
        return attrs.evolve(rows, **tables)
    if step == "fresh":
        return draw(cluster_rows(max_projects=2, max_services=3))
    if step == "duplicate_hostname" and rows.hostnames:
        web = [s for s in services if s.type.value == "web" and s.public]
        other = [s for s in web if s.service_id != rows.hostnames[0].service_id]
        if other:
            host = HostnameRow(service_id=other[0].service_id, hostname=rows.hostnames[0].hostname)
            return attrs.evolve(rows, hostnames=(*rows.hostnames, host))
    if step == "unknown_environment" and services:
        lost = attrs.evolve(services[0], environment_id=draw(uuids))
        return attrs.evolve(rows, services=(lost, *services[1:]))
    return rows


@SEQUENCES
@given(data=st.data(), first=cluster_rows(max_projects=3, max_services=4))
def test_incremental_build_equals_the_full_build_after_any_changes(
    data: st.DataObject, first: ClusterRows
) -> None:
    builder = IncrementalPayload()
    rows = first
    assert _incremental(builder, rows) == _full(rows)
    for step in data.draw(st.lists(st.sampled_from(STEPS), min_size=1, max_size=8), label="steps"):
        rows = _step(data.draw, rows, step)
        assert _incremental(builder, rows) == _full(rows), step


def test_an_unchanged_service_is_neither_built_nor_serialised_again() -> None:
    from starform_core.payload.example import example_rows

    rows = example_rows()
    builder = IncrementalPayload()
    document, _ = builder.build(rows, checksum_key=KEY)
    bumped = attrs.evolve(rows, cluster=attrs.evolve(rows.cluster, generation=rows.cluster.generation + 1))
    again, body = builder.build(bumped, checksum_key=KEY)
    assert body == to_json(build_payload(bumped, checksum_key=KEY))
    before = [s for _p, s in document.services()]
    after = [s for _p, s in again.services()]
    assert before and all(a is b for a, b in zip(after, before, strict=True))
    assert builder.fragments == len(after)
