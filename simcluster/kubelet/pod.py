"""One pod's life on its node: volumes, init containers, containers, restarts, status, deletion.

A `PodWorker` owns everything about one pod on a kubelet: it sets up the volumes, runs the
init containers in order and then the containers (each restarted per restartPolicy: at once
the first time, then with a scaled-down CrashLoopBackOff of 1 s, 2 s, 4 s, … capped at 10 s,
where a real kubelet waits 10 s, 20 s, … up to 5 min), keeps the per-container logs, runs
the containers' probes (`probes.py`), and writes the pod's status (phase, conditions,
container statuses) back to the store whenever something changes. Each container instance
gets a memory cgroup with its memory limit; one its program outgrows exits `OOMKilled` with
code 137, as a runtime reports it. Deletion stops the programs and then removes the pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import posixpath
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simcluster.errors import ApiError
from simcluster.events import record_event
from simcluster.kubelet.attachwait import POLL, AttachWait
from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.envsources import ConfigError, container_env, expand
from simcluster.kubelet.expand import volume_size
from simcluster.kubelet.fs import Mount, PodFS
from simcluster.kubelet.logs import ContainerLogs
from simcluster.kubelet.memory import MemoryCgroup, memory_limit
from simcluster.kubelet.network import EVENT_REASON as NETWORK_NOT_READY
from simcluster.kubelet.network import sandbox_refused
from simcluster.kubelet.objvolumes import MountError, is_object_volume, payload
from simcluster.kubelet.objvolumes import write as write_payload
from simcluster.kubelet.probes import ContainerProber, ProbeState, has_probes, resolve_port
from simcluster.kubelet.procio import CallbackIO
from simcluster.kubelet.programs import container_argv, run_container
from simcluster.kubelet.programs.supervise import key_of
from simcluster.kubelet.programs.supervise import kill as kill_instance
from simcluster.kubelet.pull import pull_credentials
from simcluster.kubelet.registry import agents
from simcluster.qos import pod_qos
from simcluster.store import now_rfc3339

if TYPE_CHECKING:
    from simcluster.kubelet.node import Kubelet

log = logging.getLogger("simcluster.kubelet")

BACKOFF_START = 1.0
BACKOFF_CAP = 10.0
BACKOFF_RESET_AFTER = 10.0  # an instance that ran this long resets the back-off
MOUNT_BACKOFF_START = 0.5  # a failed volume SetUp is retried after 0.5 s, doubling ...
MOUNT_BACKOFF_CAP = 2.0  # ... up to 2 s here (2m2s on a real node), or kubelet_retry if shorter
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class PodVolume:
    """A pod-level volume: where its data lives on the host, and what it reports."""

    name: str
    kind: str  # pvc | emptydir | configmap | secret
    host_path: Path
    claim: str = ""
    storage_class: str = ""
    capacity: int = 0
    tmpfs: bool = False
    read_only: bool = False

    def mount(self, container_path: str, sub_path: str = "", read_only: bool = False) -> Mount:
        host = self.host_path / sub_path if sub_path else self.host_path
        return Mount(
            container_path=container_path,
            host_path=host,
            read_only=read_only or self.read_only,
            volume=self.name,
            kind=self.kind,
            claim=self.claim,
            storage_class=self.storage_class,
            capacity=self.capacity,
            tmpfs=self.tmpfs and not sub_path,
        )


@dataclass
class ContainerRun:
    """The kubelet's record of one container: its status fields and its running task."""

    spec: dict[str, Any]
    init: bool
    logs: ContainerLogs
    state: dict[str, Any] = field(default_factory=dict)
    last_state: dict[str, Any] = field(default_factory=dict)
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    container_id: str = ""
    done: bool = False  # terminated and will not restart
    exit_code: int | None = None
    fs: PodFS | None = None
    env: dict[str, str] = field(default_factory=dict)
    probes: ProbeState = field(default_factory=ProbeState)  # the current instance's

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    @property
    def running(self) -> bool:
        return "running" in self.state

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "state": self.state,
            "lastState": self.last_state,
            "ready": self.ready,
            "restartCount": self.restart_count,
            "image": self.spec.get("image", ""),
            # the runtime's image ID, known once a container was created from the image
            "imageID": _image_id(str(self.spec.get("image", ""))) if self.container_id else "",
            "started": self.running and self.probes.started,
        }
        if self.container_id:
            out["containerID"] = self.container_id
        return out


