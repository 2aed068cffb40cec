"""The image registry port's adapter (the OCI distribution API over httpx), its in-memory
double, a writer to push images, small real OCI images, and a local Distribution registry."""

from .client import DistributionRegistry
from .local import DEBIAN_PACKAGE, LocalDistribution, RegistryStartError
from .memory import InMemoryRegistry, InMemoryRegistryClient
from .metrics import RegistryMetrics
from .oci_image import BuiltImage, BuiltIndex, ImageFile, ImageSpec, build_image, build_index, push_image
from .retry import RetryPolicy
from .session import RegistrySession
from .writer import DistributionWriter, ImageWriter

__all__ = [
    "DEBIAN_PACKAGE",
    "BuiltImage",
    "BuiltIndex",
    "DistributionRegistry",
    "DistributionWriter",
    "ImageFile",
    "ImageSpec",
    "ImageWriter",
    "InMemoryRegistry",
    "InMemoryRegistryClient",
    "LocalDistribution",
    "RegistryMetrics",
    "RegistrySession",
    "RegistryStartError",
    "RetryPolicy",
    "build_image",
    "build_index",
    "push_image",
]
