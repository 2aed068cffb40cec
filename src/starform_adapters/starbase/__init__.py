"""Starbase, seen from Shuttle: the HTTP client of the agent API."""

from starform_adapters.starbase.client import StarbaseClient

__all__ = ["StarbaseClient"]
