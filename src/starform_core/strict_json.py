"""Strict, bounded JSON: what the contract reads is plain JSON and nothing that merely parses.

``json.loads`` alone takes ``NaN``/``Infinity``, keeps the last of duplicate keys (so
``{"apiVersion":"starform.io/v2","apiVersion":"starform.io/v1"}`` reads as v1), turns ``1e999``
into infinity, fails with a bare ``ValueError`` on integers over 4,300 digits and with a
``RecursionError`` on deep nesting, and returns lone surrogates (``"\\ud800"``) that no UTF-8
writer can print. :func:`loads` refuses all of that with a :class:`ContractError` naming the JSON
pointer; :func:`check_tree` applies the same rules to data parsed by something else (YAML).

:func:`loads` does not walk every node of what it read: the parser's hooks note every literal
they refused or found suspect (a duplicate key, a non-finite number, an integer of 20 characters
or more), a look at the text notes any ``\\uD800``-``\\uDFFF`` escape (and, for text given as a
string, any raw surrogate), and one breadth-first pass over the containers measures the depth.
Only when something was noted does the full :func:`check_tree` walk run, to find and word the
first problem, so the errors are exactly :func:`check_tree`'s.
"""

from __future__ import annotations

import json
import math
import re
from itertools import chain
from typing import Any, Final

from starform_core.errors import ContractError

__all__ = ["INTEGER_DIGITS_MAX", "check_tree", "loads", "node_problem", "pointer_of"]

INTEGER_DIGITS_MAX: Final = 20
"""The most digits an integer may have (an int64 has 19; nothing in the contract needs more)."""

_CONTAINERS: Final = frozenset({dict, list})
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
"""A ``\\u`` escape of a UTF-16 surrogate (paired or not: either sends the text to the full check)."""


class _Refused:
    """Stands in the parsed tree for a literal :func:`check_tree` then refuses with ``reason``."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _DuplicateKeys(dict[str, Any]):
    """An object that named ``key`` more than once (the first duplicate found)."""

    def __init__(self, pairs: list[tuple[str, Any]], key: str) -> None:
        super().__init__(pairs)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                return _DuplicateKeys(pairs, key)
            seen.add(key)
    return result


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a JSON number")


def _integer(text: str) -> int | _Refused:
    if len(text.lstrip("-")) > INTEGER_DIGITS_MAX:
        return _Refused(f"integer has more than {INTEGER_DIGITS_MAX} digits")
    return int(text)


def _number(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused("number is out of range")


class _Reader:
    """The parser's hooks for one :func:`loads` call; ``noted`` once a literal needs a full check.

    Integers of fewer than :data:`INTEGER_DIGITS_MAX` characters always fit in 64 bits; longer
    ones (and every duplicate key, constant and non-finite number) are noted.
    """

    __slots__ = ("noted",)

    def __init__(self) -> None:
        self.noted = False

    def object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) == len(pairs):
            return result
        self.noted = True
        return _object(pairs)

    def constant(self, name: str) -> _Refused:
        self.noted = True
        return _constant(name)

    def integer(self, text: str) -> int | _Refused:
        if len(text) < INTEGER_DIGITS_MAX:
            return int(text)
        self.noted = True
        return _integer(text)

    def number(self, text: str) -> float | _Refused:
        value = _number(text)
        if type(value) is not float:
            self.noted = True
        return value


def _deeper_than(value: Any, max_depth: int) -> bool:
    """True when ``value`` nests plain dicts and lists more than ``max_depth`` levels deep
    (breadth-first, one level at a time: no recursion, no per-node path)."""
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return True
        children = chain.from_iterable([node.values() if type(node) is dict else node for node in level])
        level = [child for child in children if type(child) in _CONTAINERS]
    return False


def _needs_full_check(text: str, reader: _Reader, data: Any, *, max_depth: int, decoded: bool) -> bool:
    """False only when nothing :func:`check_tree` refuses can be in ``data`` read from ``text``.

    ``decoded``: ``text`` came from UTF-8 bytes, which cannot hold a raw surrogate.
    """
    if reader.noted or _SURROGATE_ESCAPE.search(text) is not None:
        return True
    if not decoded and not text.isascii() and _SURROGATE.search(text) is not None:
        return True
    return _deeper_than(data, max_depth)


def pointer_of(path: tuple[str | int, ...]) -> str:
    """The RFC 6901 JSON pointer of a path of keys and indices."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _text_problem(value: str) -> str | None:
    if not value.isascii() and _SURROGATE.search(value):
        return "contains an unpaired surrogate (not valid Unicode)"
    return None


def node_problem(node: Any, depth: int, max_depth: int) -> tuple[str, str | None] | None:
    """``(reason, key)`` when ``node`` itself (at ``depth``, the root being 1) breaks a rule of
    :func:`check_tree` (``key``: the offending key, if any); its children are not looked at."""
    if isinstance(node, _Refused):
        return node.reason, None
    if isinstance(node, dict | list) and depth > max_depth:
        return f"nested more than {max_depth} levels deep", None
    if isinstance(node, _DuplicateKeys):
        return "duplicate key", node.key
    if isinstance(node, dict):
        for key in node:
            if not isinstance(key, str):
                return "object keys must be strings", None
            reason = _text_problem(key)
            if reason is not None:
                return f"a key {reason}", None
        return None
    if isinstance(node, str):
        return None if (reason := _text_problem(node)) is None else (reason, None)
    if isinstance(node, bool) or node is None or isinstance(node, list):
        return None
    if isinstance(node, int):
        return None if node.bit_length() <= 64 else ("integer is out of range", None)
    if isinstance(node, float):
        return None if math.isfinite(node) else ("NaN and infinities are not JSON numbers", None)
    return f"is not a JSON value ({type(node).__name__})", None


def check_tree(value: Any, *, max_depth: int) -> None:
    """Refuse anything in ``value`` that is not plain, bounded JSON (see the module docstring).

    Raises :class:`ContractError` with the pointer of the first problem found.
    """
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        problem = node_problem(node, len(path) + 1, max_depth)
        if problem is not None:
            reason, key = problem
            raise ContractError(pointer_of(path if key is None else (*path, key)), reason)
        if isinstance(node, dict):
            stack.extend((child, (*path, key)) for key, child in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((child, (*path, index)) for index, child in reversed(list(enumerate(node))))


def loads(body: bytes | str, *, max_bytes: int, max_depth: int) -> Any:
    """Parse JSON text (UTF-8 bytes or a string) strictly; see the module docstring.

    Raises :class:`ContractError` (pointer ``""`` for problems of the text as a whole).
    """
    if len(body) > max_bytes:
        raise ContractError("", f"is larger than {max_bytes} bytes")
    decoded = isinstance(body, bytes | bytearray)
    if isinstance(body, bytes | bytearray):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContractError("", f"is not UTF-8 text (byte {exc.start})") from None
    else:
        text = body
    reader = _Reader()
    try:
        data = json.loads(
            text,
            object_pairs_hook=reader.object,
            parse_constant=reader.constant,
            parse_int=reader.integer,
            parse_float=reader.number,
        )
    except json.JSONDecodeError as exc:
        raise ContractError(
            "", f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise ContractError("", f"not valid JSON (nested more than {max_depth} levels deep)") from None
    if _needs_full_check(text, reader, data, max_depth=max_depth, decoded=decoded):
        check_tree(data, max_depth=max_depth)
    return data
