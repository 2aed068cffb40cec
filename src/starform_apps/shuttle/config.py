"""Shuttle's configuration: flags, with environment variables as defaults."""

from __future__ import annotations

from pathlib import Path

import attrs

from starform_core.errors import ValidationError

__all__ = ["LOG_FORMATS", "ShuttleConfig"]

LOG_FORMATS = ("json", "text")
"""``--log-format`` choices: JSON lines (for log shippers) or text (for people)."""


@attrs.frozen
class ShuttleConfig:
    """Everything Shuttle needs to run; the token never prints."""

    starbase_url: str
    cluster_id: str
    token: str = attrs.field(repr=False)
    state_dir: Path
    kubeconfig: str | None = None
    interval: float = 30.0
    """Seconds between periodic reconciles (drift), and between polls when Starbase does not long-poll."""
    long_poll_wait: int = 30
    """``pull.long_poll_wait``: seconds Starbase may hold a pull until the payload changes (1-60;
    0 turns the long-poll off: every reconcile pulls once)."""
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    workers: int = 8
    qps: float = 50.0
    burst: int = 100
    resync_seconds: float = 600.0
    shutdown_timeout: float = 25.0
    """Seconds ``run`` takes at most to stop after SIGTERM (Kubernetes' grace period is 30 s)."""
    outbox_capacity: int = 50_000
    """Reports the outbox keeps at most (beyond, the oldest events are dropped and counted)."""
    usage_interval: float | None = 60.0
    """Seconds between usage snapshots for billing (at most 300; ``None``: none are made)."""

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.long_poll_wait <= 60:
            raise ValidationError(
                "long_poll_wait", f"must be 0 (off) or 1-60 seconds, not {self.long_poll_wait}"
            )
