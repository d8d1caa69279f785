"""Container probes as a kubelet (1.28+) runs them: startup, liveness and readiness.

One `ContainerProber` per running container instance owns one task per probe the container
declares. Each task probes first `initialDelaySeconds` after the instance started, then every
`periodSeconds`, on the loop's clock (real seconds, like every other kubelet timing here).
The tasks are cancelled when the instance ends, so no probe outlives its container.

What a probe sees: a container's program listens on its ports once it has said it is ready
(`ctx.ready()`: the server is up). `httpGet` and `tcpSocket` on a port it listens on succeed,
and are refused otherwise with the kubelet's own messages; a listening server's health
endpoint answers 200 unless the `health` fault (`asr-cache-sim fault health`) makes it answer
something else. `exec` runs its command in the container with the simulator's commands (exit
0 passes; the output is the message). `grpc` probes are not modelled: they always pass.

Semantics: until a startup probe succeeds, liveness and readiness are not run and the
container is `started: false`; `failureThreshold` consecutive startup or liveness failures
kill the container (a `Killing` event, then SIGTERM, which the stand-ins, running as PID 1
with no handler, ignore, then SIGKILL after the grace period: exit 137, reason Error) and it
restarts under the pod's restart policy. A readiness probe makes the container ready after
`successThreshold` consecutive successes and unready after `failureThreshold` failures. Every
failed probe records a Warning `Unhealthy` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simcluster.kubelet.commands import run_command
from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.procio import CallbackIO
from simcluster.kubelet.programs.supervise import kill as kill_instance
from simcluster.kubelet.registry import agents

if TYPE_CHECKING:
    from simcluster.kubelet.pod import ContainerRun, PodWorker

log = logging.getLogger("simcluster.kubelet.probes")

KINDS = {"startupProbe": "Startup", "livenessProbe": "Liveness", "readinessProbe": "Readiness"}
MAX_OUTPUT = 10 * 1024  # the kubelet keeps at most 10 KiB of a probe's output
DEFAULT_GRACE = 30


@dataclass
class ProbeState:
    """What one container instance's probes have found so far (all reset on a restart)."""

    listening: frozenset[int] | None = None  # ports the program serves; None before ready
    started: bool = False  # the startup probe passed (True at once without one)
    ready: bool = False  # what the readiness probe says
    killing: bool = False  # failed liveness or startup: the kubelet is killing it
    counts: dict[str, tuple[bool, int]] = field(default_factory=dict)  # kind -> (last, run)

    def count(self, kind: str, ok: bool) -> int:
        """Record a result; how many consecutive results like it there have been."""
        last, run = self.counts.get(kind, (ok, 0))
        run = run + 1 if last == ok else 1
        self.counts[kind] = (ok, run)
        return run


def has_probes(spec: dict[str, Any]) -> bool:
    return any(isinstance(spec.get(k), dict) for k in KINDS)


def resolve_port(container: dict[str, Any], port: Any) -> int | None:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    text = str(port)
    if text.isdigit():
        return int(text)
    for p in container.get("ports") or []:
        if isinstance(p, dict) and p.get("name") == text:
            with contextlib.suppress(TypeError, ValueError):
                return int(p.get("containerPort") or 0) or None
    return None


