"""The in-memory sink of Starbase's JSON request logs during the test session."""

from __future__ import annotations

import io

LOG_BUFFER = io.StringIO()
"""Every Starbase request line of the session (JSON), for the logging tests."""
