"""The payload built from PostgreSQL equals the payload built from the same rows in memory."""

from __future__ import annotations

from tests.starbase.example_data import load_rows_via_api

from starform_adapters.postgres import PostgresStore, VarCipher
from starform_core.payload.build import build_payload
from starform_core.payload.codec import to_json


def test_payload_from_database_equals_payload_from_rows(store: PostgresStore, cipher: VarCipher) -> None:
    expected_rows = load_rows_via_api(store)
    cluster_id = expected_rows.cluster.cluster_id
    key = cipher.checksum_key(cluster_id)
    from_db = build_payload(store.cluster_rows(cluster_id), checksum_key=key)
    in_memory = build_payload(expected_rows, checksum_key=key)
    assert to_json(from_db) == to_json(in_memory)
    assert from_db.generation == store.cluster_generation(cluster_id) > 42
