"""PersistentVolumeClaims: one per service volume, kept while the volume is in the payload.

A claim is rendered whatever the service's state (paused, never deployed, changed), so it is
removed only when its volume or its service leaves the payload. Claims carry
``starform.io/prune-protection: volume`` so the planner can hold their deletion.
"""

from __future__ import annotations

from typing import Any

from starform_core.kube import labels as kl
from starform_core.model.workload import Volume
from starform_core.render.metadata import metadata, service_labels, source_annotations
from starform_core.render.scopes import ServiceScope

__all__ = ["persistent_volume_claim"]


def persistent_volume_claim(scope: ServiceScope, volume: Volume) -> dict[str, Any]:
    """The claim backing ``volume``, on the cluster's storage class."""
    labels = service_labels(scope)
    labels[kl.LABEL_VOLUME_NAME] = volume.name
    annotations = source_annotations(scope.cluster.cluster_id)
    annotations[kl.ANNOTATION_PRUNE_PROTECTION] = kl.PRUNE_PROTECTION_VOLUME
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(
            name=scope.names.claim(volume.name),
            namespace=scope.namespace,
            labels=labels,
            annotations=annotations,
        ),
        "spec": {
            "accessModes": [volume.access_mode.value],
            "resources": {"requests": {"storage": volume.size}},
            "storageClassName": scope.cluster.storage_class,
            "volumeMode": "Filesystem",
        },
    }
