"""The container images a workload runs, read from its live pod template: container name → image.

A Deployment, StatefulSet, DaemonSet or Job keeps its pod template at ``spec.template``, a
CronJob at ``spec.jobTemplate.spec.template``. Only ``containers`` are read (init containers do
not run the service). Bounded, so an agent's report stays small and Starbase can check it:
at most :data:`IMAGES_MAX` containers, names of at most :data:`CONTAINER_NAME_MAX` characters,
references cut to :data:`IMAGE_MAX` characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from starform_core.kube.objects import KubeObject

__all__ = [
    "CONTAINER_NAME_MAX",
    "IMAGES_MAX",
    "IMAGE_MAX",
    "container_images",
    "image_problem",
]

IMAGES_MAX: Final = 8
"""Containers listed per workload (the rest are left out)."""

IMAGE_MAX: Final = 512
"""Characters kept of one image reference (a longer one is cut)."""

CONTAINER_NAME_MAX: Final = 63
"""A container name is an RFC 1123 label."""

_POD_TEMPLATE_KINDS: Final = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job"})
_CONTAINER_NAME: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_IMAGE: Final = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no space


def _mapping(value: object, key: str) -> Mapping[str, Any]:
    found = value.get(key) if isinstance(value, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _pod_spec(obj: KubeObject) -> Mapping[str, Any]:
    spec = _mapping(obj, "spec")
    if obj.get("kind") == "CronJob":
        spec = _mapping(_mapping(spec, "jobTemplate"), "spec")
    elif obj.get("kind") not in _POD_TEMPLATE_KINDS:
        return {}
    return _mapping(_mapping(spec, "template"), "spec")


def container_images(obj: KubeObject) -> dict[str, str]:
    """The images of the workload's containers by name (empty for an object without a pod
    template); containers without a valid name or an image are left out."""
    containers = _pod_spec(obj).get("containers")
    if not isinstance(containers, list):
        return {}
    images: dict[str, str] = {}
    for container in containers:
        if len(images) == IMAGES_MAX:
            break
        if not isinstance(container, Mapping):
            continue
        name, image = container.get("name"), container.get("image")
        if not isinstance(name, str) or not isinstance(image, str) or image_problem(name, image[:IMAGE_MAX]):
            continue
        images[name] = image[:IMAGE_MAX]
    return images


def image_problem(name: object, image: object) -> str | None:
    """Why ``name: image`` is not one entry of an observed ``images`` map (``None``: it is)."""
    if not isinstance(name, str) or len(name) > CONTAINER_NAME_MAX or not _CONTAINER_NAME.fullmatch(name):
        return f"container names are RFC 1123 labels of at most {CONTAINER_NAME_MAX} characters"
    if not isinstance(image, str) or len(image) > IMAGE_MAX or not _IMAGE.fullmatch(image):
        return (
            f"the image of container {name} must be printable text without spaces, "
            f"1 to {IMAGE_MAX} characters"
        )
    return None
