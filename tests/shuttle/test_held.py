"""The held payload and the applied version in the state database, and the import of an older
state directory's files."""

from __future__ import annotations

import json
from pathlib import Path

import attrs

from starform_apps.shuttle.held import HeldPayload, PayloadStore
from starform_apps.shuttle.statedb import StateDB
from starform_core.payload import etag_of, example_payload, to_json


def _held(generation: int = 42) -> HeldPayload:
    body = to_json(attrs.evolve(example_payload(), generation=generation))
    return HeldPayload(
        document=example_payload()
        if generation == 42
        else attrs.evolve(example_payload(), generation=generation),
        body=body,
        etag=etag_of(body),
    )


def test_a_fresh_directory_holds_nothing(tmp_path: Path) -> None:
    store = PayloadStore(StateDB(tmp_path))
    assert store.load() is None
    assert store.applied() is None


def test_the_payload_and_the_applied_version_survive_a_restart(tmp_path: Path) -> None:
    db = StateDB(tmp_path)
    store = PayloadStore(db)
    store.save(_held(41))
    store.save(_held(42))
    with db.transaction() as conn:
        store.write_applied(conn, (example_payload().epoch, 41))
    db.close()
    again = PayloadStore(StateDB(tmp_path))
    loaded = again.load()
    assert loaded is not None
    assert loaded.version == (example_payload().epoch, 42)
    assert loaded.document == example_payload()
    assert again.applied() == (example_payload().epoch, 41)
    assert "secret" not in repr(loaded).lower() and "42" in repr(loaded), "its repr shows no body"


def test_a_stored_payload_that_no_longer_parses_reads_as_absent(tmp_path: Path) -> None:
    db = StateDB(tmp_path)
    PayloadStore(db).save(_held())
    with db.transaction() as conn:
        conn.execute("UPDATE payload SET body = ?", (b'{"apiVersion": "starform.io/v9"}',))
    assert PayloadStore(db).load() is None


def test_an_older_state_directory_is_imported_once(tmp_path: Path) -> None:
    body = to_json(example_payload())
    (tmp_path / "payload.json").write_bytes(body)
    (tmp_path / "payload.meta.json").write_text(json.dumps({"etag": etag_of(body)}))
    store = PayloadStore(StateDB(tmp_path))
    loaded = store.load()
    assert loaded is not None and loaded.etag == etag_of(body)
    store.save(_held(43))
    assert PayloadStore(StateDB(tmp_path)).load().version[1] == 43, "imported only into an empty database"  # type: ignore[union-attr]
