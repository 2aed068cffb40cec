"""Test doubles of the ports that are not already beside their adapters.

The desired-state source's double is :class:`starform_adapters.starbase.InMemorySource`; the
cluster port's is :class:`FakeCluster` here.
"""

from starform_adapters.testing.fake_cluster import ClusterCall, FakeCluster

__all__ = ["ClusterCall", "FakeCluster"]
