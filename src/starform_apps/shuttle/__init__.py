"""Shuttle, the in-cluster agent: pull, plan, execute, report."""

from starform_apps.shuttle.app import Shuttle, WatchedCluster, bootstrap, build_shuttle, connect
from starform_apps.shuttle.config import ShuttleConfig

__all__ = ["Shuttle", "ShuttleConfig", "WatchedCluster", "bootstrap", "build_shuttle", "connect"]
