"""The desired hash: how Shuttle tells a changed desire from drift.

Shuttle stamps every object it applies with ``starform.io/desired-hash``: the SHA-256 of the
object's canonical JSON (sorted keys, no insignificant whitespace, UTF-8), computed without that
annotation. A live hash that differs from the desired one means the desire changed; an equal hash
means any difference is drift. The hash of a Secret covers its values, but it is stored only on
that Secret, where whoever can read the annotation can read the data too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from starform_core.kube.labels import ANNOTATION_DESIRED_HASH
from starform_core.kube.objects import KubeObject

__all__ = ["HASH_PREFIX", "desired_hash", "live_hash", "without_hash"]

HASH_PREFIX = "sha256:"
"""Prefix of every desired-hash value (the algorithm is part of the value)."""


def without_hash(obj: KubeObject) -> KubeObject:
    """``obj`` without the desired-hash annotation (shallow copies only where needed)."""
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    if ANNOTATION_DESIRED_HASH not in annotations:
        return obj
    rest = {k: v for k, v in annotations.items() if k != ANNOTATION_DESIRED_HASH}
    new_meta: dict[str, Any] = dict(metadata)
    if rest:
        new_meta["annotations"] = rest
    else:
        del new_meta["annotations"]
    copy = dict(obj)
    copy["metadata"] = new_meta
    return copy


def desired_hash(obj: KubeObject) -> str:
    """``sha256:<hex>`` of ``obj``'s canonical JSON, ignoring any desired-hash annotation."""
    canonical = json.dumps(without_hash(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return HASH_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()


def live_hash(obj: Mapping[str, Any]) -> str | None:
    """The desired-hash annotation of a live object, if it carries one."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(ANNOTATION_DESIRED_HASH)
    return value if isinstance(value, str) else None
