"""Starbase, seen from Shuttle: the HTTP client of the agent API."""

from starform_adapters.starbase.client import StarbaseClient
from starform_adapters.starbase.memory import InMemorySource

__all__ = ["InMemorySource", "StarbaseClient"]
