"""The payload contract page stays true: its example is valid and every field is documented."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starform_core.payload import example_payload, parse_payload, payload_schema

PAGE = Path(__file__).resolve().parents[2] / "docs" / "payload-contract.md"


def _json_blocks(text: str) -> list[str]:
    return re.findall(r"```json\n(.*?)\n```", text, flags=re.S)


def _property_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _property_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _property_names(item)


def test_the_example_on_the_page_is_valid_and_current() -> None:
    blocks = _json_blocks(PAGE.read_text())
    assert len(blocks) == 1
    assert parse_payload(blocks[0]) == example_payload()


def test_every_schema_field_is_documented() -> None:
    text = PAGE.read_text()
    missing = sorted({name for name in _property_names(payload_schema()) if f"`{name}`" not in text})
    assert missing == []
