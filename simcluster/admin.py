"""Faults at run time: a Python API on a running cluster, and the same as admin HTTP routes.

    admin = SimAdmin(cluster)                    # on the cluster's loop
    await admin.stall_download("smallest", "lightning-asr-abc")
    await admin.corrupt_file("smallest", "v1/model.bin", claim="models-aws-efs-pvc")
    admin.api_outage(10, status=503)

The HTTP routes live outside `/api` (kubectl and the official client never go there) and
take the admin Bearer token: `GET /_sim/status`, `POST /_sim/faults/<action>` with a JSON
body, where action is stall, resume, corrupt, kill, fill, unfill, api-outage,
drop-watches, delete-node, node-down, node-up, node-not-ready, node-ready, model, image or
health. `asr-cache-sim
fault ...` calls them from a shell. Every refusal is a Kubernetes-style Status with one
sentence saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from aiohttp import web

from simcluster.errors import ApiError
from simcluster.kubelet.fs import FsError
from simcluster.kubelet.images import ImageError
from simcluster.kubelet.network import network_down, network_up
from simcluster.kubelet.power import power_off, power_on
from simcluster.kubelet.programs.supervise import (
    Running,
    key_of,
    kill,
    pause,
    resume,
    running_under,
)
from simcluster.kubelet.registry import agents
from simcluster.scenarios.loader import ScenarioError, check_fault_request
from simcluster.scenarios.runner import runtime_for

FILL_NAME = ".sim-fill"
MAX_BODY = 64 * 1024


def _error(code: int, message: str) -> ApiError:
    reason = {400: "BadRequest", 404: "NotFound", 409: "Conflict", 403: "Forbidden"}.get(
        code, "InternalError"
    )
    return ApiError(code, reason, message)


class SimAdmin:
    """Run-time faults on one cluster. Methods run on the cluster's loop."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster

    # -- lookups ------------------------------------------------------------------------------

    def _pod(self, namespace: str, name: str) -> dict[str, Any]:
        pod = self.cluster.store.peek("pods", namespace, name)
        if pod is None:
            raise _error(404, f"pod {namespace}/{name} does not exist")
        return pod

    def _pod_dir(self, pod: dict[str, Any]) -> Path:
        return agents(self.cluster).volumes.pod_dir(pod["metadata"]["uid"])

    def _running(self, namespace: str, name: str) -> list[Running]:
        pod = self._pod(namespace, name)
        found = running_under(self._pod_dir(pod))
        if not found:
            raise _error(409, f"pod {namespace}/{name} has no running container")
        return found

    def _runtime(self) -> Any:
        runtime = runtime_for(self.cluster)
        if runtime is None:
            raise _error(409, "no scenario is running on this cluster, so it has no models")
        return runtime

    # -- downloads ----------------------------------------------------------------------------

    async def stall_download(self, namespace: str, pod: str) -> dict[str, Any]:
        """Freeze a pod's download where it is: its processes stop, its stand-ins wait."""
        entries = self._running(namespace, pod)
        stopped = sum(pause(e.key) for e in entries)
        return {
            "message": f"stalled pod {namespace}/{pod} ({stopped} process(es) stopped)",
            "processes": stopped,
        }

    async def resume_download(self, namespace: str, pod: str) -> dict[str, Any]:
        entries = self._running(namespace, pod)
        resumed = sum(resume(e.key) for e in entries)
        return {
            "message": f"resumed pod {namespace}/{pod} ({resumed} process(es) continued)",
            "processes": resumed,
        }

    async def kill_container(
        self, namespace: str, pod: str, container: str | None = None
    ) -> dict[str, Any]:
        """Kill a running container as `kill -9` would: exit 137, then its restart policy."""
        obj = self._pod(namespace, pod)
        spec = obj.get("spec") or {}
        names = [c["name"] for c in spec.get("containers") or []] + [
            c["name"] for c in spec.get("initContainers") or []
        ]
        if container is not None and container not in names:
            raise _error(404, f"pod {namespace}/{pod} has no container {container!r}")
        pod_dir = self._pod_dir(obj)
        for name in [container] if container else names:
            key = key_of(pod_dir / f"scratch-{name}")
            if kill(key):
                return {"message": f"killed container {name} of pod {namespace}/{pod}"}
        which = f"container {container}" if container else "no container"
        raise _error(409, f"pod {namespace}/{pod}: {which} is running")

    # -- volumes ------------------------------------------------------------------------------

    def _claim_dir(self, namespace: str, claim: str) -> Path:
        if self.cluster.store.peek("persistentvolumeclaims", namespace, claim) is None:
            raise _error(404, f"persistentvolumeclaim {namespace}/{claim} does not exist")
        path = agents(self.cluster).volumes.pvc_path(namespace, claim)
        if not path.is_dir():
            raise _error(409, f"persistentvolumeclaim {namespace}/{claim} is not mounted yet")
        return path

    def _file_in_claim(self, namespace: str, claim: str, path: str) -> Path:
        root = self._claim_dir(namespace, claim).resolve()
        parts = [p for p in path.split("/") if p and p != "."]
        if not parts or ".." in parts:
            raise _error(400, f"path {path!r} must name a file inside the volume")
        target = root.joinpath(*parts)
        if root not in target.resolve().parents:
            raise _error(400, f"path {path!r} leaves the volume")
        return target

    def _file_in_pod(self, namespace: str, pod: str, container: str | None, path: str) -> Path:
        obj = self._pod(namespace, pod)
        node = (obj.get("spec") or {}).get("nodeName", "")
        kubelet = agents(self.cluster).kubelets.get(node)
        worker = kubelet.find(namespace, pod) if kubelet is not None else None
        if worker is None:
            raise _error(409, f"pod {namespace}/{pod} is not running on a node")
        runs = [r for r in worker.containers.values() if r.fs is not None]
        if container is not None:
            runs = [r for r in runs if r.name == container]
        if not runs:
            raise _error(409, f"pod {namespace}/{pod} has no started container to look into")
        fs = runs[0].fs
        assert fs is not None
        try:
            resolved = fs.resolve(path)
        except FsError as exc:
            raise _error(404, f"{path}: {exc.strerror} in pod {namespace}/{pod}") from None
        if resolved.host is None or resolved.mount is None or resolved.mount.kind == "image":
            raise _error(400, f"{path} is not on a volume of pod {namespace}/{pod}")
        return resolved.host

    async def corrupt_file(
        self,
        namespace: str,
        path: str,
        claim: str | None = None,
        pod: str | None = None,
        container: str | None = None,
        offset: int | None = None,
    ) -> dict[str, Any]:
        """Flip one byte of a file on a volume (the middle one unless `offset` is given)."""
        if (claim is None) == (pod is None):
            raise _error(400, "name the volume's claim or a pod (exactly one of them)")
        if claim is not None:
            host = self._file_in_claim(namespace, claim, path)
        else:
            host = self._file_in_pod(namespace, pod or "", container, path)
        try:
            at = await asyncio.to_thread(_flip_byte, host, offset)
        except OSError as exc:
            raise _error(409, f"cannot corrupt {path}: {exc.strerror or exc}") from None
        where = f"claim {claim}" if claim else f"pod {pod}"
        return {"message": f"flipped the byte at offset {at} of {path} on {where}", "offset": at}

    async def fill_volume(self, namespace: str, claim: str, leave: int = 0) -> dict[str, Any]:
        """Fill a size-limited claim until only `leave` bytes are free."""
        root = self._claim_dir(namespace, claim)
        if not await asyncio.to_thread(os.path.ismount, root):
            raise _error(
                409,
                f"persistentvolumeclaim {namespace}/{claim} is not size-limited (EFS, or the "
                "simulator is not running as root), so filling it would fill the host disk",
            )
        try:
            written = await asyncio.to_thread(_fill, root / FILL_NAME, leave)
        except OSError as exc:
            raise _error(409, f"cannot fill {claim}: {exc.strerror or exc}") from None
        return {"message": f"filled {claim} with {written} bytes ({FILL_NAME})", "bytes": written}

    async def unfill_volume(self, namespace: str, claim: str) -> dict[str, Any]:
        root = self._claim_dir(namespace, claim)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(os.unlink, root / FILL_NAME)
        return {"message": f"removed the filler from {claim}"}

    # -- API server and nodes -----------------------------------------------------------------

    def api_outage(self, seconds: float, status: int = 503) -> dict[str, Any]:
        if not 0 <= seconds <= 3600:
            raise _error(400, f"seconds must be between 0 and 3600, got {seconds}")
        if status not in (429, 500, 502, 503, 504):
            raise _error(400, f"status must be 429, 500, 502, 503 or 504, got {status}")
        self.cluster.set_api_outage(seconds, status)
        return {"message": f"the API answers {status} for {seconds:g} s"}

    def drop_watches(self) -> dict[str, Any]:
        n = self.cluster.drop_watches()
        return {"message": f"closed {n} watch stream(s)", "closed": n}

    async def delete_node(self, name: str) -> dict[str, Any]:
        """Lose a node: its kubelet stops, the Node goes, its pods are garbage-collected."""
        store = self.cluster.store
        if store.peek("nodes", None, name) is None:
            raise _error(404, f"node {name} does not exist")
        pods, _ = store.list("pods", field_selector=f"spec.nodeName={name}")
        await self.cluster.remove_node(name)
        for pod in pods:
            meta = pod["metadata"]
            with contextlib.suppress(ApiError):
                store.delete("pods", meta["namespace"], meta["name"], grace=False)
        return {"message": f"deleted node {name} and its {len(pods)} pod(s)", "pods": len(pods)}

    def _kubelet(self, name: str) -> Any:
        if self.cluster.store.peek("nodes", None, name) is None:
            raise _error(404, f"node {name} does not exist")
        kubelet = agents(self.cluster).kubelets.get(name)
        if kubelet is None:
            raise _error(409, f"node {name} has no kubelet in this simulator")
        return kubelet

    async def node_down(self, name: str) -> dict[str, Any]:
        """Cut a node's power or network: its kubelet goes silent, its containers are gone."""
        kubelet = self._kubelet(name)
        if not kubelet.powered:
            raise _error(409, f"node {name} is already down")
        pods = len(kubelet.pods)
        await power_off(kubelet)
        grace = getattr(self.cluster, "node_monitor_grace", None)
        after = f"; NotReady after {grace:g} s" if grace is not None else ""
        return {"message": f"node {name} is down ({pods} pod(s) lost their containers{after})"}

    async def node_up(self, name: str) -> dict[str, Any]:
        """Bring a downed node back: Ready again, its pods restarted or finally removed."""
        kubelet = self._kubelet(name)
        if kubelet.powered:
            raise _error(409, f"node {name} is not down")
        await power_on(kubelet)
        return {"message": f"node {name} is up ({len(kubelet.pods)} pod(s) restarting)"}

    def node_not_ready(self, name: str) -> dict[str, Any]:
        """Break a node's container network: its kubelet answers but posts Ready False, its
        containers keep running, and nothing new starts there (`kubelet/network.py`)."""
        kubelet = self._kubelet(name)
        if not kubelet.powered:
            raise _error(409, f"node {name} is down: power it on first (node-up)")
        if kubelet.network_error is not None:
            raise _error(409, f"node {name} is already NotReady")
        network_down(kubelet)
        return {
            "message": f"node {name} is NotReady ({kubelet.network_error}); its "
            f"{len(kubelet.pods)} pod(s) keep running, nothing new starts there"
        }

    def node_ready(self, name: str) -> dict[str, Any]:
        """Mend a node's container network: Ready again, and its waiting pods start."""
        kubelet = self._kubelet(name)
        if not kubelet.powered:
            raise _error(409, f"node {name} is down: power it on first (node-up)")
        if kubelet.network_error is None:
            raise _error(409, f"node {name} is not NotReady (node-not-ready makes it so)")
        network_up(kubelet)
        return {"message": f"node {name} is Ready"}

    # -- the model server ---------------------------------------------------------------------

    def model_faults(
        self, model: str, fields: dict[str, Any], clear: bool = False
    ) -> dict[str, Any]:
        """Set a model's faults (the scenario's speed cap kept), or clear them (`clear`)."""
        runtime = self._runtime()
        try:
            runtime.model_path(model)
        except LookupError as exc:
            raise _error(404, str(exc)) from None
        if clear:
            runtime.clear_faults(model)
            return {"message": f"cleared the faults of model {model}"}
        try:
            checked = check_fault_request(model, list(runtime.scenario.models), fields)
        except ScenarioError as exc:
            raise _error(400, exc.why) from None
        faults = runtime.set_faults(model, checked)
        return {"message": f"model {model}: {faults}"}

    # -- the image registry -------------------------------------------------------------------

    def image(self, image: str, refuse: str | None = None) -> dict[str, Any]:
        """Make the registry refuse an image ("not-found", "unauthorized"), or serve it again."""
        registry = agents(self.cluster).images
        if refuse is None:
            if not registry.publish(image):
                raise _error(404, f"the registry refuses no image named {image}")
            return {"message": f"the registry serves {image} now"}
        try:
            registry.refuse(image, refuse)
        except ImageError as exc:
            raise _error(400, str(exc)) from None
        return {"message": f"the registry refuses {image} ({refuse})"}

    # -- health endpoints ---------------------------------------------------------------------

    def health(self, namespace: str, target: str, status: int | None) -> dict[str, Any]:
        """Make the health endpoint of a pod's servers (or of every pod of a Deployment, now
        and later) answer HTTP `status` to probes; None clears it (200 again).

        `target` is `pod/NAME`, `deployment/NAME`, or a bare name: the pod if there is one,
        else the Deployment.
        """
        kind, slash, name = target.partition("/")
        if not slash:
            kind, name = "", target
        kind = {
            "po": "pod",
            "pods": "pod",
            "deploy": "deployment",
            "deployments": "deployment",
        }.get(kind, kind)
        store = self.cluster.store
        if kind == "":
            if store.peek("pods", namespace, name) is not None:
                kind = "pod"
            elif store.peek("deployments", namespace, name) is not None:
                kind = "deployment"
            else:
                raise _error(404, f"no pod or deployment {namespace}/{name}")
        elif kind not in ("pod", "deployment"):
            raise _error(400, f"health takes a pod or a deployment, not {kind!r}")
        elif store.peek(f"{kind}s", namespace, name) is None:
            raise _error(404, f"{kind} {namespace}/{name} does not exist")
        health = agents(self.cluster).settings.health
        key = (namespace, f"{kind}/{name}")
        if status is None:
            if health.pop(key, None) is None:
                raise _error(404, f"{kind} {namespace}/{name} has no health fault")
            return {"message": f"health of {kind} {namespace}/{name} answers 200 again"}
        if not 100 <= status <= 599:
            raise _error(400, f"'status' must be an HTTP status (100-599), got {status}")
        health[key] = status
        return {"message": f"health of {kind} {namespace}/{name} answers {status}"}

    def status(self) -> dict[str, Any]:
        runtime = runtime_for(self.cluster)
        out: dict[str, Any] = {
            "server": self.cluster.url,
            "scenario": runtime.name if runtime is not None else None,
            "nodes": sorted(agents(self.cluster).kubelets),
            "refused_images": agents(self.cluster).images.refused(),
            "models": {},
        }
        if runtime is not None:
            ms = runtime.model_server
            for name, f in runtime.models.items():
                st = ms.stats(f.path)
                out["models"][name] = {
                    "url": ms.url(f.path),
                    "size": f.size,
                    "sha256": f.sha256,
                    "requests": st.requests,
                    "bytes_sent": st.bytes_sent,
                    "statuses": {str(k): v for k, v in st.statuses.items()},
                    "stalls": st.stalls,
                    "drops": st.drops,
                }
        return out


