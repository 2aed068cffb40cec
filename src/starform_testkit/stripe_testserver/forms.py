"""Stripe's form encoding: ``a[b][c]=v`` nests, ``a[0]=v`` (or ``a[]=v``) makes lists."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from starform_testkit.stripe_testserver.errors import StripeApiError

__all__ = ["decode_form"]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
MAX_PARAMS = 1000


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {key: _listify(value) for key, value in node.items()}
        if converted and all(key.isdigit() for key in converted):
            return [converted[key] for key in sorted(converted, key=int)]
        return converted
    return node


def decode_form(body: str) -> dict[str, Any]:
    """Decode a form body (or query string) into nested dicts and lists."""
    pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_PARAMS)
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if match is None:
            raise StripeApiError(
                400, "invalid_request_error", f"Invalid parameter name: {raw_key[:100]}", param=raw_key[:100]
            )
        parts = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "":
                part = str(sum(1 for k in node if k.isdigit()))
            if last:
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise StripeApiError(
                        400,
                        "invalid_request_error",
                        f"Invalid nesting of {raw_key[:100]}",
                        param=raw_key[:100],
                    )
                node = child
    return _listify(root)  # type: ignore[no-any-return]
