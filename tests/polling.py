"""Polling for tests that watch a cluster, a server or a process settle."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(
    fn: Callable[[], Any], timeout: float = 30.0, what: str = "", every: float = 0.1
) -> Any:
    """Poll fn() until it returns something truthy; fail the test naming `what` if it never does."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what or fn}; last: {last!r}")
