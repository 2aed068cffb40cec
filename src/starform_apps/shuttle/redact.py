"""Keep secret values out of what Shuttle logs and reports, in any encoding the API might echo.

Kubernetes error messages can quote the values they refuse. Before an API message reaches a
log line or an event, every secret value of the payload in force is replaced by
``<redacted>``: as plain text, base64 (how a Secret's ``data`` carries it) and JSON-escaped.
Values shorter than four characters are not searched for (they would blank out ordinary words).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Final

from starform_core.payload import DesiredState
from starform_core.secrets_values import REDACTED

__all__ = ["Redactor"]

_MIN_LENGTH: Final = 4


def _forms(value: str) -> Iterable[str]:
    yield value
    yield base64.b64encode(value.encode()).decode()
    yield json.dumps(value)[1:-1]


class Redactor:
    """Replaces the secret values it knows in a text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = {form for value in secrets if len(value) >= _MIN_LENGTH for form in _forms(value)}
        ordered = sorted(forms, key=len, reverse=True)  # longest first: no partial leftovers
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def of(cls, document: DesiredState | None) -> Redactor:
        """A redactor for every var group value of ``document``."""
        if document is None:
            return cls()
        return cls(
            value.reveal()
            for project in document.projects
            for group in project.var_groups
            for _key, value in group.entries
        )

    def __call__(self, text: str) -> str:
        """``text`` with every known secret value replaced."""
        return text if self._pattern is None else self._pattern.sub(REDACTED, text)
