"""The image registry port's adapter (the OCI distribution API over httpx), its in-memory
double, a writer to push images, and small real OCI images (what the build double pushes).

A real Distribution registry process for tests is test kit: :mod:`starform_testkit.distribution`.
"""

from .client import DistributionRegistry
from .memory import InMemoryRegistry, InMemoryRegistryClient
from .metrics import RegistryMetrics
from .oci_image import BuiltImage, BuiltIndex, ImageFile, ImageSpec, build_image, build_index, push_image
from .retry import RetryPolicy
from .session import RegistrySession
from .writer import DistributionWriter, ImageWriter

__all__ = [
    "BuiltImage",
    "BuiltIndex",
    "DistributionRegistry",
    "DistributionWriter",
    "ImageFile",
    "ImageSpec",
    "ImageWriter",
    "InMemoryRegistry",
    "InMemoryRegistryClient",
    "RegistryMetrics",
    "RegistrySession",
    "RetryPolicy",
    "build_image",
    "build_index",
    "push_image",
]
