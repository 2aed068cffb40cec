"""Starbase configuration: environment variables, overridable from the command line."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping

import attrs

from starform_apps.starbase.quotas import DEFAULT_LIMITS, Quota, parse_rate
from starform_core.errors import ValidationError
from starform_core.ports.ratelimit import RateLimit

__all__ = ["DEFAULT_DATA_DIR", "StarbaseConfig", "env_whole_number", "parse_address"]

DEFAULT_DATA_DIR = pathlib.Path("~/.starform/starbase")
"""Where ``starbase serve`` keeps its embedded PostgreSQL and generated key by default."""

_RATE_VARIABLES = {
    Quota.USER: "STARBASE_RATE_LIMIT_USER",
    Quota.TOKEN: "STARBASE_RATE_LIMIT_TOKEN",
    Quota.AGENT: "STARBASE_RATE_LIMIT_AGENT",
    Quota.DEPLOY: "STARBASE_RATE_LIMIT_DEPLOY",
    Quota.WEBHOOK: "STARBASE_RATE_LIMIT_WEBHOOK",
    Quota.RECONCILE: "STARBASE_RATE_LIMIT_RECONCILE",
}


def env_whole_number(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    """The whole number in ``env[name]`` from ``low`` to ``high`` (``default`` when unset or blank)."""
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValidationError(name, f"must be a whole number from {low} to {high}")
    return int(text)


def _rates(env: Mapping[str, str]) -> dict[Quota, RateLimit]:
    rates = dict(DEFAULT_LIMITS)
    for quota, name in _RATE_VARIABLES.items():
        if env.get(name, "").strip():
            rates[quota] = parse_rate(name, env[name])
    return rates


def parse_address(setting: str, text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) as ``(host, port)``."""
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValidationError(setting, "must be HOST:PORT, for example 127.0.0.1:9464")
    return host.strip("[]"), int(port)


def _metrics_address(env: Mapping[str, str]) -> tuple[str, int] | None:
    text = env.get("STARBASE_METRICS_ADDRESS", "").strip()
    return parse_address("STARBASE_METRICS_ADDRESS", text) if text else None


@attrs.frozen(repr=False)
class StarbaseConfig:
    """Everything Starbase needs to start; the encryption key and the metrics token are never printed.

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
    rate_limit_storage: str = "memory://"
    rate_limits: dict[Quota, RateLimit] = attrs.field(factory=lambda: dict(DEFAULT_LIMITS))
    metrics_token: str | None = None
    metrics_address: tuple[str, int] | None = None
    workers: int = 1
    observed_stale_after: int = 600
    """Seconds after which an object the agent stopped reporting makes its service's status stale."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> StarbaseConfig:
        """Read the ``DATABASE_URL``, ``ENCRYPTION_KEY*`` and ``STARBASE_*`` variables (see
        docs/starbase.md); ``overrides`` (non-``None`` values only) win. A malformed value raises
        ``ValidationError`` naming the variable."""
        env = os.environ if env is None else env
        level = env.get("STARBASE_LOG_LEVEL", "info").strip().lower() or "info"
        if level not in ("debug", "info", "warning", "error"):
            raise ValidationError("STARBASE_LOG_LEVEL", "must be debug, info, warning or error")
        values: dict[str, object] = {
            "database_url": env.get("DATABASE_URL") or None,
            "encryption_key": env.get("ENCRYPTION_KEY") or None,
            "encryption_key_id": env.get("ENCRYPTION_KEY_ID") or None,
            "data_dir": pathlib.Path(env.get("STARBASE_DATA_DIR") or str(DEFAULT_DATA_DIR)),
            "pool_max_size": env_whole_number(env, "STARBASE_POOL_MAX_SIZE", 20, low=1, high=1000),
            "log_level": level,
            "payload_cache_mb": env_whole_number(
                env, "STARBASE_PAYLOAD_CACHE_MB", 256, low=0, high=1_000_000
            ),
            "rate_limit_storage": env.get("STARBASE_RATE_LIMIT_STORAGE", "").strip() or "memory://",
            "rate_limits": _rates(env),
            "metrics_token": env.get("STARBASE_METRICS_TOKEN") or None,
            "metrics_address": _metrics_address(env),
            "workers": env_whole_number(env, "STARBASE_WORKERS", 1, low=1, high=64),
            "observed_stale_after": env_whole_number(
                env, "STARBASE_OBSERVED_STALE_AFTER", 600, low=30, high=86_400 * 30
            ),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (
            f"StarbaseConfig(database_url={'<set>' if self.database_url else None}, "
            f"encryption_key={'<set>' if self.encryption_key else None}, host={self.host!r}, "
            f"port={self.port}, data_dir={str(self.data_dir)!r}, "
            f"metrics_token={'<set>' if self.metrics_token else None})"
        )
