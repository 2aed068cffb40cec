"""The demo world with the shipped templates published and Shuttle started (template e2e tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starform_apps.demo import LocalStarform, open_local_starform
from starform_apps.starbase.template_files import publish_shipped
from starform_core.access import Actor


@contextmanager
def templated_world() -> Iterator[LocalStarform]:
    """PostgreSQL, Starbase over HTTP, the Kubernetes test server, the shipped templates, Shuttle."""
    with open_local_starform() as opened:
        opened.register_cluster()
        publish_shipped(opened.starbase.store, actor=Actor(label="e2e"))
        opened.start_shuttle()
        yield opened
