"""The streamed HTTP response a reader thread is blocked on, and how another thread stops it.

A watch or a followed log holds its response open for minutes; a read blocked on the socket
does not see a stop event. ``HeldResponse`` keeps the reader's current response so that any
thread can interrupt it (shut the socket down, which wakes the read, then close it).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any


class HeldResponse:
    """The one response a reader is reading; ``stop`` is its owner's stop event.

    The reader ``hold``s each response it gets and ``release``s it when done with it;
    ``interrupt`` may come from any thread once ``stop`` is set. A response held after that
    is interrupted at once, so a stop that races with a new request is not lost.
    """

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._lock = threading.Lock()
        self._response: Any = None

    def hold(self, response: Any) -> None:
        with self._lock:
            self._response = response
        if self._stop.is_set():
            self.interrupt()

    def interrupt(self) -> None:
        """Wake a read blocked on the held response (safe from any thread)."""
        with self._lock:
            response = self._response
        if response is not None:
            with contextlib.suppress(Exception):  # already closed by the reader
                response.shutdown()
            with contextlib.suppress(Exception):
                response.close()

    def release(self) -> None:
        """The reader is done with the held response: give its connection back, close it."""
        with self._lock:
            response, self._response = self._response, None
        if response is not None:
            with contextlib.suppress(Exception):
                response.release_conn()
            with contextlib.suppress(Exception):
                response.close()
