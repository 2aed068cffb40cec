"""The cluster port: what Shuttle needs from a Kubernetes cluster."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from starform_core.kube.objects import KubeObject, ObjectKey

__all__ = ["ClusterPort"]


class ClusterPort(Protocol):
    """Read live objects (from a watch cache), apply, strip fields, delete.

    Implementations translate every foreign error into :class:`~starform_core.errors.ClusterApiError`
    and its subclasses (``status`` ``0`` when no answer arrived: the outcome is unknown). A write's
    ``request_id`` travels as the request's ``Audit-ID``, so the API server's audit log and the
    event Shuttle reports name the same id.
    """

    def live_objects(self) -> Sequence[KubeObject]:
        """Every live object Shuttle owns, of the kinds it manages (a cached view; no API call)."""
        ...

    def health_objects(self) -> Sequence[KubeObject]:
        """Live objects read only to assess health (pods, jobs)."""
        ...

    def relist(self) -> None:
        """Read every live owned object from the API now, so :meth:`live_objects` shows what the
        API server holds rather than a cached view that may have missed a change (a LIST per
        kind: a reconcile Starbase asked for)."""
        ...

    def revision(self) -> int:
        """A number that changes whenever any object behind :meth:`live_objects` or
        :meth:`health_objects` changes (no API call). Equal revisions mean an unchanged view."""
        ...

    def get(self, key: ObjectKey) -> KubeObject | None:
        """Read one object from the API (``None`` when it does not exist)."""
        ...

    def apply(self, body: Mapping[str, Any], *, force: bool, request_id: str | None = None) -> KubeObject:
        """Server-side apply ``body`` with Shuttle's field manager; returns the live object."""
        ...

    def remove_fields(
        self,
        key: ObjectKey,
        paths: Sequence[str],
        *,
        guards: Sequence[tuple[str, Any]] = (),
        request_id: str | None = None,
    ) -> KubeObject:
        """Remove the fields at ``paths`` (JSON pointers, removed in the order given) that other
        managers added, provided every ``(pointer, value)`` guard still holds (else a conflict)."""
        ...

    def delete(self, key: ObjectKey, *, uid: str | None = None, request_id: str | None = None) -> None:
        """Delete an object (background propagation; ``uid`` as a precondition when given)."""
        ...

    def supports(self, key: ObjectKey) -> bool:
        """False when the kind is not served (a missing CRD, such as the Gateway API)."""
        ...
