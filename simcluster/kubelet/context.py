"""What a simulated process runs with: the pod's files, its streams, env and working dir."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from simcluster.kubelet.fs import PodFS
from simcluster.kubelet.memory import MemoryCgroup
from simcluster.kubelet.procio import ProcIO


@dataclass
class ProcContext:
    """One process's world. `scratch` is a host dir used as the cwd of real subprocesses."""

    fs: PodFS
    io: ProcIO
    env: dict[str, str]
    root: Path  # the cluster's root dir; its file system stands in for the image overlay
    scratch: Path
    cwd: str = "/"
    pod: str = ""
    container: str = ""
    on_ready: Callable[[frozenset[int] | None], None] | None = None
    memory: MemoryCgroup = field(default_factory=MemoryCgroup)  # the container's cgroup
    # What the Lightning ASR stand-in allocates to load a model, per byte of the model file.
    load_memory_factor: float = 1.0
    extra: dict[str, object] = field(default_factory=dict)

    def with_io(self, io: ProcIO) -> ProcContext:
        return replace(self, io=io)

    def ready(self, ports: Iterable[int] | None = None) -> None:
        """Tell the kubelet the program is up: it now listens on `ports` (None: on the
        container's declared ports), so probes on them connect, and without a readiness
        probe the container is ready."""
        if self.on_ready is not None:
            self.on_ready(None if ports is None else frozenset(ports))
