"""The run-wide stop signal (SIGINT/SIGTERM, --timeout, a full disk) and why it was raised."""

from __future__ import annotations

import threading

from .errors import DownloadError


class StopFlag:
    """Set once; the first reason wins. Every loop polls it or waits on it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.reason: DownloadError | None = None

    def set(self, reason: DownloadError) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; True when the run is stopping."""
        return self._event.wait(timeout)
