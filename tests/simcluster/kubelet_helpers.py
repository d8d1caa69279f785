"""Helpers for the kubelet tests: a pod filesystem on tmp dirs and a capturing runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simcluster.kubelet.commands import run_command
from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.fs import Mount, PodFS
from simcluster.kubelet.procio import CallbackIO


@dataclass
class Result:
    code: int
    out: bytes
    err: bytes

    @property
    def stdout(self) -> str:
        return self.out.decode()

    @property
    def stderr(self) -> str:
        return self.err.decode()


def make_fs(tmp: Path, efs: bool = False) -> PodFS:
    models = tmp / "pvc"
    scratch = tmp / "empty"
    image = tmp / "image-file"
    for d in (models, scratch):
        d.mkdir(parents=True, exist_ok=True)
    image.write_bytes(b"baked\n")
    return PodFS(
        [
            Mount(
                "/app/models",
                models,
                volume="models",
                kind="pvc",
                claim="models-pvc",
                storage_class="models-aws-efs-sc" if efs else "standard",
                capacity=5 * 1024**3,
            ),
            Mount("/scratch", scratch, volume="scratch", kind="emptydir"),
            Mount("/opt/baked/model.bin", image, read_only=True, kind="image", is_file=True),
        ]
    )


async def run(fs: PodFS, tmp: Path, *argv: str, stdin: bytes | None = None) -> Result:
    import asyncio

    out = bytearray()
    err = bytearray()

    async def w_out(b: bytes) -> None:
        out.extend(b)

    async def w_err(b: bytes) -> None:
        err.extend(b)

    q: asyncio.Queue[bytes] | None = None
    if stdin is not None:
        q = asyncio.Queue()
        q.put_nowait(stdin)
        q.put_nowait(b"")
    ctx = ProcContext(
        fs=fs, io=CallbackIO(w_out, w_err, q), env={"HOME": "/root"}, root=tmp,
        scratch=tmp / "scratch-host",
    )  # fmt: skip
    code = await run_command(list(argv), ctx)
    return Result(code, bytes(out), bytes(err))
