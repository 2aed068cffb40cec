"""Shuttle's logs: every logger (libraries included) through one handler, JSON or text.

Shuttle's own lines are a short message plus fields (``extra=``), never Python reprs; the
JSON form puts the fields beside ``event`` (the message), ``level``, ``logger`` and
``timestamp``. :func:`log_reconcile` writes the one line per reconcile an operator reads.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any, Final, TextIO

import structlog

from starform_apps.shuttle.config import LOG_FORMATS
from starform_core.reporting import ApplyOutcome

if TYPE_CHECKING:
    from starform_apps.shuttle.reconciler import ReconcileResult

__all__ = ["LOG_FORMATS", "configure_logging", "log_reconcile"]

_log = logging.getLogger("starform.shuttle")

_LEVEL_OF: Final = {
    ApplyOutcome.APPLIED: logging.INFO,
    ApplyOutcome.HELD: logging.WARNING,
    ApplyOutcome.PARTIAL: logging.WARNING,
    ApplyOutcome.FAILED: logging.ERROR,
}
_QUIET: Final = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "kubernetes": logging.WARNING,
    "urllib3": logging.ERROR,
}
"""Libraries whose lines would drown Shuttle's own: one per request, and urllib3's retry warnings
(Python reprs; every attempt is counted in ``shuttle_kube_api_requests_total``, and a request
that fails in the end is Shuttle's own warning)."""


def configure_logging(level: str = "info", *, fmt: str = "json", stream: TextIO | None = None) -> None:
    """Route every logger to ``stream`` (stderr) at ``level``, as JSON lines or as text."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name, floor in _QUIET.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
    logging.captureWarnings(True)


def _by_kind(result: ReconcileResult) -> dict[str, dict[str, int]]:
    report = result.report
    return {kind: dict(counts) for kind, counts in report.by_kind.items()} if report else {}


def log_reconcile(result: ReconcileResult) -> None:
    """The line of one reconcile: outcome, version, whether the payload is current, counts."""
    pulled = result.pulled
    fields: dict[str, Any] = {
        "outcome": result.outcome,
        "starbase": "reachable" if pulled.source_ok else "unreachable",
        "seconds": round(result.seconds, 3),
    }
    if result.report is None:
        fields["reason"] = pulled.error or "no payload received yet"
        _log.error("reconcile: nothing to apply", extra=fields)
        return
    report = result.report
    fields.update(
        epoch=report.epoch,
        generation=report.generation,
        applied_generation=result.applied_generation,
        payload="current" if pulled.source_ok else "last-good (Starbase unreachable; may be outdated)",
        actions={k: v for k, v in report.counts.items() if v},
        by_kind=_by_kind(result),
    )
    if report.reasons:
        fields["reasons"] = dict(Counter(report.reasons))
    if pulled.error:
        fields["pull"] = pulled.error
    _log.log(_LEVEL_OF[report.outcome], "reconciled", extra=fields)
