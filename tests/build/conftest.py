"""Build fixtures: the simulated build service pushing to a real registry and to the double."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import attrs
import pytest
from tests.registry.kit.backends import Backend, Reader, memory_backend
from tests.registry.kit.faults import Fault, FaultyTransport
from tests.registry.kit.fixtures import distribution_open  # noqa: F401 - fixture

from starform_adapters.build import HttpBuildService, SimulatedBuildService
from starform_adapters.registry import DistributionWriter, ImageWriter, RegistrySession, RetryPolicy
from starform_core.errors import RegistryUnavailableError
from starform_testkit.build_server import BuildServer, OverHttp


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 4, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


@attrs.define
class BuildRig:
    """A build service, its clock, the registry it pushes to (and reads from), and a switch that
    makes every push fail as an unavailable registry would."""

    service: SimulatedBuildService
    clock: ManualClock
    registry: Backend
    reader: Reader
    break_pushes: Callable[[], None]
    writer: ImageWriter


def _memory_rig(clock: ManualClock) -> BuildRig:
    backend = memory_backend(secured=False)
    reader, writer = backend.client()
    memory = backend.memory
    assert memory is not None

    def break_pushes() -> None:
        error = RegistryUnavailableError("registry.test: 503 Service Unavailable", reference=backend.host)
        memory.fail_next(error, times=1000, operations={"put_blob", "put_manifest"})

    return BuildRig(SimulatedBuildService(writer, clock=clock), clock, backend, reader, break_pushes, writer)


@pytest.fixture(params=["distribution", "memory", "http"])
def rig(request: pytest.FixtureRequest) -> Iterator[BuildRig]:
    """The build double pushing to each registry backend in turn, and served over HTTP."""
    clock = ManualClock()
    if request.param == "memory":
        yield _memory_rig(clock)
        return
    if request.param == "http":
        memory = _memory_rig(clock)
        with BuildServer(memory.service) as server:
            client = HttpBuildService(server.url, server.token)
            yield attrs.evolve(memory, service=OverHttp(memory.service, client))
            client.close()
        return
    backend: Backend = request.getfixturevalue("distribution_open")
    reader, _ = backend.client()
    transport = FaultyTransport()
    session = RegistrySession(
        endpoints={backend.host: f"http://{backend.host}"},
        transport=transport,
        retry=RetryPolicy(attempts=2, sleep=lambda _seconds: None),
    )

    def break_pushes() -> None:
        transport.add(Fault(lambda r: r.method in ("HEAD", "POST", "PUT"), times=1000, status=503))

    writer = DistributionWriter(session)
    yield BuildRig(SimulatedBuildService(writer, clock=clock), clock, backend, reader, break_pushes, writer)
    session.close()
