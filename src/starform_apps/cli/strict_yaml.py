"""A strict, bounded YAML loader for what ``kubectl get -o yaml`` prints.

PyYAML's ``SafeLoader`` keeps the last of duplicate keys, expands aliases without bound (a
"billion laughs" document of a few hundred bytes grows to gigabytes), recurses without bound on
deep nesting, fails with a bare ``ValueError`` on integers over 4,300 digits and turns unquoted
dates into ``datetime`` values no JSON reader expects. :class:`StrictLoader` refuses duplicates,
aliases, nesting deeper than :data:`YAML_MAX_DEPTH` and oversized integers with a
``yaml.MarkedYAMLError`` (line and column), and leaves timestamps as strings, as the API server's
YAML-to-JSON conversion does. What remains non-JSON (``!!binary``, ``!!set``, ``.nan``) is left for
the caller's JSON check (``starform_core.strict_json.check_tree``) to refuse.
"""

from __future__ import annotations

from typing import Any, Final

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode

__all__ = ["YAML_MAX_DEPTH", "StrictLoader", "load_all"]

YAML_MAX_DEPTH: Final = 100
"""The deepest nesting of sequences and mappings a document may have."""

_INTEGER_TEXT_MAX: Final = 70
"""The longest integer scalar (64 binary digits and a prefix fit)."""

_TIMESTAMP: Final = "tag:yaml.org,2002:timestamp"


class StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` without duplicates, aliases, unbounded nesting, huge integers or dates."""

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """Compose one node, refusing aliases and nesting deeper than :data:`YAML_MAX_DEPTH`."""
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise ComposerError(None, None, "YAML aliases (*name) are not supported", mark)
        self._depth += 1
        try:
            if self._depth > YAML_MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ComposerError(None, None, f"nested more than {YAML_MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping whose keys are unique (a repeated key is an error, not "the last wins")."""
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                raise ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                ) from None
            if duplicate:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: ScalarNode) -> int:
        """An integer of at most 70 characters (so conversion never meets Python's digit limit)."""
        text = str(self.construct_scalar(node))
        if len(text) > _INTEGER_TEXT_MAX:
            raise ConstructorError(None, None, "integer is too long", node.start_mark)
        return super().construct_yaml_int(node)


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
StrictLoader.add_constructor(_TIMESTAMP, yaml.SafeLoader.construct_yaml_str)  # type: ignore[type-var]


def load_all(text: str) -> list[Any]:
    """Every document of a YAML stream, loaded with :class:`StrictLoader`.

    Raises ``yaml.YAMLError`` (a ``MarkedYAMLError`` with line and column when known).
    """
    return list(yaml.load_all(text, Loader=StrictLoader))
