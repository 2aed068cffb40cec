"""The payload Shuttle holds (the last good one) and the version it applied in full, on disk.

Both live in the state database, so a restart while Starbase is down still enforces the last
accepted payload, and never goes back below what it held. When a newer payload replaces one that
open intents were made for (a pull during an apply, then a crash), the replaced one is kept
beside it until they are settled: a restart settles each intent from a plan of its own payload.
A state directory of an older Shuttle (``payload.json``, ``payload.meta.json``) is imported once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from starform_apps.shuttle.statedb import StateDB
from starform_core.errors import ContractError
from starform_core.payload import DesiredState, parse_payload
from starform_core.reporting import Version

__all__ = ["HeldPayload", "PayloadStore", "payload_version_of"]

_log = logging.getLogger("starform.shuttle.state")


@attrs.frozen(repr=False)
class HeldPayload:
    """An accepted payload: the document, its canonical bytes (secret values inside) and ETag."""

    document: DesiredState
    body: bytes
    etag: str

    @property
    def version(self) -> Version:
        """``(epoch, generation)``."""
        return (self.document.epoch, self.document.generation)

    def __repr__(self) -> str:
        return f"HeldPayload(epoch={self.document.epoch}, generation={self.document.generation})"


def payload_version_of(event: Mapping[str, Any]) -> Version | None:
    """The ``(epoch, generation)`` of the payload an action's event (or intent) was made for."""
    data = event.get("data") or {}
    epoch, generation = data.get("epoch"), data.get("generation")
    return (epoch, generation) if isinstance(epoch, int) and isinstance(generation, int) else None


def _intent_versions(conn: sqlite3.Connection) -> set[Version]:
    """The payload versions the open intents were made for."""
    versions = (
        payload_version_of(json.loads(body))
        for (body,) in conn.execute("SELECT body FROM outbox WHERE state = 'intent'")
    )
    return {version for version in versions if version is not None}


def _keep_for_intents(conn: sqlite3.Connection, *, replaced_by: Version) -> None:
    """Before the held payload is replaced: keep it when open intents were made for it; drop
    what was kept when no intent is open any more."""
    versions = _intent_versions(conn)
    if not versions:
        conn.execute("DELETE FROM intent_payload")
        return
    held = conn.execute("SELECT epoch, generation FROM payload WHERE id = 1").fetchone()
    if held is None or (int(held[0]), int(held[1])) == replaced_by:
        return
    if (int(held[0]), int(held[1])) in versions:
        conn.execute(
            "INSERT OR REPLACE INTO intent_payload (id, body, etag, epoch, generation, stored_at)"
            " SELECT 1, body, etag, epoch, generation, ? FROM payload WHERE id = 1",
            (time.time(),),
        )


class PayloadStore:
    """Reads and writes the held payload and the applied version."""

    def __init__(self, db: StateDB) -> None:
        self._db = db
        self._import_legacy(db.path.parent)

    def load(self) -> HeldPayload | None:
        """The stored payload, if it still parses (else ``None``, with a warning)."""
        rows = self._db.query("SELECT body, etag FROM payload WHERE id = 1")
        if not rows:
            return None
        body, etag = bytes(rows[0][0]), str(rows[0][1])
        try:
            return HeldPayload(document=parse_payload(body), body=body, etag=etag)
        except ContractError as exc:
            _log.warning(
                "the stored payload no longer parses; waiting for Starbase", extra={"error": str(exc)}
            )
            return None

    def save(self, held: HeldPayload) -> None:
        """Replace the stored payload (atomically: the old one stays until the commit), keeping
        the replaced one for the open intents made for it (:meth:`for_intents`)."""
        with self._db.transaction() as conn:
            _keep_for_intents(conn, replaced_by=held.version)
            conn.execute(
                "INSERT OR REPLACE INTO payload (id, body, etag, epoch, generation, stored_at)"
                " VALUES (1, ?, ?, ?, ?, ?)",
                (held.body, held.etag, held.version[0], held.version[1], time.time()),
            )

    def for_intents(self, version: Version) -> HeldPayload | None:
        """The payload of ``version`` that open intents were made for: the held one or the one it
        replaced (``None`` when neither is of that version, or it no longer parses)."""
        for table in ("payload", "intent_payload"):
            rows = self._db.query(
                f"SELECT body, etag FROM {table} WHERE epoch = ? AND generation = ?",  # noqa: S608 - fixed names
                version,
            )
            if rows:
                body = bytes(rows[0][0])
                try:
                    return HeldPayload(document=parse_payload(body), body=body, etag=str(rows[0][1]))
                except ContractError:
                    return None
        return None

    def forget_intent_payload(self) -> None:
        """Drop the replaced payload kept for intents (once they are all settled)."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM intent_payload")

    def applied(self) -> Version | None:
        """The version last applied in full."""
        rows = self._db.query("SELECT epoch, generation FROM applied WHERE id = 1")
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    @staticmethod
    def write_applied(conn: sqlite3.Connection, version: Version) -> None:
        """Record ``version`` as applied in full, inside a transaction of the state database."""
        conn.execute(
            "INSERT OR REPLACE INTO applied (id, epoch, generation, applied_at) VALUES (1, ?, ?, ?)",
            (version[0], version[1], time.time()),
        )

    def _import_legacy(self, directory: Path) -> None:
        body_file, meta_file = directory / "payload.json", directory / "payload.meta.json"
        if self._db.query("SELECT 1 FROM payload") or not (body_file.exists() and meta_file.exists()):
            return
        try:
            body = body_file.read_bytes()
            etag = str(json.loads(meta_file.read_text()).get("etag", ""))
            held = HeldPayload(document=parse_payload(body), body=body, etag=etag)
        except (OSError, ValueError, AttributeError, ContractError):
            return
        self.save(held)
        _log.info(
            "imported the last good payload of an older state directory", extra={"path": str(body_file)}
        )
