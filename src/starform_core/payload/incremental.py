"""One cluster's payload rebuilt incrementally: unchanged services are neither built nor serialised.

Canonical JSON (RFC 8785) composes: an object is its members' canonical bytes in key order, a
list its items' bytes in order. So the bytes of a document are assembled from the cached
canonical fragment of each service (keyed by the very :class:`~starform_core.model.service.Service`
object the memoised build returned for unchanged rows) and the small rest (cluster settings,
projects' environments and var groups), serialised afresh each time. The result is byte for byte
``to_json(build_payload(rows, checksum_key=...))`` (a property test holds it to that).
"""

from __future__ import annotations

import attrs
import rfc8785

from starform_core.model.service import Service
from starform_core.payload.build import ServiceMemo, build_payload
from starform_core.payload.codec import to_structure_with_secrets
from starform_core.payload.document import DesiredState
from starform_core.payload.rows import ClusterRows, RowMemo

__all__ = ["IncrementalPayload"]


def _object(members: dict[str, bytes]) -> bytes:
    """A canonical JSON object from its members' canonical bytes (keys in UTF-16 order)."""
    ordered = sorted(members.items(), key=lambda item: item[0].encode("utf-16be"))
    return b"{" + b",".join(rfc8785.dumps(key) + b":" + value for key, value in ordered) + b"}"


def _list(items: list[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


class IncrementalPayload:
    """Builds one cluster's served bytes, reusing what did not change since the previous build.

    Holds the previous build's services and their fragments (secret values included: the
    fragments are the served bytes; never log them). Not thread-safe: one build at a time.
    """

    def __init__(self) -> None:
        self.row_memo: RowMemo = {}
        """For the reader of the cluster's rows (``DesiredStateReader.cluster_rows(memo=...)``):
        unchanged records come back as the same row objects, so their services are reused."""
        self._memo: ServiceMemo = {}
        self._fragments: dict[str, tuple[Service, bytes]] = {}

    @property
    def fragments(self) -> int:
        """How many service fragments are held."""
        return len(self._fragments)

    def build(self, rows: ClusterRows, *, checksum_key: bytes) -> tuple[DesiredState, bytes]:
        """The document of ``rows`` and its canonical bytes (what ``to_json`` would give)."""
        document = build_payload(rows, checksum_key=checksum_key, memo=self._memo)
        return document, self.serialise(document)

    def serialise(self, document: DesiredState) -> bytes:
        """``to_json(document)``, serialising only the services not serialised last time."""
        previous = self._fragments

        def known(service: Service) -> bool:
            hit = previous.get(service.service_id)
            return hit is not None and hit[0] is service

        # one unstructuring of the document with only its new services (and no others)
        partial = attrs.evolve(
            document,
            projects=tuple(
                attrs.evolve(p, services=tuple(s for s in p.services if not known(s)))
                for p in document.projects
            ),
        )
        data = to_structure_with_secrets(partial)
        fragments: dict[str, tuple[Service, bytes]] = {}
        projects = []
        for project, project_data in zip(document.projects, data.pop("projects"), strict=True):
            new = iter(project_data.pop("services"))
            items = []
            for service in project.services:
                fragment = previous[service.service_id][1] if known(service) else rfc8785.dumps(next(new))
                fragments[service.service_id] = (service, fragment)
                items.append(fragment)
            members = {key: rfc8785.dumps(value) for key, value in project_data.items()}
            projects.append(_object({**members, "services": _list(items)}))
        self._fragments = fragments
        return _object(
            {**{key: rfc8785.dumps(value) for key, value in data.items()}, "projects": _list(projects)}
        )
