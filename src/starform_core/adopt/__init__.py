"""Adopt (seed 004): out-of-band values Starbase may take into a service's desired spec.

:mod:`.fields` is the one table of rendered fields adoption covers (``Deployment:/spec/replicas``
→ the spec's ``/replicas``, ...); Shuttle uses it to tell drift it must hold for a decision from
drift it reverts, Starbase to turn an adopted live value into a spec change
(:func:`adopted_spec`). Pure.
"""

from starform_core.adopt.fields import ADOPTABLE, AdoptableField, adoptable_field, is_adoptable
from starform_core.adopt.spec import adopted_spec, live_value

__all__ = [
    "ADOPTABLE",
    "AdoptableField",
    "adoptable_field",
    "adopted_spec",
    "is_adoptable",
    "live_value",
]
