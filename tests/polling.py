"""Polling for tests that watch a cluster, a server or a process settle."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.pilot import Pilot


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


async def pilot_until(
    pilot: Pilot[Any], fn: Callable[[], Any], timeout: float = 30.0, every: float = 0.1
) -> Any:
    """wait_until for a Textual app under test: the app runs while we wait."""
    deadline = time.monotonic() + timeout
    while not (value := fn()):
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {fn}"
        await pilot.pause(every)
    return value
