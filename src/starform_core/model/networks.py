"""Networks pods may be allowed to reach (``egress_allow``), checked with :mod:`ipaddress`.

An allowed network is a CIDR in canonical form (no host bits) that overlaps none of the ranges
a pod must never be opened to: the node's and the cloud's own addresses. That is loopback,
"this network", link-local (``169.254.0.0/16`` holds every cloud's metadata service,
``169.254.169.254``), multicast, the reserved and broadcast block, IPv4-mapped IPv6 (which
aliases all of those), and the clouds' metadata endpoints outside link-local.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final

from starform_core.errors import ValidationError

__all__ = ["FORBIDDEN_NETWORKS", "canonical_networks", "check_egress_network"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

FORBIDDEN_NETWORKS: Final[tuple[tuple[IPNetwork, str], ...]] = tuple(
    (ipaddress.ip_network(cidr), why)
    for cidr, why in (
        ("0.0.0.0/8", "'this network' (unspecified)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata 169.254.169.254)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved and broadcast"),
        ("100.100.100.200/32", "a cloud metadata endpoint"),
        ("168.63.129.16/32", "a cloud platform endpoint"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "IPv4-mapped IPv6"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
        ("fd00:ec2::254/128", "a cloud metadata endpoint"),
    )
)
"""Ranges no ``egress_allow`` entry may overlap, with the reason shown when one does."""


def check_egress_network(field: str, value: str) -> str:
    """Validate one allowed network and return its canonical form (``10.0.0.0/8``)."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be a network in CIDR form")
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValidationError(field, "is not a network in CIDR form (address/prefix, no host bits)") from exc
    if "/" not in value:
        raise ValidationError(field, "must name its prefix length (10.0.0.0/8, not 10.0.0.0)")
    if network.prefixlen == 0:
        raise ValidationError(field, "the internet is allowed already; name a private network")
    for forbidden, why in FORBIDDEN_NETWORKS:
        if forbidden.version == network.version and network.overlaps(forbidden):  # type: ignore[arg-type,unused-ignore]
            raise ValidationError(field, f"overlaps {forbidden} ({why}), which pods may never reach")
    return str(network)


def canonical_networks(value: Iterable[str]) -> tuple[str, ...]:
    """Validate every network, then keep them in canonical form, sorted and without duplicates."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError("egress_allow", "must be a list of CIDRs")
    found = {check_egress_network(f"egress_allow[{index}]", cidr) for index, cidr in enumerate(value)}
    return tuple(sorted(found))
