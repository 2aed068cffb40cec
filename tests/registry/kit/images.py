"""Small images for the tests: distinct content per call, OCI or Docker media types, indexes."""

from __future__ import annotations

import uuid

from starform_adapters.registry import BuiltImage, BuiltIndex, ImageFile, ImageSpec, build_image, build_index
from starform_core.registry import LINUX_AMD64, ExposedPort, Platform

LINUX_ARM64 = Platform("linux", "arm64", variant="v8")


def small_image(
    *,
    platform: Platform = LINUX_AMD64,
    command: tuple[str, ...] = ("/app/start",),
    docker: bool = False,
    port: int = 8080,
) -> BuiltImage:
    """A one-layer image whose content is unique to this call (so its digest is too)."""
    return build_image(
        ImageSpec(
            files=(
                ImageFile("/app/start", b"#!/bin/sh\nexec echo hello\n", mode=0o755),
                ImageFile("/app/NONCE", uuid.uuid4().hex.encode()),
            ),
            platform=platform,
            entrypoint=("/bin/sh", "-c"),
            command=command,
            exposed_ports=(ExposedPort(port), ExposedPort(9090), ExposedPort(5353, "udp")),
            env=("PORT=8080", "SECRET_TOKEN=never-kept"),
            working_dir="/app",
            user="1000:1000",
            labels={"org.opencontainers.image.revision": "abc123"},
            docker_media_types=docker,
        )
    )


def multi_arch(*, docker: bool = False) -> BuiltIndex:
    """An index over an amd64 and an arm64 image, each with its own command."""
    return build_index(
        [
            small_image(platform=LINUX_AMD64, command=("/app/start", "amd64"), docker=docker),
            small_image(platform=LINUX_ARM64, command=("/app/start", "arm64"), docker=docker),
        ],
        docker_media_types=docker,
    )
