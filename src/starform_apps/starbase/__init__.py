"""Starbase, the control plane: HTTP API, composition root and command line.

The names below load on first use, so ``starbase token create`` (which needs no web framework)
starts quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starform_apps.starbase.app import create_app
    from starform_apps.starbase.config import StarbaseConfig
    from starform_apps.starbase.metrics import Metrics
    from starform_apps.starbase.server import ServerThread, Starbase, open_starbase

__all__ = ["Metrics", "ServerThread", "Starbase", "StarbaseConfig", "create_app", "open_starbase"]

_HOMES = {
    "Metrics": "starform_apps.starbase.metrics",
    "ServerThread": "starform_apps.starbase.server",
    "Starbase": "starform_apps.starbase.server",
    "StarbaseConfig": "starform_apps.starbase.config",
    "create_app": "starform_apps.starbase.app",
    "open_starbase": "starform_apps.starbase.server",
}


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
