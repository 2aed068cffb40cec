"""Properties of the payload: deterministic bytes, content-addressed ETag, round trip, no leaks."""

from __future__ import annotations

import json

import attrs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.strategies.rows import SECRET_MARKER, cluster_rows, permuted

from starform_core.payload import build_payload, etag_of, parse_payload, to_json
from starform_core.payload.reuse import PayloadReuse
from starform_core.payload.rows import ClusterRows
from starform_core.secrets_values import SecretValue

KEY = b"property-test-checksum-key-00001"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(data=st.data())
def test_row_order_never_changes_the_bytes_or_the_etag(data: st.DataObject) -> None:
    rows = data.draw(cluster_rows())
    shuffled = data.draw(permuted(rows))
    left, right = (
        to_json(build_payload(rows, checksum_key=KEY)),
        to_json(build_payload(shuffled, checksum_key=KEY)),
    )
    assert left == right
    assert etag_of(left) == etag_of(right)


def _mutations(rows: ClusterRows) -> list[ClusterRows]:
    """Single-field content changes that must change the payload."""
    changed = [attrs.evolve(rows, cluster=attrs.evolve(rows.cluster, generation=rows.cluster.generation + 1))]
    changed.append(
        attrs.evolve(
            rows, cluster=attrs.evolve(rows.cluster, lb_size_unit=(rows.cluster.lb_size_unit or 1) % 200 + 1)
        )
    )
    if rows.var_group_entries:
        first = rows.var_group_entries[0]
        new_value = SecretValue(first.value.reveal() + "!")
        changed.append(
            attrs.evolve(
                rows, var_group_entries=(attrs.evolve(first, value=new_value), *rows.var_group_entries[1:])
            )
        )
    if rows.services:
        svc = rows.services[0]
        changed.append(attrs.evolve(rows, services=(attrs.evolve(svc, cpu_request="3"), *rows.services[1:])))
    if rows.deployments:
        dep = rows.deployments[0]
        changed.append(
            attrs.evolve(
                rows, deployments=(attrs.evolve(dep, version=dep.version + 100), *rows.deployments[1:])
            )
        )
    if rows.environments:
        env = rows.environments[0]
        changed.append(
            attrs.evolve(
                rows,
                environments=(attrs.evolve(env, is_ephemeral=not env.is_ephemeral), *rows.environments[1:]),
            )
        )
    return changed


@FAST
@given(rows=cluster_rows())
def test_the_etag_changes_whenever_any_content_changes(rows: ClusterRows) -> None:
    original = etag_of(to_json(build_payload(rows, checksum_key=KEY)))
    for changed in _mutations(rows):
        assert etag_of(to_json(build_payload(changed, checksum_key=KEY))) != original


@FAST
@given(rows=cluster_rows())
def test_parse_of_to_json_is_the_identity(rows: ClusterRows) -> None:
    document = build_payload(rows, checksum_key=KEY)
    assert parse_payload(to_json(document)) == document


@FAST
@given(first=cluster_rows(), data=st.data())
def test_parsing_after_any_earlier_payload_is_parsing_afresh(first: ClusterRows, data: st.DataObject) -> None:
    """Services reused from the last payload parsed never change what parse_payload returns,
    whatever sequence of payloads came before (changed, unchanged or other clusters')."""
    sequence = [first, *data.draw(st.lists(st.sampled_from(_mutations(first)), max_size=4))]
    sequence.append(data.draw(cluster_rows()))
    reuse = PayloadReuse()
    for rows in sequence:
        body = to_json(build_payload(rows, checksum_key=KEY))
        reused = parse_payload(body, reuse=reuse)
        assert reused == parse_payload(body) == build_payload(rows, checksum_key=KEY)
        if data.draw(st.booleans()):
            reuse.forget()  # sometimes the next payload has nothing to reuse


@FAST
@given(rows=cluster_rows(), key=st.binary(min_size=16, max_size=64))
def test_no_secret_value_appears_in_repr_str_or_checksums(rows: ClusterRows, key: bytes) -> None:
    assume(rows.var_group_entries)
    document = build_payload(rows, checksum_key=key)
    printed = repr(document) + str(document) + repr(rows) + str(rows)
    checksums = " ".join(g.checksum for p in document.projects for g in p.var_groups)
    for entry in rows.var_group_entries:
        plain = entry.value.reveal()
        assert plain not in printed
        assert plain not in checksums
        assert f"{entry.value}" == "<redacted>"
    assert SECRET_MARKER not in printed
    # the payload itself is where the values travel
    projects = json.loads(to_json(document))["projects"]
    carried = {v for p in projects for g in p["var_groups"] for v in g["entries"].values()}
    assert {e.value.reveal() for e in rows.var_group_entries} <= carried


@FAST
@given(rows=cluster_rows())
def test_checksums_are_keyed(rows: ClusterRows) -> None:
    assume(any(p for p in rows.var_groups))
    one = build_payload(rows, checksum_key=KEY)
    two = build_payload(rows, checksum_key=KEY[::-1])
    sums_one = [g.checksum for p in one.projects for g in p.var_groups]
    sums_two = [g.checksum for p in two.projects for g in p.var_groups]
    assert all(a != b for a, b in zip(sums_one, sums_two, strict=True))
