"""Turn the image of a hand deploy into a digest-pinned reference through the registry port.

A reference pinned by digest is taken as given (as before); a tag (or a bare repository, which
means ``:latest``) is resolved by the registry, and what cannot be resolved is a
:class:`~starform_core.errors.ValidationError` on ``image`` naming the tag or the repository
(``422``). A registry that is down or rate-limiting answers ``503`` with ``Retry-After``.
"""

from __future__ import annotations

from starform_apps.starbase.deploy.metrics import DeployMetrics
from starform_apps.starbase.http_errors import HttpError
from starform_core.errors import (
    RegistryError,
    RegistryManifestNotFoundError,
    RegistryRateLimitedError,
    RegistryRepositoryNotFoundError,
    RegistryTagNotFoundError,
    RegistryUnauthorizedError,
    RegistryUnavailableError,
    ValidationError,
)
from starform_core.ports.registry import ImageRegistry
from starform_core.registry import ImageReference, parse_image_reference

__all__ = ["pin_image"]


def _refusal(reference: ImageReference, error: RegistryError) -> Exception:
    repository = str(reference.repository)
    if isinstance(error, RegistryTagNotFoundError):
        return ValidationError("image", f"tag {reference.tag!r} not found in repository {repository}")
    if isinstance(error, RegistryRepositoryNotFoundError):
        return ValidationError("image", f"repository {repository} not found in its registry")
    if isinstance(error, RegistryManifestNotFoundError):
        return ValidationError("image", f"tag {reference.tag!r} of {repository} points at a deleted manifest")
    if isinstance(error, RegistryUnauthorizedError):
        return ValidationError("image", f"the registry refused Starbase access to {repository}")
    if isinstance(error, RegistryRateLimitedError):
        retry = str(int(error.retry_after or 30))
        return HttpError(
            503, f"the registry of {repository} is rate-limiting: retry later", headers={"Retry-After": retry}
        )
    if isinstance(error, RegistryUnavailableError):
        return HttpError(
            503, f"the registry of {repository} is unavailable: retry later", headers={"Retry-After": "30"}
        )
    return ValidationError(
        "image", f"the registry's answer for {reference} is unusable ({type(error).__name__})"
    )


def pin_image(text: str, registry: ImageRegistry | None, metrics: DeployMetrics) -> str:
    """``text`` pinned by digest: as given if it has one, else resolved through ``registry``."""
    reference = parse_image_reference(text, field="image")
    if reference.digest is not None:
        return text
    if registry is None:
        raise ValidationError(
            "image", "is not pinned by digest and no image registry is configured to resolve its tag"
        )
    try:
        resolved = registry.resolve(reference)
    except RegistryError as error:
        metrics.resolve_failures.labels(error=type(error).__name__).inc()
        raise _refusal(reference, error) from error
    return reference.with_digest(resolved.digest).pinned()
