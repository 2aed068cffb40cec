"""The build port's shipped double (the real build service, Railpack on Depot, is external)."""

from .simulated import BuildScript, Outcome, SimulatedBuildService

__all__ = ["BuildScript", "Outcome", "SimulatedBuildService"]
