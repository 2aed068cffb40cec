"""What only the PostgreSQL store shows: encryption at rest, keys, append-only tables.

The behaviour every store implementation shares is in ``test_store_contract.py``.
"""

from __future__ import annotations

import base64
import uuid

import psycopg
import pytest
from tests.starbase.example_data import fresh_ids, load_rows_via_api

from starform_adapters.postgres import EncryptionKeyError, PostgresStore, VarCipher, open_pool
from starform_core.access import Actor
from starform_core.payload.example import example_rows
from starform_core.payload.rows import ClusterRows
from starform_core.records import EventRecord
from starform_core.secrets_values import SecretValue

ACTOR = Actor(label="test")
DIGEST_IMAGE = "registry.example.com/a/b@sha256:" + "0" * 64


@pytest.fixture
def loaded(store: PostgresStore) -> ClusterRows:
    return load_rows_via_api(store, fresh_ids(example_rows()))


def test_values_are_ciphertext_at_rest(store: PostgresStore, database_url: str, loaded: ClusterRows) -> None:
    plaintexts = [e.value.reveal().encode() for e in loaded.var_group_entries]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        path = conn.execute("SELECT pg_relation_filepath('var_group_entries')").fetchone()[0]  # type: ignore[index]
        raw = conn.execute("SELECT pg_read_binary_file(%s)", (path,)).fetchone()[0]  # type: ignore[index]
        rows_text = conn.execute("SELECT string_agg(t::text, '|') FROM var_group_entries t").fetchone()[0]  # type: ignore[index]
        key_ids = {r[0] for r in conn.execute("SELECT DISTINCT key_id FROM var_group_entries")}
    assert len(raw) > 0
    assert b"LOG_LEVEL" in raw, "the table file holds the rows (keys are not secret)"
    for secret in plaintexts:
        assert secret not in raw
        assert secret.decode() not in rows_text
    assert key_ids == {store._cipher.key_id}


def test_wrong_key_fails_clearly_and_never_returns_garbage(database_url: str, loaded: ClusterRows) -> None:
    other = VarCipher.from_base64(base64.b64encode(b"x" * 32).decode())
    pool = open_pool(database_url, max_size=1)
    try:
        with pytest.raises(EncryptionKeyError) as caught:
            PostgresStore(pool, other).cluster_rows(loaded.cluster.cluster_id)
        same_id = VarCipher.from_base64(
            base64.b64encode(b"x" * 32).decode(),
            key_id=VarCipher.from_base64(base64.b64encode(b"k" * 32).decode()).key_id,
        )
        with pytest.raises(EncryptionKeyError, match="does not decrypt"):
            PostgresStore(pool, same_id).cluster_rows(loaded.cluster.cluster_id)
    finally:
        pool.close()
    message = str(caught.value)
    assert "key id" in message
    for entry in loaded.var_group_entries:
        assert entry.value.reveal() not in message


def test_a_ciphertext_moved_to_another_key_does_not_decrypt(
    store: PostgresStore, database_url: str, loaded: ClusterRows
) -> None:
    group = next(
        g
        for g in loaded.var_groups
        if sum(e.var_group_id == g.var_group_id for e in loaded.var_group_entries) >= 2
    )
    keys = sorted(e.key for e in loaded.var_group_entries if e.var_group_id == group.var_group_id)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE var_group_entries t SET ciphertext = s.ciphertext, nonce = s.nonce"
            " FROM var_group_entries s WHERE t.var_group_id = %s AND t.key = %s"
            " AND s.var_group_id = t.var_group_id AND s.key = %s",
            (group.var_group_id, keys[0], keys[1]),
        )
    with pytest.raises(EncryptionKeyError, match=keys[0]):
        store.cluster_rows(loaded.cluster.cluster_id)
    store.set_var_entries(group.var_group_id, {keys[0]: SecretValue("restored")}, actor=ACTOR)
    store.cluster_rows(loaded.cluster.cluster_id)


def test_missing_or_malformed_key_is_a_clear_error() -> None:
    with pytest.raises(EncryptionKeyError, match="not set"):
        VarCipher.from_base64(None)
    with pytest.raises(EncryptionKeyError, match="base64"):
        VarCipher.from_base64("not base64!!")
    with pytest.raises(EncryptionKeyError, match="32 bytes"):
        VarCipher.from_base64(base64.b64encode(b"short").decode())


def test_checksum_keys_are_stable_per_cluster_and_distinct(cipher: VarCipher) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert cipher.checksum_key(a) == cipher.checksum_key(a)
    assert cipher.checksum_key(a) != cipher.checksum_key(b)
    assert len(cipher.checksum_key(a)) == 32
    assert "k" * 8 not in repr(cipher)


def test_events_are_append_only_and_idempotent(
    store: PostgresStore, database_url: str, loaded: ClusterRows
) -> None:
    from datetime import UTC, datetime

    cid = loaded.cluster.cluster_id
    event = EventRecord(
        event_id=f"e-{uuid.uuid4()}",
        type="Applied",
        occurred_at=datetime.now(UTC),
        service_id=loaded.services[0].service_id,
    )
    assert store.append_events(cid, [event, event]) == 1
    assert store.append_events(cid, [event]) == 0
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE events SET type = 'x'")
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM audit_log")
    assert store.service_events(loaded.services[0].service_id).events[0].event_id == event.event_id


def test_audit_log_never_holds_var_values(
    store: PostgresStore, database_url: str, loaded: ClusterRows
) -> None:
    group = loaded.var_groups[0]
    store.set_var_entries(group.var_group_id, {"NEW_KEY": SecretValue("audit-secret-42")}, actor=ACTOR)
    with psycopg.connect(database_url) as conn:
        text = conn.execute("SELECT string_agg(a::text, '|') FROM audit_log a").fetchone()[0]  # type: ignore[index]
    assert "NEW_KEY" in text
    assert "audit-secret-42" not in text
    for entry in loaded.var_group_entries:
        if len(entry.value.reveal()) > 6:  # short values ("info") may occur in other columns
            assert entry.value.reveal() not in text
