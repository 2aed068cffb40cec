"""Shuttle's small durable state: the last good payload and the generation it applied.

Kept on disk (a PersistentVolume in the cluster) so that a restart while Starbase is down still
enforces the last good desired state. Writes are atomic (temporary file, fsync, rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import attrs

__all__ = ["LastGood", "StateDir"]


@attrs.frozen
class LastGood:
    """The last payload that parsed and was accepted, with its ETag."""

    body: bytes = attrs.field(repr=False)
    etag: str


class StateDir:
    """A directory holding ``payload.json`` (0600: it carries secrets) and ``applied.json``."""

    def __init__(self, path: Path) -> None:
        self._path = path
        path.mkdir(parents=True, exist_ok=True, mode=0o700)

    @property
    def path(self) -> Path:
        """The directory."""
        return self._path

    def _write(self, name: str, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self._path, prefix=f".{name}.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_last_good(self) -> LastGood | None:
        """The stored payload, if any."""
        try:
            meta = json.loads((self._path / "payload.meta.json").read_text())
            body = (self._path / "payload.json").read_bytes()
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict):
            return None
        return LastGood(body=body, etag=str(meta.get("etag", "")))

    def save_last_good(self, good: LastGood) -> None:
        """Store a payload atomically (body first, then its metadata)."""
        self._write("payload.json", good.body)
        self._write("payload.meta.json", json.dumps({"etag": good.etag}).encode())

    def load_applied_generation(self) -> int | None:
        """The generation last applied in full, if any."""
        try:
            data = json.loads((self._path / "applied.json").read_text())
        except (OSError, ValueError):
            return None
        value = data.get("generation") if isinstance(data, dict) else None
        return int(value) if isinstance(value, int) else None

    def save_applied_generation(self, generation: int) -> None:
        """Remember the generation applied in full."""
        self._write("applied.json", json.dumps({"generation": generation}).encode())
