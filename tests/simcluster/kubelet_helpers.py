"""Helpers for the kubelet tests: a pod filesystem on tmp dirs and a capturing runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes.stream import stream

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
        fs=fs,
        io=CallbackIO(w_out, w_err, q),
        env={"HOME": "/root"},
        root=tmp,
        scratch=tmp / "scratch-host",
    )
    code = await run_command(list(argv), ctx)
    return Result(code, bytes(out), bytes(err))


class KubeletHarness:
    """A store, one kubelet and the kubelet's HTTP routes on a loopback port, in a thread.

    The official client is blocking, so the server runs on its own loop in a thread and the
    test talks to it over real sockets; store changes are made on that loop via `call`.
    """

    def __init__(self, root: Path, node: str = "node-1") -> None:
        self.root = root
        self.node = node
        self.url = ""

    def __enter__(self) -> KubeletHarness:
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._main, args=(ready,), daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("kubelet harness did not start")
        return self

    def _main(self, ready: object) -> None:
        import asyncio

        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        ready.set()  # type: ignore[attr-defined]
        self.loop.run_forever()

    async def _start(self) -> None:
        from aiohttp import web

        from simcluster.kubelet.http import add_kubelet_routes
        from simcluster.kubelet.node import Kubelet
        from simcluster.store import Store

        self.store = Store()
        self.root_dir = self.root
        self.store.create("namespaces", {"metadata": {"name": "default"}})
        self.kubelet = Kubelet(self, self.node)
        await self.kubelet.start()
        app = web.Application()
        add_kubelet_routes(app, self)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        import asyncio

        async def stop() -> None:
            await self.kubelet.stop()
            await self.runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def call(self, fn, *args, **kwargs):
        """Run a (sync or async) function on the server's loop and return its result."""
        import asyncio
        import inspect

        async def go():
            out = fn(*args, **kwargs)
            return await out if inspect.isawaitable(out) else out

        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(30)

    def core(self):
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.url
        return client.CoreV1Api(client.ApiClient(cfg))

    def create_pod(self, name: str, containers: list[dict], **spec) -> dict:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": self.node, "containers": containers, **spec},
        }
        return self.call(self.store.create, "pods", pod)

    def pod(self, name: str) -> dict | None:
        return self.call(self.store.get, "pods", "default", name)

    def wait(self, predicate, timeout: float = 10.0, what: str = "condition"):
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()  # predicates use `call` themselves where they need the loop
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def container_state(self, name: str, container: str) -> dict:
        pod = self.call(self.store.peek, "pods", "default", name) or {}
        status = pod.get("status") or {}
        for st in (status.get("containerStatuses") or []) + (
            status.get("initContainerStatuses") or []
        ):
            if st["name"] == container:
                return st
        return {}


def shell(name: str, script: str, image: str = "busybox", **extra) -> dict:
    return {"name": name, "image": image, "command": ["sh", "-c", script], **extra}


def exec_in_pod(
    core: Any, namespace: str, pod: str, *argv: str, container: str | None = None
) -> tuple[int, str, str]:
    """Run ``argv`` in ``pod`` through the official client's exec (WebSocket):
    (exit code, stdout, stderr)."""
    kwargs: dict[str, Any] = {"container": container} if container else {}
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=list(argv),
        **kwargs,
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=10)
    return resp.returncode, resp.read_stdout(), resp.read_stderr()
