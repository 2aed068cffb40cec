"""The associative lists of the Kubernetes objects Starform renders, and the keys of their items.

The planner matches list items by these keys (normalising, diffing, attributing drift) and the
live-object checks require them; both read them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["ASSOCIATIVE_KEYS"]

ASSOCIATIVE_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "resourceClaims": ("name",),
}
"""Merge keys of the associative lists (``ports`` is handled separately: port + protocol)."""
