"""Stopping a long-running command on SIGTERM or SIGINT (Ctrl-C), for every program."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["StopSignal", "stop_signals"]


class StopSignal(threading.Event):
    """Set when SIGTERM or SIGINT arrives; ``name`` is the first one received."""

    name: str = ""


@contextmanager
def stop_signals(*, on_signal: Callable[[str], None] | None = None) -> Iterator[StopSignal]:
    """A :class:`StopSignal` set by SIGTERM or SIGINT instead of the default handlers (also when
    the shell started the program with SIGINT ignored); ``on_signal`` gets each signal's name.

    The previous handlers are restored on exit. Install it before starting anything, so a signal
    that arrives during start-up stops the program cleanly too.
    """
    stop = StopSignal()

    def handle(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if not stop.is_set():
            stop.name = name
        if on_signal is not None:
            on_signal(name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
