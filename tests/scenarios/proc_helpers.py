"""Run one container program directly in a pod filesystem made of tmp dirs, capturing output."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.fs import Mount, PodFS
from simcluster.kubelet.procio import CallbackIO

Program = Callable[[list[str], ProcContext], Awaitable[int]]


@dataclass
class Captured:
    code: int = 0
    out: bytearray = field(default_factory=bytearray)
    err: bytearray = field(default_factory=bytearray)

    @property
    def stdout(self) -> str:
        return self.out.decode()

    @property
    def stderr(self) -> str:
        return self.err.decode()


@dataclass
class Pod:
    root: Path
    models: Path  # host dir behind /app/models
    ctx: ProcContext
    captured: Captured


def make_pod(
    tmp: Path, env: dict[str, str] | None = None, cwd: str = "/", models: Path | None = None
) -> Pod:
    models = models or tmp / "pvc"
    models.mkdir(parents=True, exist_ok=True)
    (tmp / "files").mkdir(exist_ok=True)
    scratch = tmp / "pods" / "uid-1" / "scratch-main"
    scratch.mkdir(parents=True, exist_ok=True)
    fs = PodFS(
        [
            Mount("/app/models", models, volume="models", kind="pvc", claim="models"),
            Mount("/replay", tmp / "files", volume="replay", kind="image", read_only=True),
        ]
    )
    cap = Captured()

    async def out(data: bytes) -> None:
        cap.out.extend(data)

    async def err(data: bytes) -> None:
        cap.err.extend(data)

    ctx = ProcContext(
        fs=fs, io=CallbackIO(out, err), env=dict(env or {}), root=tmp, scratch=scratch, cwd=cwd
    )
    return Pod(tmp, models, ctx, cap)


async def run(pod: Pod, program: Program, *argv: str) -> Captured:
    pod.captured.code = await program(list(argv), pod.ctx)
    return pod.captured


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def small_tmpfs(path: Path, size: int) -> Iterator[Path]:
    """A size-limited tmpfs at path (root only), unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        check=True,
        capture_output=True,
        timeout=10,
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)


def can_mount() -> bool:
    return os.geteuid() == 0 and os.environ.get("SIMCLUSTER_TMPFS", "1") != "0"
