"""Rendering: a desired-state payload becomes the Kubernetes objects Shuttle applies.

``render`` is pure and deterministic; docs/kubernetes-objects.md catalogues what it produces.
``IncrementalRenderer`` renders a sequence of payloads, re-rendering only what changed, with
exactly ``render``'s result (docs/architecture.md, "Rendering").
"""

from starform_core.render.incremental import IncrementalRenderer, RenderDelta
from starform_core.render.naming import RouteIdentity, parse_route_name, route_name
from starform_core.render.rendering import Rendering, render
from starform_core.render.vars import VarConflict, var_conflicts

__all__ = [
    "IncrementalRenderer",
    "RenderDelta",
    "Rendering",
    "RouteIdentity",
    "VarConflict",
    "parse_route_name",
    "render",
    "route_name",
    "var_conflicts",
]
