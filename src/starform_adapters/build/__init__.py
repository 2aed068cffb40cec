"""The build port: its HTTP client (the build service is external: Railpack on Depot) and the
shipped double, which the test kit also serves over HTTP."""

from .http import HttpBuildService
from .simulated import BuildScript, Outcome, SimulatedBuildService
from .wire import decode, encode

__all__ = ["BuildScript", "HttpBuildService", "Outcome", "SimulatedBuildService", "decode", "encode"]
