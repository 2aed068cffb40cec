"""Shuttle, the in-cluster agent: pull, render, plan, apply, report."""

from starform_apps.shuttle.app import Shuttle, build_shuttle
from starform_apps.shuttle.config import ShuttleConfig

__all__ = ["Shuttle", "ShuttleConfig", "build_shuttle"]
