"""A container's memory cgroup: its limit, what its program allocates, and the OOM kill.

On a node the kernel charges what a container allocates to its cgroup, whose `memory.max`
is the container's `resources.limits.memory`. An allocation that does not fit gets the
container SIGKILLed by the OOM killer; the runtime sees the cgroup's `oom_kill` count rise
and reports the exit as reason `OOMKilled`, exit code 137. Here the stand-in programs
allocate what the real servers would (the Lightning ASR stand-in: its model, when it loads
it), and the kubelet reads `oom_killed` when the container exits. Nothing else a container
does is counted, and a container without a limit is never killed (the node's memory is not
modelled).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simcluster.quantity import QuantityError, quantity_bytes


def memory_limit(container: dict[str, Any]) -> int | None:
    """The container's `resources.limits.memory` in bytes, or None when it has none."""
    limits = (container.get("resources") or {}).get("limits") or {}
    value = limits.get("memory") if isinstance(limits, dict) else None
    if value is None:
        return None
    try:
        return quantity_bytes(str(value))
    except QuantityError:  # the API server refuses these; a hand-made spec gets no limit
        return None


@dataclass
class MemoryCgroup:
    """One container instance's memory: `limit` (None: unlimited) and `usage` in bytes.

    `kill` ends the container as SIGKILL does; it is needed only when there is a limit.
    """

    limit: int | None = None
    kill: Callable[[], object] | None = None
    usage: int = 0
    oom_kills: int = 0

    def __post_init__(self) -> None:
        if self.limit is not None and self.kill is None:
            raise ValueError("a memory limit needs a way to kill the container")

    @property
    def oom_killed(self) -> bool:
        return self.oom_kills > 0

    async def allocate(self, nbytes: int) -> None:
        """Take nbytes more. Past the limit the container is killed here and never returns."""
        if self.limit is None or self.usage + nbytes <= self.limit:
            self.usage += nbytes
            return
        self.oom_kills += 1
        assert self.kill is not None
        self.kill()
        await asyncio.Event().wait()  # the kill cancels the program at this await
