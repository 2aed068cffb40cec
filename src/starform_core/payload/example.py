"""A complete, realistic payload that uses every feature of the contract.

Used by ``starform payload example``, the docs and the contract tests. The rows live in the
package data file ``example_rows.json`` (one JSON object per table, fields named as in
:mod:`starform_core.payload.rows`, defaults left out). Secret values there are obviously fake.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Final

import cattrs

from starform_core.payload.build import build_payload
from starform_core.payload.document import DesiredState
from starform_core.payload.rows import ClusterRows
from starform_core.secrets_values import SecretValue

__all__ = ["EXAMPLE_CHECKSUM_KEY", "EXAMPLE_ROWS_RESOURCE", "example_payload", "example_rows"]

EXAMPLE_CHECKSUM_KEY = b"example-checksum-key-not-secret!"
"""The checksum key the example payload is built with (a real Starbase derives its own)."""

EXAMPLE_ROWS_RESOURCE: Final = "example_rows.json"
"""The package data file (in :mod:`starform_core.payload`) that holds the example's rows."""


def _structure_secret(value: Any, _type: type) -> SecretValue:
    if not isinstance(value, str):
        raise TypeError("a secret value must be a string")
    return SecretValue(value)


@functools.cache
def _rows_converter() -> cattrs.Converter:
    """Rows from their JSON form; an unknown key (a typo in the data file) is an error."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(SecretValue, _structure_secret)
    return converter


def example_rows() -> ClusterRows:
    """The rows behind :func:`example_payload`: two projects, three environments, every type."""
    text = resources.files(__package__).joinpath(EXAMPLE_ROWS_RESOURCE).read_text(encoding="utf-8")
    return _rows_converter().structure(json.loads(text), ClusterRows)


def example_payload() -> DesiredState:
    """The example desired state, built from :func:`example_rows`."""
    return build_payload(example_rows(), checksum_key=EXAMPLE_CHECKSUM_KEY)
