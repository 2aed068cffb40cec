"""Starform applications: the Starbase server, the Shuttle agent and the command lines."""
