"""The payload built from PostgreSQL equals the payload built from the same rows in memory."""

from __future__ import annotations

import uuid

from tests.starbase.example_data import fresh_ids, load_rows_via_api

from starform_adapters.postgres import PostgresStore, VarCipher
from starform_core.access import Actor
from starform_core.payload.build import build_payload
from starform_core.payload.codec import to_json
from starform_core.payload.example import example_rows
from starform_core.payload.rows import ClusterRows, RowMemo
from starform_core.records import NewDeployment

IMAGE = "registry.example.com/team/memo@sha256:" + "5e" * 32
TABLES = ("services", "deployments", "var_group_entries", "service_var_groups", "hostnames")


def _payload(rows: ClusterRows, cipher: VarCipher) -> bytes:
    return to_json(build_payload(rows, checksum_key=cipher.checksum_key(rows.cluster.cluster_id)))


def test_payload_from_database_equals_payload_from_rows(store: PostgresStore, cipher: VarCipher) -> None:
    expected_rows = load_rows_via_api(store)
    cluster_id = expected_rows.cluster.cluster_id
    key = cipher.checksum_key(cluster_id)
    from_db = build_payload(store.cluster_rows(cluster_id), checksum_key=key)
    in_memory = build_payload(expected_rows, checksum_key=key)
    assert to_json(from_db) == to_json(in_memory)
    assert from_db.generation == store.cluster_generation(cluster_id) > 42


def test_rows_read_with_a_memo_equal_rows_read_without_and_reuse_unchanged_records(
    store: PostgresStore, cipher: VarCipher
) -> None:
    rows = fresh_ids(example_rows())
    load_rows_via_api(store, rows)
    cluster_id = rows.cluster.cluster_id
    memo: RowMemo = {}
    first = store.cluster_rows(cluster_id, memo=memo)
    assert _payload(first, cipher) == _payload(store.cluster_rows(cluster_id), cipher)
    again = store.cluster_rows(cluster_id, memo=memo)
    for table in TABLES:
        old, new = getattr(first, table), getattr(again, table)
        assert old, table
        assert len(new) == len(old), table
        assert all(any(n is o for o in old) for n in new), f"{table}: unchanged records decoded again"
    target = rows.services[0].service_id
    store.create_deployment(
        NewDeployment(deployment_id=str(uuid.uuid4()), service_id=target, image=IMAGE),
        actor=Actor(label="test"),
    )
    changed = store.cluster_rows(cluster_id, memo=memo)
    assert _payload(changed, cipher) == _payload(store.cluster_rows(cluster_id), cipher)
    release = next(d for d in changed.deployments if d.service_id == target)
    assert release.image == IMAGE  # the new record is decoded, not taken from the memo
    assert changed.cluster.generation > again.cluster.generation
    assert all(any(n is o for o in again.deployments) for n in changed.deployments if n is not release)
