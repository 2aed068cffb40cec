"""The claim watch port: every change to the PersistentVolumeClaims Shuttle's services own.

Sized by role, as the pod watch (:mod:`starform_core.ports.pods`): billing needs the stream of
claim changes (when a claim bound, changed size, was lost or went away), not the cluster's
writes. Implemented by the Kubernetes adapter over the watch cache of the kinds Shuttle manages
(claims are among them, so the watch costs nothing extra) and by the in-memory cluster double.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from starform_core.kube.objects import KubeObject

__all__ = ["ClaimListener", "ClaimWatch"]

ClaimListener = Callable[[str, KubeObject], None]
"""Called with (``ADDED`` | ``MODIFIED`` | ``DELETED``, the claim) for each change."""


class ClaimWatch(Protocol):
    """Changes to the PersistentVolumeClaims carrying Shuttle's ownership label."""

    def watch_claims(self, listener: ClaimListener) -> Callable[[], None]:
        """Deliver every claim already known (as ``ADDED``) and then every change, in order, to
        ``listener`` until the returned function is called. After a relist the claims that
        vanished arrive as ``DELETED`` (their last known state) and the changed ones as
        ``MODIFIED``; an event may be delivered twice, never lost while the watch runs."""
        ...
