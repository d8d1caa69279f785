"""What every part of one run shares: settings, output, the stop flag and the files in flight."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from .config import DownloadConfig
from .progress import Reporter
from .stopflag import StopFlag
from .transfer import Transfer


@dataclass
class RunContext:
    config: DownloadConfig
    reporter: Reporter
    stop: StopFlag
    deadline: float | None  # time.monotonic() value, None = no overall limit
    started: float = field(default_factory=time.monotonic)
    _active: dict[str, Transfer] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, transfer: Transfer) -> None:
        with self._lock:
            self._active[transfer.name] = transfer

    def unregister(self, transfer: Transfer) -> None:
        with self._lock:
            if self._active.get(transfer.name) is transfer:
                del self._active[transfer.name]

    def active(self) -> list[Transfer]:
        with self._lock:
            return list(self._active.values())

    def remaining(self) -> float | None:
        """Seconds left before the overall timeout (None: no limit)."""
        return None if self.deadline is None else self.deadline - time.monotonic()
