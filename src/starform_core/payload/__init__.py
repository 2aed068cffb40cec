"""The desired-state payload (§25.1): document, typed rows, build, codec and contract."""

from starform_core.payload.build import build_payload
from starform_core.payload.codec import (
    etag_of,
    from_structure,
    to_json,
    to_structure,
    to_structure_with_secrets,
)
from starform_core.payload.contract import parse_payload, payload_schema
from starform_core.payload.document import API_VERSION, KIND, DesiredState
from starform_core.payload.example import example_payload, example_rows
from starform_core.payload.reuse import PayloadReuse
from starform_core.payload.rows import ClusterRows

__all__ = [
    "API_VERSION",
    "KIND",
    "ClusterRows",
    "DesiredState",
    "PayloadReuse",
    "build_payload",
    "etag_of",
    "example_payload",
    "example_rows",
    "from_structure",
    "parse_payload",
    "payload_schema",
    "to_json",
    "to_structure",
    "to_structure_with_secrets",
]
