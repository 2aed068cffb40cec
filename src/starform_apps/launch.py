"""The installed programs' entry points (``starform``, ``starbase``, ``shuttle``).

Each loads its command line; if the extra that installs the program's dependencies is missing
(``pip install starform`` installs the core only), it says which one in one line and exits 1,
instead of a traceback. This module imports nothing outside the standard library.
"""

from __future__ import annotations

import importlib
import sys
from typing import NoReturn

__all__ = ["EXIT_MISSING_EXTRA", "missing_extra_message", "missing_module", "shuttle", "starbase", "starform"]

EXIT_MISSING_EXTRA = 1
"""Exit status when a program's extra is not installed (a user error, like any other)."""


def missing_module(exc: ModuleNotFoundError) -> str | None:
    """The top-level name of the missing third-party module, or ``None`` when the missing module
    is Starform's own (that is a bug, not a missing extra)."""
    name = (exc.name or "").split(".", 1)[0]
    return None if not name or name.startswith("starform_") else name


def missing_extra_message(what: str, extra: str, module: str) -> str:
    """The one line saying that ``what`` needs ``extra`` and how to install it."""
    return (
        f"{what} needs the {extra!r} extra, which is not installed (no module named {module!r}); "
        f"install it with: pip install 'starform[{extra}]'"
    )


def _refuse(program: str, extra: str, module: str) -> NoReturn:
    sys.stderr.write(f"error: {missing_extra_message(program, extra, module)}\n")
    sys.exit(EXIT_MISSING_EXTRA)


def _launch(program: str, extra: str, target: str) -> None:
    module_name, _, attribute = target.partition(":")
    try:
        entry = getattr(importlib.import_module(module_name), attribute)
        entry()
    except ModuleNotFoundError as exc:
        module = missing_module(exc)
        if module is None:
            raise
        _refuse(program, extra, module)


def starform() -> None:
    """The ``starform`` command (the ``cli`` extra; ``demo`` and ``kube-testserver`` for those)."""
    _launch("starform", "cli", "starform_apps.cli.main:main")


def starbase() -> None:
    """The ``starbase`` command (the ``starbase`` extra)."""
    _launch("starbase", "starbase", "starform_apps.starbase.program:main")


def shuttle() -> None:
    """The ``shuttle`` command (the ``shuttle`` extra)."""
    _launch("shuttle", "shuttle", "starform_apps.shuttle.cli:main")
