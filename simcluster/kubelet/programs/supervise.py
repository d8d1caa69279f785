"""Run-time control of running containers: kill one, or pause (stall) and resume it.

Every container instance runs under `supervise`, registered by its scratch directory
(`<root>/pods/<uid>/scratch-<container>`, unique per pod and container). The scenarios' admin
faults use this to kill a container as `kill -9` would (exit 137, then the kubelet's restart
policy applies), and to stall a pod's download: subprocesses of the container (the bundled
downloader) get SIGSTOP/SIGCONT, and the in-process stand-ins (wget, aws) wait at their
`gate` between chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simcluster.kubelet.context import ProcContext

KILLED_EXIT = 137  # 128 + SIGKILL, what a runtime reports for a killed container


@dataclass
class Running:
    """One running container instance."""

    key: str
    task: asyncio.Task[int]
    running: asyncio.Event = field(default_factory=asyncio.Event)
    killed: bool = False

    def __post_init__(self) -> None:
        self.running.set()


_RUNNING: dict[str, Running] = {}


def key_of(scratch: Path | str) -> str:
    return str(Path(scratch))


async def supervise(ctx: ProcContext, coro: Coroutine[Any, Any, int]) -> int:
    """Run a container's program; `kill(key)` ends it with 137, cancelling us stops it."""
    key = key_of(ctx.scratch)
    task = asyncio.ensure_future(coro)
    entry = Running(key, task)
    _RUNNING[key] = entry
    try:
        await asyncio.wait({task})
    except asyncio.CancelledError:
        if not entry.running.is_set():  # a stopped child must run to see SIGTERM
            entry.running.set()
            _signal_all(Path(key), signal.SIGCONT)
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
    finally:
        if _RUNNING.get(key) is entry:
            del _RUNNING[key]
        if not entry.running.is_set():
            _signal_all(Path(key), signal.SIGCONT)
    if task.cancelled():
        if entry.killed:
            return KILLED_EXIT
        raise asyncio.CancelledError
    return task.result()


def running(key: str) -> Running | None:
    return _RUNNING.get(key)


def running_under(pod_dir: Path | str) -> list[Running]:
    """Every running container instance of one pod (by the pod's host directory)."""
    prefix = str(Path(pod_dir)) + "/scratch-"
    return [r for k, r in _RUNNING.items() if k.startswith(prefix)]


def kill(key: str) -> bool:
    """Kill a running container instance (its exit code becomes 137)."""
    entry = _RUNNING.get(key)
    if entry is None or entry.task.done():
        return False
    entry.killed = True
    entry.running.set()
    _signal_all(Path(key), signal.SIGCONT)  # a stopped child must be able to die
    entry.task.cancel()
    return True


def pause(key: str) -> int:
    """Stall a container: its subprocesses stop, its stand-ins wait. Returns processes stopped."""
    entry = _RUNNING.get(key)
    if entry is None:
        return 0
    entry.running.clear()
    return _signal_all(Path(key), signal.SIGSTOP)


def resume(key: str) -> int:
    entry = _RUNNING.get(key)
    if entry is not None:
        entry.running.set()
    return _signal_all(Path(key), signal.SIGCONT)


async def gate(ctx: ProcContext) -> None:
    """Wait here while the container is paused (stand-ins call this between chunks)."""
    entry = _RUNNING.get(key_of(ctx.scratch))
    if entry is not None and not entry.running.is_set():
        await entry.running.wait()


def child_processes(scratch: Path) -> list[int]:
    """Our own child processes whose working directory is the container's scratch dir."""
    me = os.getpid()
    target = os.path.realpath(scratch)
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{name}/cwd")
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read().decode(errors="replace")
        except OSError:
            continue
        if cwd != target:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(me):
            found.append(int(name))
    return found


def _signal_all(scratch: Path, sig: signal.Signals) -> int:
    count = 0
    for pid in child_processes(scratch):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
            count += 1
    return count
