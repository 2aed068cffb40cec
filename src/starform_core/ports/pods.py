"""The pod watch port: every change to the pods Shuttle's services run, as it happens.

Sized by role: billing needs the stream of pod changes (when a pod started, stopped or went
away), not the cluster's writes. Implemented by the Kubernetes adapter over its pod watch
(list, then watch from the list's ``resourceVersion`` with bookmarks; a ``410 Gone`` relists
and delivers what changed meanwhile) and by the in-memory cluster double.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from starform_core.kube.objects import KubeObject

__all__ = ["PodListener", "PodWatch"]

PodListener = Callable[[str, KubeObject], None]
"""Called with (``ADDED`` | ``MODIFIED`` | ``DELETED``, the pod) for each change."""


class PodWatch(Protocol):
    """Changes to the pods carrying Shuttle's ownership label."""

    def watch_pods(self, listener: PodListener) -> Callable[[], None]:
        """Deliver every pod already known (as ``ADDED``) and then every change, in order, to
        ``listener`` until the returned function is called. After a relist the pods that
        vanished arrive as ``DELETED`` (their last known state) and the changed ones as
        ``MODIFIED``; an event may be delivered twice, never lost while the watch runs."""
        ...
