"""The payload Shuttle holds (the last good one) and the version it applied in full, on disk.

Both live in the state database, so a restart while Starbase is down still enforces the last
accepted payload, and never goes back below what it held. A state directory of an older
Shuttle (``payload.json``, ``payload.meta.json``) is imported once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path

import attrs

from starform_apps.shuttle.statedb import StateDB
from starform_core.errors import ContractError
from starform_core.payload import DesiredState, parse_payload
from starform_core.reporting import Version

__all__ = ["HeldPayload", "PayloadStore"]

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
        """Replace the stored payload (atomically: the old one stays until the commit)."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO payload (id, body, etag, epoch, generation, stored_at)"
                " VALUES (1, ?, ?, ?, ?, ?)",
                (held.body, held.etag, held.version[0], held.version[1], time.time()),
            )

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
