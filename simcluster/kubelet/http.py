"""The kubelet's HTTP surface as the API server proxies it: pod logs, exec, node proxy.

    add_kubelet_routes(app, cluster)   # before the API server's generic routes

GET /api/v1/namespaces/{ns}/pods/{name}/log    (container, follow, previous, tailLines,
    sinceSeconds, sinceTime, timestamps, limitBytes) -> chunked text/plain
GET /api/v1/namespaces/{ns}/pods/{name}/exec   (command…, container, stdin, stdout, stderr,
    tty) with Upgrade: websocket -> the channel protocol (exec_ws.py)
GET /api/v1/nodes/{node}/proxy/{path}          stats/summary (also stats%2Fsummary), healthz
Errors are `Status` objects with the codes and messages kube-apiserver gives.
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from simcluster import errors
from simcluster.errors import ApiError
from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.exec_ws import PROTOCOLS, offered_protocols, serve_exec
from simcluster.kubelet.logs import LogBuffer, LogLine
from simcluster.kubelet.node import Kubelet
from simcluster.kubelet.pod import ContainerRun, PodWorker
from simcluster.kubelet.procio import ProcIO
from simcluster.kubelet.registry import agents
from simcluster.kubelet.stats import summary_async
from simcluster.kubelet.unreachable import exec_error, kubelet_down, logs_error, proxy_error

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
_TRUE = ("true", "1", "True")
CLUSTER_KEY: web.AppKey[Any] = web.AppKey("simcluster.kubelet.cluster", object)


def add_kubelet_routes(app: web.Application, cluster: Any) -> None:
    app[CLUSTER_KEY] = cluster
    app.router.add_get("/api/v1/namespaces/{namespace}/pods/{name}/log", _logs)
    app.router.add_get("/api/v1/namespaces/{namespace}/pods/{name}/exec", _exec)
    app.router.add_post("/api/v1/namespaces/{namespace}/pods/{name}/exec", _exec)
    app.router.add_get("/api/v1/nodes/{node}/proxy/{path:.*}", _node_proxy)


def _status(exc: ApiError) -> web.Response:
    return web.json_response(exc.to_status(), status=exc.code)


def _bool(request: web.Request, key: str, default: bool = False) -> bool:
    value = request.query.get(key)
    return default if value is None else value in _TRUE


def _int(request: web.Request, key: str) -> int | None:
    value = request.query.get(key)
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except ValueError:
        raise errors.bad_request(f"{key} must be an integer, got {value!r}") from None
    if n < 0:
        raise errors.bad_request(f"{key} must be greater than or equal to 0")
    return n


def _pod(request: web.Request) -> dict[str, Any]:
    cluster = request.app[CLUSTER_KEY]
    ns, name = request.match_info["namespace"], request.match_info["name"]
    pod = cluster.store.peek("pods", ns, name)
    if pod is None:
        raise errors.not_found("pods", name)
    return pod


def _container_name(pod: dict[str, Any], requested: str | None) -> str:
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    regular = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    if requested:
        if requested not in regular and requested not in inits:
            raise errors.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    default = (pod["metadata"].get("annotations") or {}).get(DEFAULT_CONTAINER)
    if default in regular:
        return str(default)
    if len(regular) == 1:
        return regular[0]
    choices = f"[{' '.join(regular)}]"
    extra = f" or one of the init containers: [{' '.join(inits)}]" if inits else ""
    raise errors.bad_request(
        f"a container name must be specified for pod {name}, choose one of: {choices}{extra}"
    )


def _worker(request: web.Request, pod: dict[str, Any]) -> PodWorker | None:
    cluster = request.app[CLUSTER_KEY]
    node = (pod.get("spec") or {}).get("nodeName")
    kubelet = agents(cluster).kubelets.get(node) if node else None
    return kubelet.pods.get(pod["metadata"]["uid"]) if kubelet else None


def _waiting(pod: dict[str, Any], cname: str) -> ApiError:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    statuses += (pod.get("status") or {}).get("initContainerStatuses") or []
    reason = "ContainerCreating"
    for st in statuses:
        if st.get("name") == cname:
            reason = ((st.get("state") or {}).get("waiting") or {}).get("reason", reason)
    if reason in ("ErrImagePull", "ImagePullBackOff"):  # the kubelet words these its own way
        reason = "trying and failing to pull image"
    name = pod["metadata"]["name"]
    return errors.bad_request(f'container "{cname}" in pod "{name}" is waiting to start: {reason}')


# -- logs ---------------------------------------------------------------------------------


async def _logs(request: web.Request) -> web.StreamResponse:
    try:
        pod = _pod(request)
        cname = _container_name(pod, request.query.get("container"))
        tail = _int(request, "tailLines")
        since_s = _int(request, "sinceSeconds")
        limit = _int(request, "limitBytes")
        since_ns = _since(request, since_s)
        follow = _bool(request, "follow")
        timestamps = _bool(request, "timestamps")
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        if kubelet_down(request.app[CLUSTER_KEY], node):
            meta = pod["metadata"]
            raise logs_error(request.app[CLUSTER_KEY], node, meta["namespace"], meta["name"], cname)
        worker = _worker(request, pod)
        run = worker.container(cname) if worker else None
        if run is None or not run.logs.started:
            raise _waiting(pod, cname)
        buffer = _buffer(run, _bool(request, "previous"), pod)
    except ApiError as exc:
        return _status(exc)
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    sink = _Limited(resp, limit, timestamps)
    lines = buffer.select(tail, since_ns)
    last_seq = buffer.lines()[-1].seq if buffer.lines() else 0
    with contextlib.suppress(ConnectionError, _LimitReached):
        for line in lines:
            await sink.write(line)
        if follow and not buffer.closed:
            async for line in buffer.follow(last_seq):
                await sink.write(line)
        await resp.write_eof()
    return resp


def _since(request: web.Request, since_s: int | None) -> int | None:
    if since_s is not None:
        return time.time_ns() - since_s * 1_000_000_000
    text = request.query.get("sinceTime")
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.bad_request(f"sinceTime must be RFC3339, got {text!r}") from None
    return int(when.timestamp() * 1_000_000_000)


def _buffer(run: ContainerRun, previous: bool, pod: dict[str, Any]) -> LogBuffer:
    """The instance asked for. ``previous`` is the one ``lastState`` names: while the container
    waits out its back-off, the one that just crashed -- whose log is also the plain one, as a
    kubelet answers both from the last terminated container until a new one starts."""
    if not previous:
        return run.logs.current
    if "waiting" in run.state and run.last_state and run.logs.current.closed:
        return run.logs.current
    if run.logs.previous is None:
        name = pod["metadata"]["name"]
        raise errors.bad_request(
            f'previous terminated container "{run.name}" in pod "{name}" not found'
        )
    return run.logs.previous


class _LimitReached(Exception):
    pass


class _Limited:
    """Writes log lines, stopping after limitBytes (the last line cut short)."""

    def __init__(self, resp: web.StreamResponse, limit: int | None, timestamps: bool) -> None:
        self.resp = resp
        self.left = limit
        self.timestamps = timestamps

    async def write(self, line: LogLine) -> None:
        data = line.render(self.timestamps)
        if self.left is not None:
            data = data[: self.left]
            self.left -= len(data)
        if data:
            await self.resp.write(data)
        if self.left is not None and self.left <= 0:
            raise _LimitReached


# -- exec ---------------------------------------------------------------------------------


async def _exec(request: web.Request) -> web.StreamResponse:
    try:
        pod = _pod(request)
        cname = _container_name(pod, request.query.get("container"))
        argv = request.query.getall("command", [])
        if not argv:
            raise errors.bad_request("you must specify at least 1 command")
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            raise errors.bad_request(
                f"cannot exec into a container in a completed pod; current phase is {phase}"
            )
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        if kubelet_down(request.app[CLUSTER_KEY], node):
            raise exec_error(request.app[CLUSTER_KEY], node)
        worker = _worker(request, pod)
        run = worker.container(cname) if worker else None
        if worker is None or run is None or not run.running or run.fs is None:
            raise errors.bad_request(
                f'unable to upgrade connection: container not found ("{cname}")'
            )
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise errors.bad_request("Upgrade request required")
        if not set(offered_protocols(request)) & set(PROTOCOLS):
            raise errors.bad_request(
                "unable to upgrade connection: the client must offer one of the subprotocols "
                + ", ".join(PROTOCOLS)
            )
    except ApiError as exc:
        return _status(exc)
    ctx = ProcContext(
        fs=run.fs,
        io=ProcIO(),
        env=dict(run.env),
        root=worker.kubelet.root,
        scratch=worker.kubelet.volumes.pod_dir(worker.uid) / "scratch-exec",
        cwd=str(run.spec.get("workingDir") or "/"),
        pod=worker.name,
        container=cname,
    )
    return await serve_exec(
        request,
        argv,
        ctx,
        stdin=_bool(request, "stdin"),
        stdout=_bool(request, "stdout", True),
        stderr=_bool(request, "stderr", True),
        tty=_bool(request, "tty"),
    )


# -- node proxy ---------------------------------------------------------------------------


async def _node_proxy(request: web.Request) -> web.StreamResponse:
    cluster = request.app[CLUSTER_KEY]
    node = request.match_info["node"]
    path = unquote(request.match_info["path"]).strip("/")
    try:
        if cluster.store.peek("nodes", None, node) is None:
            raise errors.not_found("nodes", node)
        kubelet: Kubelet | None = agents(cluster).kubelets.get(node)
        if kubelet is None:
            raise ApiError(503, "ServiceUnavailable", f"no kubelet is running on node {node}")
        if not kubelet.powered:
            raise proxy_error(cluster, node)
        if path == "stats/summary":
            body = await summary_async(kubelet)
            return web.Response(text=json.dumps(body), content_type="application/json")
        if path == "healthz":
            return web.Response(text="ok", content_type="text/plain")
        raise errors.not_found("nodes/proxy", path)
    except ApiError as exc:
        return _status(exc)
