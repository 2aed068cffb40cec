"""What the ``starform`` subcommands read: payload files and live objects, bounded and checked.

One reader for every subcommand. Every input is size-limited (files and standard input alike),
parsed strictly (JSON: ``starform_core.strict_json``; YAML: :mod:`.strict_yaml`) and
checked before any command logic sees it. Every problem is one line on stderr and exit status 1,
never a traceback:

* ``invalid: <pointer>: <reason>`` for a payload that breaks the contract;
* ``invalid: <file>: <object>: <pointer>: <reason>`` for a malformed live object;
* ``error: <what went wrong>`` for anything that cannot be read at all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Final

import click
import yaml

from starform_apps.cli.strict_yaml import YAML_MAX_DEPTH, load_all
from starform_core.errors import ContractError, LiveObjectError
from starform_core.kube.objects import KubeObject
from starform_core.kube.validate_live import LIVE_MAX_DEPTH, validate_live_object
from starform_core.payload.contract import parse_payload
from starform_core.payload.document import DesiredState
from starform_core.strict_json import check_tree, loads

__all__ = [
    "INPUT_MAX_BYTES",
    "LIVE_MAX_BYTES",
    "LIVE_MAX_OBJECTS",
    "InputRejected",
    "load_live_objects",
    "read_input",
    "read_payload",
]

INPUT_MAX_BYTES: Final = 64 * 1024 * 1024
"""The largest file (or standard input) a subcommand reads: 64 MiB."""

LIVE_MAX_BYTES: Final = 256 * 1024 * 1024
"""The most bytes ``--live`` reads across all files of a directory: 256 MiB."""

LIVE_MAX_OBJECTS: Final = 100_000
"""The most live objects ``--live`` reads."""

LIVE_SUFFIXES: Final = (".yaml", ".yml", ".json")
"""The files of a ``--live`` directory that are read."""


class InputRejected(click.ClickException):
    """A bad input: printed as one line (``invalid: ...`` or ``error: ...``), exit status 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the message as it is (no ``Error:`` prefix, no usage text)."""
        click.echo(self.format_message(), err=True, file=file)


def _error(message: str) -> InputRejected:
    return InputRejected(f"error: {message}")


def _name(location: str | Path) -> str:
    return "standard input" if str(location) == "-" else click.format_filename(location)


def _read_limited(stream: IO[bytes], location: str | Path, limit: int) -> bytes:
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise _error(f"{_name(location)} is larger than {limit} bytes")
    return body


def read_input(location: str | Path, *, limit: int | None = None) -> bytes:
    """The bytes of a file (``-``: standard input), at most ``limit`` (default
    :data:`INPUT_MAX_BYTES`) of them."""
    limit = INPUT_MAX_BYTES if limit is None else limit
    if str(location) == "-":
        return _read_limited(sys.stdin.buffer, location, limit)
    try:
        with open(location, "rb") as stream:
            return _read_limited(stream, location, limit)
    except OSError as exc:
        raise _error(f"cannot read {_name(location)}: {exc.strerror or type(exc).__name__}") from None


def read_payload(location: str) -> DesiredState:
    """Read and validate a payload file (``-``: standard input) against the contract."""
    body = read_input(location)
    try:
        return parse_payload(body, max_bytes=len(body))
    except ContractError as exc:
        raise InputRejected(f"invalid: {exc.pointer or '/'}: {exc.reason}") from None


def _documents(path: Path, body: bytes) -> list[Any]:
    """The documents of one live file: strict JSON for ``.json``, strict YAML otherwise."""
    if path.suffix == ".json":
        try:
            return [loads(body, max_bytes=len(body), max_depth=LIVE_MAX_DEPTH)]
        except ContractError as exc:
            raise InputRejected(f"invalid: {_name(path)}: {exc.pointer or '/'}: {exc.reason}") from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _error(f"{_name(path)} is not UTF-8 text (byte {exc.start})") from None
    try:
        documents = load_all(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise _error(f"{_name(path)}: not valid YAML or JSON{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError:
        raise _error(f"{_name(path)}: not valid YAML or JSON") from None
    for index, document in enumerate(documents):
        try:
            check_tree(document, max_depth=YAML_MAX_DEPTH)
        except ContractError as exc:
            where = f"document {index + 1}: " if len(documents) > 1 else ""
            raise InputRejected(
                f"invalid: {_name(path)}: {where}{exc.pointer or '/'}: {exc.reason}"
            ) from None
    return documents


def _flatten(document: Any) -> Iterator[Any]:
    """The objects of a document: ``None`` (an empty document) is none, a ``...List`` its items."""
    pending = [document]
    while pending:
        item = pending.pop()
        if item is None:
            continue
        kind = item.get("kind") if isinstance(item, Mapping) else None
        if isinstance(kind, str) and kind.endswith("List") and isinstance(item.get("items"), list):
            pending.extend(reversed(item["items"]))
            continue
        yield item


def _files(location: str) -> list[Path]:
    path = Path(location)
    if path.is_dir():
        found: list[Path] = []
        for root, dirs, names in os.walk(path):
            dirs.sort()
            found.extend(Path(root) / name for name in sorted(names) if name.endswith(LIVE_SUFFIXES))
        return found
    if not path.exists():
        raise _error(f"{_name(location)} does not exist")
    return [path]


def load_live_objects(location: str) -> list[KubeObject]:
    """Every Kubernetes object in a file or a directory (its ``.yaml``/``.yml``/``.json`` files),
    as ``kubectl get -o yaml`` (or ``-o json``) prints them: single objects, ``List`` kinds,
    multi-document YAML streams. Each object is shape-checked (``validate_live_object``)."""
    objects: list[KubeObject] = []
    budget = LIVE_MAX_BYTES
    for path in _files(location):
        body = read_input(path)
        budget -= len(body)
        if budget < 0:
            raise _error(f"--live holds more than {LIVE_MAX_BYTES} bytes")
        items = [item for document in _documents(path, body) for item in _flatten(document)]
        if len(objects) + len(items) > LIVE_MAX_OBJECTS:
            raise _error(f"--live holds more than {LIVE_MAX_OBJECTS} objects")
        for index, item in enumerate(items):
            try:
                objects.append(validate_live_object(item, index=index))
            except LiveObjectError as exc:
                raise InputRejected(
                    f"invalid: {_name(path)}: {exc.obj}: {exc.pointer or '/'}: {exc.reason}"
                ) from None
    return objects