def health_status(worker: PodWorker) -> int:
    """The status a listening server's health endpoint answers: a `health` fault set on
    the pod, or on the Deployment that owns it (through its ReplicaSet), else 200."""
    faults = agents(worker.kubelet.cluster).settings.health
    if not faults:
        return 200
    names = [f"pod/{worker.name}"]
    for ref in (worker.pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") != "ReplicaSet":
            continue
        rs = worker.store.peek("replicasets", worker.namespace, str(ref.get("name")))
        for owner in ((rs or {}).get("metadata") or {}).get("ownerReferences") or []:
            if owner.get("kind") == "Deployment":
                names.append(f"deployment/{owner.get('name')}")
    for name in names:
        status = faults.get((worker.namespace, name))
        if status is not None:
            return status
    return 200


class ContainerProber:
    """The probe tasks of one running container instance."""

    def __init__(
        self,
        worker: PodWorker,
        run: ContainerRun,
        state: ProbeState,
        instance_key: str,
        on_change: Callable[[], None],
    ) -> None:
        self.worker = worker
        self.run = run
        self.state = state
        self.key = instance_key
        self.on_change = on_change
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        spec = self.run.spec
        if not isinstance(spec.get("startupProbe"), dict):
            self.state.started = True
        for kind in KINDS:
            probe = spec.get(kind)
            if isinstance(probe, dict):
                name = f"{kind} {self.worker.namespace}/{self.worker.name}/{self.run.name}"
                self._tasks.append(asyncio.create_task(self._loop(kind, probe), name=name))

    async def stop(self) -> None:
        """Cancel every probe task of the instance and wait for them to end."""
        me = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not me and not t.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    # -- the loop ---------------------------------------------------------------------------

    async def _loop(self, kind: str, probe: dict[str, Any]) -> None:
        period = max(float(probe.get("periodSeconds") or 10), 0.001)
        await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
        while not self.state.killing:
            if kind == "startupProbe":
                if self.state.started:
                    return
                await self._startup(probe)
            elif self.state.started:
                if kind == "livenessProbe":
                    await self._liveness(probe)
                else:
                    await self._readiness(probe)
            await asyncio.sleep(period)

    async def _startup(self, probe: dict[str, Any]) -> None:
        ok, _ = await self.check("startupProbe", probe)
        if ok:
            self.state.count("startupProbe", True)
            self.state.started = True
            self.on_change()
            return
        if self.state.count("startupProbe", False) >= int(probe.get("failureThreshold") or 3):
            await self._kill("startup", probe)

    async def _liveness(self, probe: dict[str, Any]) -> None:
        ok, _ = await self.check("livenessProbe", probe)
        runs = self.state.count("livenessProbe", ok)
        if not ok and runs >= int(probe.get("failureThreshold") or 3):
            await self._kill("liveness", probe)

    async def _readiness(self, probe: dict[str, Any]) -> None:
        ok, _ = await self.check("readinessProbe", probe)
        runs = self.state.count("readinessProbe", ok)
        need = (
            int(probe.get("successThreshold") or 1)
            if ok
            else int(probe.get("failureThreshold") or 3)
        )
        if runs >= need and self.state.ready != ok:
            self.state.ready = ok
            self.on_change()

    async def _kill(self, why: str, probe: dict[str, Any]) -> None:
        """Killing event, SIGTERM (ignored by the stand-ins), SIGKILL after the grace period."""
        self.state.killing = True
        self.worker.container_event(
            self.run, "Killing", f"Container {self.run.name} failed {why} probe, will be restarted"
        )
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = self.worker.spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE)
        await asyncio.sleep(max(float(grace or 0), 0.0))
        kill_instance(self.key)

    # -- one probe --------------------------------------------------------------------------

    async def check(self, kind: str, probe: dict[str, Any]) -> tuple[bool, str]:
        """Run one probe; on failure record the `Unhealthy` event. (passed, output)"""
        try:
            ok, output = await self._handler(probe)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a probe that cannot run is a failed probe, not a crash
            log.exception("probe of %s/%s failed to run", self.worker.name, self.run.name)
            ok, output = False, str(exc)
        if not ok:
            self.worker.container_event(
                self.run, "Unhealthy", f"{KINDS[kind]} probe failed: {output}", type="Warning"
            )
        return ok, output

    async def _handler(self, probe: dict[str, Any]) -> tuple[bool, str]:
        if isinstance(probe.get("exec"), dict):
            return await self._exec(probe)
        if isinstance(probe.get("httpGet"), dict):
            return self._http(probe["httpGet"])
        if isinstance(probe.get("tcpSocket"), dict):
            return self._tcp(probe["tcpSocket"])
        return True, ""  # grpc: not modelled

    def _target(self, action: dict[str, Any]) -> tuple[str, int | None, bool]:
        host = str(action.get("host") or self.worker.pod_ip)
        port = resolve_port(self.run.spec, action.get("port"))
        listening = self.state.listening
        return host, port, listening is not None and port is not None and port in listening

    def _http(self, action: dict[str, Any]) -> tuple[bool, str]:
        host, port, up = self._target(action)
        scheme = str(action.get("scheme") or "HTTP").lower()
        path = str(action.get("path") or "/")
        if not path.startswith("/"):
            path = "/" + path
        shown = port if port is not None else action.get("port")
        if not up:
            return False, (
                f'Get "{scheme}://{host}:{shown}{path}": dial tcp {host}:{shown}: '
                "connect: connection refused"
            )
        status = health_status(self.worker)
        if 200 <= status < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {status}"

    def _tcp(self, action: dict[str, Any]) -> tuple[bool, str]:
        host, port, up = self._target(action)
        if up:
            return True, ""
        shown = port if port is not None else action.get("port")
        return False, f"dial tcp {host}:{shown}: connect: connection refused"

    async def _exec(self, probe: dict[str, Any]) -> tuple[bool, str]:
        argv = [str(a) for a in probe["exec"].get("command") or []]
        if self.run.fs is None or not argv:
            return False, "no command"
        out = bytearray()

        async def write(data: bytes) -> None:
            if len(out) < MAX_OUTPUT:
                out.extend(data[: MAX_OUTPUT - len(out)])

        scratch = self.worker.kubelet.volumes.pod_dir(self.worker.uid) / "scratch-probe"
        ctx = ProcContext(
            fs=self.run.fs,
            io=CallbackIO(write, write),
            env=dict(self.run.env),
            root=self.worker.kubelet.root,
            scratch=scratch,
            cwd=str(self.run.spec.get("workingDir") or "/"),
            pod=self.worker.name,
            container=self.run.name,
        )
        timeout = float(probe.get("timeoutSeconds") or 1)
        try:
            code = await asyncio.wait_for(run_command(argv, ctx), timeout)
        except asyncio.TimeoutError:
            return False, f'command "{" ".join(argv)}" timed out'
        return code == 0, out.decode(errors="replace")
