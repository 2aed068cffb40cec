"""The held payload and the applied version in the state database, and the import of an older
state directory's files."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import attrs

from starform_apps.shuttle.held import HeldPayload, PayloadStore
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.reports import EventType, Report, event_report
from starform_apps.shuttle.statedb import SCHEMA_VERSION, StateDB
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


def _intent(generation: int) -> Report:
    return event_report(
        EventType.APPLIED,
        now=datetime.now(UTC),
        reason="desired-changed",
        data={"object": "x", "action": "update", "epoch": example_payload().epoch, "generation": generation},
    )


def test_a_payload_open_intents_were_made_for_is_kept_when_a_newer_one_replaces_it(tmp_path: Path) -> None:
    db = StateDB(tmp_path)
    store, outbox = PayloadStore(db), Outbox(db)
    store.save(_held(43))
    intent = _intent(43)
    outbox.open_intent(intent)
    store.save(_held(44))  # a pull during the apply of 43, then (say) a crash
    store.save(_held(45))  # and another: 43 is still what the intent needs
    epoch = example_payload().epoch
    kept = store.for_intents((epoch, 43))
    assert kept is not None and kept.version == (epoch, 43)
    assert store.for_intents((epoch, 45)) == store.load()
    assert store.for_intents((epoch, 44)) is None, "no intent was made for 44: not kept"
    outbox.settle(intent.report_id, _intent(43))
    store.save(_held(46))  # no intent open: what was kept goes
    assert store.for_intents((epoch, 43)) is None


def test_a_version_1_state_database_is_upgraded_keeping_what_it_holds(tmp_path: Path) -> None:
    store = PayloadStore(StateDB(tmp_path))
    store.save(_held(43))
    conn = sqlite3.connect(tmp_path / StateDB.FILE)
    conn.executescript("BEGIN; DROP TABLE intent_payload; PRAGMA user_version = 1; COMMIT;")
    conn.close()
    upgraded = StateDB(tmp_path)
    assert upgraded.query("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    loaded = PayloadStore(upgraded).load()
    assert loaded is not None and loaded.version[1] == 43
    assert upgraded.query("SELECT count(*) FROM intent_payload") == [(0,)]
