"""Reusing the projects and services of the last payload parsed, when their JSON is unchanged,
and one value for each small part a payload repeats.

Consecutive payloads of a cluster differ in a few services: a deploy changes one release, a var
group edit touches one project. :class:`PayloadReuse` remembers the :class:`Project` and
:class:`Service` values the last successful parse built, each keyed by the SHA-256 of its JSON
tree, and hands the same frozen value back when the next payload holds exactly that JSON. A
project whose JSON is unchanged is reused whole (its services with it); in a changed project,
every unchanged service is reused and the project itself (its environments, var groups and
cross-service rules) is built afresh; the document's own rules run on every parse.

Within one parse, the small parts a payload repeats by the thousand (resources, probes, drift
policies, var group attachments, environments: the types in the codec's ``INTERNED``) are
structured once per distinct JSON and the same frozen value shared (:func:`interned`), whether or
not anything is remembered across parses (:func:`interning`).

The key is the tree's ``marshal`` serialisation (format 2, which writes no back-references: the
bytes depend on the values alone, in the order the text had them), which tells apart every value
JSON can hold: ``1``, ``1.0`` and ``true``, ``"1"`` and ``1``, keys in another order. Only data
read by the strict JSON reader is keyed (plain dicts, lists, strings, numbers, booleans and
``None``); anything else is structured afresh. What is remembered is exactly the projects and
services of the last successful parse (a failed parse leaves it as it was), so memory is bounded
by one payload.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final, TypeVar

import attrs

from starform_core.model.project import Project
from starform_core.model.service import Service

__all__ = ["PayloadReuse", "interned", "interning", "reused_project", "reused_service"]

_MARSHAL_FORMAT: Final = 2
"""``marshal`` format 2: no references between equal objects, so the bytes are the value's alone."""

T = TypeVar("T")
_Members = tuple[tuple[bytes, Service], ...]


@attrs.define
class _Round:
    """One parse: what the last one built, what this one has built so far."""

    last_services: dict[bytes, Service]
    last_projects: dict[bytes, tuple[Project, _Members]]
    remember: bool = True
    services: dict[bytes, Service] = attrs.field(factory=dict)
    projects: dict[bytes, tuple[Project, _Members]] = attrs.field(factory=dict)
    members: list[tuple[bytes, Service]] | None = None
    values: dict[tuple[type, bytes], Any] = attrs.field(factory=dict)


_ACTIVE: ContextVar[_Round | None] = ContextVar("starform_payload_reuse", default=None)


class PayloadReuse:
    """The projects and services of the last payload parsed through :meth:`structure`, by JSON digest."""

    def __init__(self) -> None:
        self._services: dict[bytes, Service] = {}
        self._projects: dict[bytes, tuple[Project, _Members]] = {}

    def structure(self, build: Callable[[], T]) -> T:
        """``build()``, with every project and service it structures from unchanged JSON taken from
        the last successful call; on success, what it built becomes what is remembered."""
        round_ = _Round(last_services=self._services, last_projects=self._projects)
        result = _within(round_, build)
        self._services, self._projects = round_.services, round_.projects
        return result

    def forget(self) -> None:
        """Remember nothing: the next parse structures everything."""
        self._services, self._projects = {}, {}

    def __len__(self) -> int:
        """How many services are remembered."""
        return len(self._services)


def _within(round_: _Round, build: Callable[[], T]) -> T:
    token = _ACTIVE.set(round_)
    try:
        return build()
    finally:
        _ACTIVE.reset(token)


def interning(build: Callable[[], T]) -> T:
    """``build()``, sharing one value for each distinct JSON of the small parts it structures
    (:func:`interned`), remembering nothing afterwards."""
    return _within(_Round(last_services={}, last_projects={}, remember=False), build)


def interned(kind: type[T], data: Any, structure: Callable[[Any, type[T]], T]) -> T:
    """The ``kind`` value ``data`` describes: the one this parse already built from exactly this
    JSON when a parse is active, else ``structure(data, kind)``."""
    round_ = _ACTIVE.get()
    if round_ is None or type(data) is not dict:
        return structure(data, kind)
    try:
        key = (kind, marshal.dumps(data, _MARSHAL_FORMAT))
    except ValueError:  # not plain data: structured as it is
        return structure(data, kind)
    value: T | None = round_.values.get(key)
    if value is None:
        value = round_.values[key] = structure(data, kind)
    return value


def _remembering(data: Any) -> tuple[_Round, bytes] | None:
    """The active round that remembers, and the digest of ``data``'s plain JSON tree; ``None``
    when nothing is remembered or ``data`` is not plain JSON."""
    round_ = _ACTIVE.get()
    if round_ is None or not round_.remember or type(data) is not dict:
        return None
    try:
        return round_, hashlib.sha256(marshal.dumps(data, _MARSHAL_FORMAT)).digest()
    except ValueError:  # not plain data (a dict subclass, an object): nothing to reuse
        return None


def reused_service(data: Any, structure: Callable[[Any], Service]) -> Service:
    """The service ``data`` describes: the remembered one when a :meth:`PayloadReuse.structure`
    call is active and knows this exact JSON, else ``structure(data)``."""
    active = _remembering(data)
    if active is None:
        return structure(data)
    round_, key = active
    service = round_.last_services.get(key)
    if service is None:
        service = structure(data)
    round_.services[key] = service
    if round_.members is not None:
        round_.members.append((key, service))
    return service


def reused_project(data: Any, structure: Callable[[Any], Project]) -> Project:
    """The project ``data`` describes: the remembered one (with its services) when a
    :meth:`PayloadReuse.structure` call is active and knows this exact JSON, else
    ``structure(data)``, reusing its unchanged services."""
    active = _remembering(data)
    if active is None:
        return structure(data)
    round_, key = active
    found = round_.last_projects.get(key)
    if found is None:
        outer, round_.members = round_.members, []
        try:
            project = structure(data)
            found = (project, tuple(round_.members))
        finally:
            round_.members = outer
    round_.projects[key] = found
    round_.services.update(found[1])
    return found[0]
