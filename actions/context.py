"""What an executing action is handed: the cluster gateway, dry-run, cancellation and progress.

Executors never build clients or sleep on their own: waiting goes through ``ctx.wait`` so a
cancel (the user quit, pressed Esc, or Ctrl-C headless) ends every loop promptly.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actions.kube import KubeGateway


class Cancelled(Exception):
    """The user cancelled while the action was running."""


class ActionFailed(Exception):
    """An executing action cannot go on (one sentence naming what failed)."""


def _ignore(_line: str) -> None:
    return None


@dataclass
class ActionContext:
    kube: KubeGateway
    dry_run: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: Callable[[str], None] = _ignore
    timeout: float = 600.0  # how long to follow pods, rollouts and jobs
    poll: float = 0.5  # seconds between follow polls
    exec_timeout: float = 60.0  # one short exec (realpath, test, rm)
    verify_timeout: float = 3600.0  # hashing a 25 GB file takes minutes

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("cancelled")

    def wait(self, seconds: float | None = None) -> None:
        """Sleep ``seconds`` (default: one poll) unless cancelled first."""
        if self.cancel.wait(self.poll if seconds is None else seconds):
            raise Cancelled("cancelled")

    def deadline(self, seconds: float | None = None) -> float:
        return time.monotonic() + (self.timeout if seconds is None else seconds)

    def say(self, line: str) -> None:
        # A broken progress sink must not break the action.
        with contextlib.suppress(Exception):
            self.progress(line)
