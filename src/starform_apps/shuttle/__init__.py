"""Shuttle, the in-cluster agent: pull, plan, execute, report.

The names below load on first use, so ``shuttle --help`` does not import the Kubernetes client.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starform_apps.shuttle.app import Shuttle, WatchedCluster, bootstrap, build_shuttle, connect
    from starform_apps.shuttle.config import ShuttleConfig

__all__ = ["Shuttle", "ShuttleConfig", "WatchedCluster", "bootstrap", "build_shuttle", "connect"]

_HOME = dict.fromkeys(__all__, "starform_apps.shuttle.app")
_HOME["ShuttleConfig"] = "starform_apps.shuttle.config"


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOME[name]), name)