def _image_id(image: str) -> str:
    return f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


class PodWorker:
    """Runs one pod and publishes its status."""

    def __init__(self, kubelet: Kubelet, pod: dict[str, Any], pod_ip: str) -> None:
        self.kubelet = kubelet
        self.store = kubelet.store
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.namespace: str = meta.get("namespace", "default")
        self.name: str = meta["name"]
        self.pod = pod
        self.pod_ip = pod_ip
        self.spec: dict[str, Any] = pod.get("spec") or {}
        self.restart_policy = self.spec.get("restartPolicy", "Always")
        self.containers: dict[str, ContainerRun] = {}
        for c in self.spec.get("initContainers") or []:
            self.containers[c["name"]] = ContainerRun(c, True, ContainerLogs(kubelet.log_bytes))
        for c in self.spec.get("containers") or []:
            self.containers[c["name"]] = ContainerRun(c, False, ContainerLogs(kubelet.log_bytes))
        self.volumes: dict[str, PodVolume] = {}
        self.phase = "Pending"
        self.initialized = not self.spec.get("initContainers")
        self.start_time = now_rfc3339()
        self.terminating = False
        self.finished = False
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._main: asyncio.Task[None] | None = None
        self._terminator: asyncio.Task[None] | None = None
        self.removed = False
        first_wait = "PodInitializing" if not self.initialized else "ContainerCreating"
        for run in self.containers.values():
            reason = first_wait if not run.init else "PodInitializing"
            run.state = {"waiting": {"reason": reason}}
        if self.spec.get("initContainers"):
            first = self.spec["initContainers"][0]["name"]
            self.containers[first].state = {"waiting": {"reason": "PodInitializing"}}

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._main = asyncio.create_task(self._run(), name=f"pod {self.namespace}/{self.name}")

    def update(self, pod: dict[str, Any]) -> None:
        """A newer version of our pod arrived from the store."""
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp") and not self.terminating:
            self.terminating = True
            self._terminator = asyncio.create_task(
                self._terminate(), name=f"terminate {self.namespace}/{self.name}"
            )

    async def kill(self) -> None:
        """Stop everything at once (the pod is gone from the store, or the node stops).

        A graceful stop under way is cancelled too (unless it is the caller), so that no
        task of this pod outlives the kubelet's loop.
        """
        self.terminating = True
        self._stop.set()
        me = asyncio.current_task()
        tasks = [
            t
            for t in (self._main, self._terminator, *self._tasks)
            if t is not None and t is not me and not t.done()
        ]
        for t in tasks:
            t.cancel()
        # gather, not `await t` under suppress(BaseException): that would also swallow a
        # cancellation of the caller (a graceful stop cancelled by the node stopping).
        await asyncio.gather(*tasks, return_exceptions=True)
        for run in self.containers.values():
            run.logs.current.close()

    async def _terminate(self) -> None:
        """Graceful deletion: Killing events, stop the programs, then remove the pod."""
        for run in self.containers.values():
            if run.running:
                self._event("Killing", f"Stopping container {run.name}", field_path=self._path(run))
        await self.kill()
        for run in self.containers.values():
            if run.running:
                self._terminated(run, 143, "Error")
        with contextlib.suppress(ApiError):
            self._publish()
        await self.kubelet.volumes.remove_pod(self.uid)
        with contextlib.suppress(ApiError):
            self.store.remove("pods", self.namespace, self.name)

    async def _run(self) -> None:
        try:
            self._publish()
            if not await self._network_ready() or not await self._setup_volumes():
                return
            for run in [r for r in self.containers.values() if r.init]:
                ok = await self._run_init(run)
                if not ok:
                    self._finish("Failed")
                    return
            self.initialized = True
            regular = [r for r in self.containers.values() if not r.init]
            for run in regular:
                run.state = {"waiting": {"reason": "ContainerCreating"}}
            self._publish()
            self._tasks = [asyncio.create_task(self._container_loop(r)) for r in regular]
            await asyncio.gather(*self._tasks)
            failed = any(r.exit_code for r in regular)
            self._finish("Failed" if failed else "Succeeded")
        except asyncio.CancelledError:
            raise
        except ApiError as exc:
            log.debug("pod %s/%s: %s", self.namespace, self.name, exc)
        except Exception:
            log.exception("pod worker %s/%s crashed", self.namespace, self.name)

    def _finish(self, phase: str) -> None:
        self.phase = phase
        self.finished = True
        self._publish()

    # -- volumes --------------------------------------------------------------------------

    async def _setup_volumes(self) -> bool:
        """Create every volume's host dir; a missing PVC is retried (FailedMount) each second,
        a block volume waits until it is attached to this node (see `attachwait`), and a
        Secret or ConfigMap volume that cannot be set up is retried with a growing back-off,
        a FailedMount event at each failure (see `objvolumes`)."""
        warned = False
        attach = AttachWait(self)
        backoff = 0.0
        while not self.terminating:
            missing = []
            failing = []
            for vol in self.spec.get("volumes") or []:
                name = vol.get("name", "")
                if name in self.volumes or not attach.ready(vol):
                    continue
                try:
                    made = await self._make_volume(vol)
                except MountError as exc:
                    failing.append(name)
                    self._event(
                        "FailedMount",
                        f'MountVolume.SetUp failed for volume "{name}" : {exc}',
                        type="Warning",
                    )
                    continue
                if made is None:
                    missing.append(name)
                else:
                    self.volumes[name] = made
                    self.kubelet.expander.mounted(self, made)
            if not missing and not failing and not attach.unattached:
                return True
            if missing and not warned:
                warned = True
                claims = ", ".join(missing)
                self._event(
                    "FailedMount",
                    f"Unable to attach or mount volumes: unmounted volumes=[{claims}]: "
                    "persistentvolumeclaim not found",
                    type="Warning",
                )
            attach.tick(failing)
            wait = POLL if attach.unattached else 1.0
            if failing:
                # durationBeforeRetry: 0.5 s doubling to 2m2s on a real node, scaled down
                cap = max(POLL, min(self.kubelet.retry, MOUNT_BACKOFF_CAP))
                backoff = min(backoff * 2 or MOUNT_BACKOFF_START, cap)
                wait = min(wait, backoff)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)
        return False

    async def _make_volume(self, vol: dict[str, Any]) -> PodVolume | None:
        name = vol.get("name", "")
        vm = self.kubelet.volumes
        if "persistentVolumeClaim" in vol:
            src = vol["persistentVolumeClaim"] or {}
            claim = src.get("claimName", "")
            pvc = self.store.peek("persistentvolumeclaims", self.namespace, claim)
            if pvc is None:
                return None
            pspec = pvc.get("spec") or {}
            size = volume_size(self.store, pvc)
            sc = str(pspec.get("storageClassName") or "")
            pv = await vm.pvc(self.namespace, claim, size, sc)
            return PodVolume(
                name, "pvc", pv.host_path, claim, sc, size, pv.tmpfs, bool(src.get("readOnly"))
            )
        if is_object_volume(vol):
            files = payload(self.store, self.namespace, vol)  # MountError when it cannot
            kind, prefix = ("secret", "secret") if "secret" in vol else ("configmap", "cm")
            path = vm.emptydir_path(self.uid, f"{prefix}-{name}")
            await asyncio.to_thread(write_payload, path, files)
            return PodVolume(name, kind, path, read_only=True)
        if "hostPath" in vol:
            self._event(
                "FailedMount",
                f"hostPath volume {name} is not supported by simcluster: an empty directory is"
                " mounted instead",
                type="Warning",
            )
        path = await vm.emptydir(self.uid, name)
        return PodVolume(name, "emptydir", path)

    def volume_resized(self, claim: str, capacity: int) -> None:
        """A claim's file system grew: what this pod reports of it (df, stats) says so."""
        for name, vol in list(self.volumes.items()):
            if vol.kind == "pvc" and vol.claim == claim:
                self.volumes[name] = dataclasses.replace(vol, capacity=capacity)
        for run in self.containers.values():
            if run.fs is not None:
                run.fs = run.fs.resized(claim, capacity)

    def event(self, reason: str, message: str, type: str = "Normal") -> None:
        """Record an event on this pod as its kubelet (for the kubelet's other managers)."""
        self._event(reason, message, type=type)

    async def _container_fs(self, run: ContainerRun) -> PodFS:
        mounts: list[Mount] = []
        for vm in run.spec.get("volumeMounts") or []:
            vol = self.volumes.get(vm.get("name", ""))
            if vol is None:
                continue
            sub = posixpath.normpath(str(vm.get("subPath") or "")).lstrip("/")
            if sub in (".", ""):
                sub = ""
            elif sub.startswith(".."):
                raise ValueError(f"subPath {vm.get('subPath')!r} must not contain '..'")
            if sub:
                await asyncio.to_thread((vol.host_path / sub).mkdir, parents=True, exist_ok=True)
            mounts.append(vol.mount(str(vm.get("mountPath", "")), sub, bool(vm.get("readOnly"))))
        image = str(run.spec.get("image", ""))
        files = await self.kubelet.images.pull(image)
        mounts.extend(self.kubelet.images.mounts(files, f"image:{image}"))
        return PodFS(mounts)

    # -- containers -----------------------------------------------------------------------

    async def _run_init(self, run: ContainerRun) -> bool:
        backoff = 0.0
        while not self.terminating:
            started = time.monotonic()
            code = await self._run_instance(run)
            if self.terminating:
                return False
            if code == 0:
                run.done = True
                return True
            if self.restart_policy == "Never":
                run.done = True
                return False
            backoff = await self._back_off(run, backoff, time.monotonic() - started)
        return False

    async def _container_loop(self, run: ContainerRun) -> None:
        backoff = 0.0
        while not self.terminating:
            started = time.monotonic()
            code = await self._run_instance(run)
            if self.terminating:
                return
            restart = self.restart_policy == "Always" or (
                self.restart_policy == "OnFailure" and code != 0
            )
            if not restart:
                run.done = True
                self._publish()
                return
            backoff = await self._back_off(run, backoff, time.monotonic() - started)

    async def _back_off(self, run: ContainerRun, backoff: float, ran: float) -> float:
        """Wait before the next restart; return the wait after it. A real kubelet restarts a
        container at once the first time (and after a long enough run), then backs off."""
        if ran >= BACKOFF_RESET_AFTER:
            backoff = 0.0
        if backoff <= 0:
            return BACKOFF_START
        if "terminated" in run.state:
            run.last_state = {"terminated": run.state["terminated"]}
        ref = f"{self.name}_{self.namespace}({self.uid})"
        run.state = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off {backoff:g}s restarting failed container={run.name} "
                f"pod={ref}",
            }
        }
        self._event(
            "BackOff",
            f"Back-off restarting failed container {run.name} in pod {ref}",
            type="Warning",
            field_path=self._path(run),
        )
        self._publish()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), backoff)
        return min(backoff * 2, BACKOFF_CAP)

    async def _prepare(self, run: ContainerRun) -> bool:
        """Pull the container's image and work out its config, as often as it takes.

        An image that cannot be pulled (ErrImagePull, ImagePullBackOff) or a config that
        cannot be made (CreateContainerConfigError: a missing Secret, ConfigMap or key, a bad
        subPath) leaves the container waiting with the kubelet's reason, message and events,
        and the kubelet tries again later. False once the pod is being deleted.
        """
        path = self._path(run)
        image = str(run.spec.get("image", ""))

        def on_container(reason: str, message: str, type: str) -> None:
            self._event(reason, message, type=type, field_path=path)

        def on_pod(reason: str, message: str, type: str) -> None:
            self._event(reason, message, type=type)

        while not self.terminating:
            credentials = pull_credentials(self.store, self.pod, on_pod)
            pulled = await self.kubelet.puller.ensure(self.pod, image, on_container, credentials)
            if pulled.ok:
                try:
                    if run.fs is None:
                        run.fs = await self._container_fs(run)
                    run.env = self._env(run.spec)
                    return True
                except (ConfigError, ValueError) as exc:
                    reason, message = "CreateContainerConfigError", str(exc)
                    self._event("Failed", f"Error: {message}", type="Warning", field_path=path)
                    wait = self.kubelet.retry
            else:
                reason, message, wait = pulled.reason, pulled.message, pulled.retry_in
                self._event("Failed", f"Error: {reason}", type="Warning", field_path=path)
            run.state = {"waiting": {"reason": reason, "message": message}}
            self._publish()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)
        return False

    async def _network_ready(self) -> bool:
        """Wait while the node's network is not ready (`network.py`): the kubelet's sync ends
        early then, with a NetworkNotReady event at each try, every `kubelet.retry` seconds.
        False once the pod is being deleted."""
        while (refused := sandbox_refused(self.kubelet, self.spec)) and not self.terminating:
            self._event(NETWORK_NOT_READY, refused, type="Warning")
            deadline = time.monotonic() + self.kubelet.retry
            while (
                sandbox_refused(self.kubelet, self.spec)
                and not self.terminating
                and time.monotonic() < deadline
            ):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), POLL)
        return not self.terminating

    async def _run_instance(self, run: ContainerRun) -> int:
        """Start one instance of a container and wait for its exit code."""
        if not await self._network_ready() or not await self._prepare(run):
            return 1
        assert run.fs is not None
        path = self._path(run)
        if run.started:
            run.restart_count += 1
            if "terminated" in run.state:
                run.last_state = {"terminated": run.state["terminated"]}
        buffer = run.logs.new_instance()
        run.started = True
        argv = [expand(a, run.env) for a in container_argv(run.spec)]
        run.container_id = (
            "containerd://"
            + hashlib.sha256(f"{self.uid}/{run.name}/{run.restart_count}".encode()).hexdigest()
        )
        self._event("Created", f"Created container: {run.name}", field_path=path)
        run.state = {"running": {"startedAt": now_rfc3339()}}
        run.ready = False
        run.probes = ProbeState(started=not isinstance(run.spec.get("startupProbe"), dict))
        self._event("Started", f"Started container {run.name}", field_path=path)
        if not run.init and self.phase == "Pending":
            self.phase = "Running"
        self._publish()

        async def write(data: bytes) -> None:
            buffer.write(data)

        def on_ready(ports: frozenset[int] | None) -> None:
            if ports is None:
                ports = frozenset(
                    n
                    for p in run.spec.get("ports") or []
                    if (n := resolve_port(run.spec, p.get("containerPort"))) is not None
                )
            run.probes.listening = ports
            self._update_ready(run)

        scratch = self.kubelet.volumes.pod_dir(self.uid) / f"scratch-{run.name}"
        prober = None
        if not run.init and has_probes(run.spec):
            prober = ContainerProber(
                self, run, run.probes, key_of(scratch), partial(self._update_ready, run, True)
            )
            prober.start()
        # a fresh cgroup per instance; the OOM killer's SIGKILL is `kill` on the instance
        memory = MemoryCgroup(memory_limit(run.spec), kill=partial(kill_instance, key_of(scratch)))
        ctx = ProcContext(
            fs=run.fs,
            io=CallbackIO(write, write),
            env=run.env,
            root=self.kubelet.root,
            scratch=scratch,
            cwd=str(run.spec.get("workingDir") or "/"),
            pod=self.name,
            container=run.name,
            on_ready=on_ready,
            memory=memory,
            load_memory_factor=agents(self.kubelet.cluster).settings.load_memory_factor,
        )
        try:
            code = await run_container(run.spec, argv, ctx)
        except asyncio.CancelledError:
            buffer.close()
            raise
        except Exception as exc:
            log.exception("container %s of %s/%s crashed", run.name, self.namespace, self.name)
            buffer.write(f"simcluster: the program crashed: {exc!r}\n".encode())
            code = 1
        finally:
            if prober is not None:  # no probe outlives its instance
                await prober.stop()
        buffer.close()
        self._terminated(run, code, _exit_reason(code, memory))
        self._publish()
        return code

    def _update_ready(self, run: ContainerRun, publish: bool = False) -> None:
        """Work out the container's readiness: with a readiness probe, what it says; without
        one, whether the program is up; never before a startup probe passed."""
        st = run.probes
        if run.init or not run.running or not st.started:
            ready = False
        elif isinstance(run.spec.get("readinessProbe"), dict):
            ready = st.ready
        else:
            ready = st.listening is not None
        if ready != run.ready or publish:
            run.ready = ready
            self._publish()

    def container_event(
        self, run: ContainerRun, reason: str, message: str, type: str = "Normal"
    ) -> None:
        """An event about one of our containers (the probes record theirs here)."""
        self._event(reason, message, type=type, field_path=self._path(run))

    def _terminated(self, run: ContainerRun, code: int, reason: str) -> None:
        started = (run.state.get("running") or {}).get("startedAt", now_rfc3339())
        run.state = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": started,
                "finishedAt": now_rfc3339(),
                "containerID": run.container_id,
            }
        }
        run.exit_code = code
        run.ready = False

    def _env(self, spec: dict[str, Any]) -> dict[str, str]:
        """The container's environment; ConfigError when a Secret or ConfigMap is missing."""
        base = {
            "PATH": DEFAULT_PATH,
            "HOSTNAME": self.name,
            "HOME": "/root",
            "KUBERNETES_SERVICE_HOST": "10.96.0.1",
            "KUBERNETES_SERVICE_PORT": "443",
        }
        fields = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "metadata.uid": self.uid,
            "spec.nodeName": self.kubelet.node_name,
            "status.podIP": self.pod_ip,
            "status.hostIP": self.kubelet.host_ip,
        }
        return container_env(self.store, self.namespace, spec, base, fields)

    # -- status ---------------------------------------------------------------------------

    def _path(self, run: ContainerRun) -> str:
        kind = "initContainers" if run.init else "containers"
        return f"spec.{kind}{{{run.name}}}"

    def _event(
        self, reason: str, message: str, type: str = "Normal", field_path: str | None = None
    ) -> None:
        if self.removed or not self.kubelet.powered:
            return
        record_event(
            self.store,
            self.pod,
            reason,
            message,
            type=type,
            component="kubelet",
            field_path=field_path,
            host=self.kubelet.node_name,
        )

    def _publish(self) -> None:
        """Write the pod's status as the kubelet sees it now (nothing once its node is down)."""
        if self.removed or not self.kubelet.powered:
            return
        regular = [r for r in self.containers.values() if not r.init]
        inits = [r for r in self.containers.values() if r.init]
        all_ready = bool(regular) and all(r.ready for r in regular)
        phase = self.phase
        if not self.finished and self.initialized and any(r.started for r in regular):
            phase = "Running"
        sandbox = all(v.get("name", "") in self.volumes for v in self.spec.get("volumes") or [])
        wanted = {
            "PodReadyToStartContainers": sandbox,
            "Initialized": self.initialized,
            "Ready": all_ready,
            "ContainersReady": all_ready,
            "PodScheduled": True,
        }
        status: dict[str, Any] = {
            "phase": phase,
            "hostIP": self.kubelet.host_ip,
            "hostIPs": [{"ip": self.kubelet.host_ip}],
            "podIP": self.pod_ip,
            "podIPs": [{"ip": self.pod_ip}],
            "startTime": self.start_time,
            "qosClass": pod_qos(self.spec),
            "containerStatuses": [r.status() for r in regular],
        }
        if inits:
            status["initContainerStatuses"] = [r.status() for r in inits]
        if not sandbox:  # no pod sandbox before the volumes are mounted, so no pod IP yet
            del status["podIP"], status["podIPs"]

        def apply(pod: dict[str, Any]) -> None:
            old = pod.get("status") or {}
            old_conds = {c.get("type"): c for c in old.get("conditions") or []}
            conds = []
            for ctype, ok in wanted.items():
                value = "True" if ok else "False"
                prev = old_conds.get(ctype)
                if prev is not None and prev.get("status") == value:
                    conds.append(prev)
                    continue
                cond: dict[str, Any] = {
                    "type": ctype,
                    "status": value,
                    "lastProbeTime": None,
                    "lastTransitionTime": now_rfc3339(),
                }
                if not ok and ctype in ("Ready", "ContainersReady"):
                    cond["reason"] = "ContainersNotReady"
                    names = " ".join(r.name for r in regular if not r.ready)
                    cond["message"] = f"containers with unready status: [{names}]"
                elif not ok and ctype == "Initialized":
                    cond["reason"] = "ContainersNotInitialized"
                    names = " ".join(r.name for r in inits if not r.done)
                    cond["message"] = f"containers with incomplete status: [{names}]"
                conds.append(cond)
            # conditions others own (DisruptionTarget, readiness gates) stay as they are
            conds += [c for t, c in old_conds.items() if t not in wanted]
            new = dict(old)
            new.update(status)
            new["conditions"] = conds
            pod["status"] = new

        self.pod = self.store.mutate("pods", self.namespace, self.name, apply)

    # -- what exec and logs need ----------------------------------------------------------

    def container(self, name: str) -> ContainerRun | None:
        return self.containers.get(name)


def _exit_reason(code: int, memory: MemoryCgroup) -> str:
    """The runtime's word for an exit: an OOM kill in the container's cgroup trumps the code."""
    if memory.oom_killed:
        return "OOMKilled"
    return "Completed" if code == 0 else "Error"