def _flip_byte(path: Path, offset: int | None) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            raise OSError(errno.EINVAL, "not a non-empty regular file")
        at = st.st_size // 2 if offset is None else offset
        if not 0 <= at < st.st_size:
            raise OSError(errno.EINVAL, f"offset {at} is outside the file (size {st.st_size})")
        byte = os.pread(fd, 1, at)
        os.pwrite(fd, bytes([byte[0] ^ 0xFF]), at)
        return at
    finally:
        os.close(fd)


def _fill(path: Path, leave: int) -> int:
    st = os.statvfs(path.parent)
    free = st.f_bavail * st.f_frsize
    want = max(0, free - max(0, leave))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        start = os.fstat(fd).st_size
        if want:
            try:
                os.posix_fallocate(fd, start, want)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                want = 0
        return want
    finally:
        os.close(fd)


# -- HTTP -------------------------------------------------------------------------------------


def _text(body: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise _error(400, f"the request needs a {key!r} field")
        return None
    if not isinstance(value, str) or not value:
        raise _error(400, f"{key!r} must be non-empty text")
    return value


def _int(body: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _error(400, f"{key!r} must be a non-negative whole number")
    return value


def _number(body: dict[str, Any], key: str) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _error(400, f"the request needs {key!r} as a number")
    return float(value)


async def _dispatch(admin: SimAdmin, action: str, body: dict[str, Any]) -> dict[str, Any]:
    ns = _text(body, "namespace", required=False) or "smallest"
    if action in ("stall", "resume"):
        pod = _text(body, "pod") or ""
        if action == "stall":
            return await admin.stall_download(ns, pod)
        return await admin.resume_download(ns, pod)
    if action == "kill":
        return await admin.kill_container(
            ns, _text(body, "pod") or "", _text(body, "container", False)
        )
    if action == "corrupt":
        return await admin.corrupt_file(
            ns,
            _text(body, "path") or "",
            claim=_text(body, "claim", False),
            pod=_text(body, "pod", False),
            container=_text(body, "container", False),
            offset=_int(body, "offset"),
        )
    if action == "fill":
        return await admin.fill_volume(ns, _text(body, "claim") or "", _int(body, "leave", 0) or 0)
    if action == "unfill":
        return await admin.unfill_volume(ns, _text(body, "claim") or "")
    if action == "api-outage":
        return admin.api_outage(_number(body, "seconds"), _int(body, "status", 503) or 503)
    if action == "drop-watches":
        return admin.drop_watches()
    if action == "delete-node":
        return await admin.delete_node(_text(body, "node") or "")
    if action == "node-down":
        return await admin.node_down(_text(body, "node") or "")
    if action == "node-up":
        return await admin.node_up(_text(body, "node") or "")
    if action == "node-not-ready":
        return admin.node_not_ready(_text(body, "node") or "")
    if action == "node-ready":
        return admin.node_ready(_text(body, "node") or "")
    if action == "model":
        fields = body.get("faults") or {}
        if not isinstance(fields, dict):
            raise _error(400, "'faults' must be a mapping of fault fields")
        return admin.model_faults(_text(body, "model") or "", fields, bool(body.get("clear")))
    if action == "image":
        return admin.image(_text(body, "image") or "", _text(body, "refuse", required=False))
    if action == "health":
        status = None if body.get("clear") else _int(body, "status")
        if status is None and not body.get("clear"):
            raise _error(400, "the request needs a 'status' field, or 'clear'")
        return admin.health(ns, _text(body, "target") or "", status)
    raise _error(404, f"unknown fault {action!r}; known: {', '.join(ACTIONS)}")


ACTIONS = (
    "stall",
    "resume",
    "kill",
    "corrupt",
    "fill",
    "unfill",
    "api-outage",
    "drop-watches",
    "delete-node",
    "node-down",
    "node-up",
    "node-not-ready",
    "node-ready",
    "model",
    "image",
    "health",
)


def _require_admin(request: web.Request) -> None:
    from simcluster.apiserver.app import USER_KEY

    user = request.get(USER_KEY)
    if user is None or not getattr(user, "admin", False):
        raise _error(403, "the simulator's admin endpoint needs the admin token")


def _json(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(data, indent=1) + "\n", content_type="application/json"
    )


def add_admin_routes(app: web.Application, cluster: Any) -> None:
    """Register /_sim/status and /_sim/faults/{action} (called by the API server's factory)."""
    admin = SimAdmin(cluster)

    async def status(request: web.Request) -> web.Response:
        _require_admin(request)
        return _json(admin.status())

    async def fault(request: web.Request) -> web.Response:
        _require_admin(request)
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise _error(400, f"the request body is larger than {MAX_BODY} bytes")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise _error(400, "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise _error(400, "the request body must be a JSON object")
        result = await _dispatch(admin, request.match_info["action"], body)
        return _json({"ok": True, **result})

    app.router.add_get("/_sim/status", status)
    app.router.add_post("/_sim/faults/{action}", fault)
