"""Starbase, the control plane: HTTP API, composition root and command line."""

from starform_apps.starbase.app import create_app
from starform_apps.starbase.config import StarbaseConfig
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.server import ServerThread, Starbase, open_starbase

__all__ = ["Metrics", "ServerThread", "Starbase", "StarbaseConfig", "create_app", "open_starbase"]
