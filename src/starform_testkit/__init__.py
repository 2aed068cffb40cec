"""Starform's test kit: real servers and harnesses for tests, never imported by the product.

Each part is its own module with its own dependencies (the ``testkit`` extra installs them
all; ``kube-testserver`` only the Kubernetes test server's), so importing one does not load
the others:

- :mod:`starform_testkit.kube_testserver`: an in-memory Kubernetes API server spoken to over
  real HTTP (also the demo's cluster, and ``starform kube-testserver``);
- :mod:`starform_testkit.postgres`: a real PostgreSQL (embedded, or ``DATABASE_URL``) and fresh
  databases on it;
- :mod:`starform_testkit.starbase`: Starbase in-process on a real socket, with token helpers;
- :mod:`starform_testkit.redis_server`: a real ``redis-server`` on a free loopback port;
- :mod:`starform_testkit.distribution`: a real CNCF Distribution registry process;
- :mod:`starform_testkit.stripe_testserver`: a Stripe-compatible HTTP server (invoices,
  payments, credit notes, signed webhooks) that the real Stripe adapter talks to.

The doubles of the ports (``FakeCluster``, ``InMemorySource``, ``InMemoryRegistry``,
``SimulatedBuildService``) are product, not test kit: they ship beside their adapters so that
code built on a port can be tested against the same contract (docs/reference/adapters.md).
"""

__all__: list[str] = []
