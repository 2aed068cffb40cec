"""Starbase configuration: environment variables, overridable from the command line."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping

import attrs

__all__ = ["DEFAULT_DATA_DIR", "StarbaseConfig"]

DEFAULT_DATA_DIR = pathlib.Path("~/.starform/starbase")
"""Where ``starbase serve`` keeps its embedded PostgreSQL and generated key by default."""


@attrs.frozen(repr=False)
class StarbaseConfig:
    """Everything Starbase needs to start; the encryption key is never printed.

    ``database_url`` ``None`` means "use the embedded PostgreSQL in ``data_dir``".
    """

    database_url: str | None = None
    encryption_key: str | None = None
    encryption_key_id: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: pathlib.Path = DEFAULT_DATA_DIR
    pool_max_size: int = 20
    log_level: str = "info"
    payload_cache_mb: int = 256

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> StarbaseConfig:
        """Read ``DATABASE_URL``, ``ENCRYPTION_KEY``, ``ENCRYPTION_KEY_ID``,
        ``STARBASE_DATA_DIR``, ``STARBASE_POOL_MAX_SIZE``, ``STARBASE_LOG_LEVEL``,
        ``STARBASE_PAYLOAD_CACHE_MB``; ``overrides``
        (non-``None`` values only) win."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "database_url": env.get("DATABASE_URL") or None,
            "encryption_key": env.get("ENCRYPTION_KEY") or None,
            "encryption_key_id": env.get("ENCRYPTION_KEY_ID") or None,
            "data_dir": pathlib.Path(env.get("STARBASE_DATA_DIR", str(DEFAULT_DATA_DIR))),
            "pool_max_size": int(env.get("STARBASE_POOL_MAX_SIZE", "20")),
            "log_level": env.get("STARBASE_LOG_LEVEL", "info"),
            "payload_cache_mb": int(env.get("STARBASE_PAYLOAD_CACHE_MB", "256")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (
            f"StarbaseConfig(database_url={'<set>' if self.database_url else None}, "
            f"encryption_key={'<set>' if self.encryption_key else None}, host={self.host!r}, "
            f"port={self.port}, data_dir={str(self.data_dir)!r})"
        )
