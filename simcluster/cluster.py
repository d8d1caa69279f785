"""SimCluster: the simulated Kubernetes in one object — store, API server, controllers,
kubelets and the model file server — started in-process on a random loopback port.

    async with SimCluster(tmp_path) as cluster:
        cluster.write_kubeconfig(tmp_path / "kubeconfig")
        ...
    with SimCluster.run_in_thread(tmp_path) as cluster:   # for sync tests and the demo
        cluster.call(cluster.apply, objects)

Everything runs on one asyncio loop. From another thread, go through `call(fn, ...)` and
`run(coro)`; the sync methods here (apply, set_api_outage, drop_watches, ...) do that
themselves when called off the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from simcluster import errors
from simcluster.admin import add_admin_routes
from simcluster.apiserver.admission import admit
from simcluster.apiserver.app import ApiServer
from simcluster.apiserver.auth import ADMIN, VIEWER, Authenticator
from simcluster.apiserver.pvcresize import admit_pvc_resize
from simcluster.controllers import ControllerManager
from simcluster.controllers.nodelifecycle import DEFAULT_GRACE as DEFAULT_NODE_MONITOR_GRACE
from simcluster.heartbeats import NodeHeartbeats
from simcluster.kubeconfig import kubeconfig_dict, write_kubeconfig
from simcluster.kubelet.http import add_kubelet_routes
from simcluster.kubelet.node import Kubelet
from simcluster.kubelet.nodestatus import HEALTHY
from simcluster.kubelet.registry import agents, images_for
from simcluster.quota import admit_pod_create
from simcluster.resources import RESOURCES
from simcluster.scenarios.runner import stop_scenario
from simcluster.storageclasses import install_builtin
from simcluster.store import Store, deep_copy
from simcluster.tls import ServerCert, make_self_signed

log = logging.getLogger("simcluster")
T = TypeVar("T")

DEFAULT_NAMESPACES = ("default", "kube-system", "smallest")
KUBELET_VERSION = "v1.32.0"

_KIND_TO_PLURAL = {t.kind: t.plural for t in RESOURCES.values() if t.stored}


def node_object(name: str, index: int, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A Ready node as a kubelet registers it (capacity of a mid-size GPU box)."""
    capacity = {
        "cpu": "16",
        "memory": "65536Mi",
        "pods": "110",
        "ephemeral-storage": "200Gi",
        "nvidia.com/gpu": "1",
    }
    base_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "g5.xlarge",
    }
    from simcluster.store import now_rfc3339

    now = now_rfc3339()

    def cond(type_: str, status: str, reason: str, message: str) -> dict[str, str]:
        return {
            "type": type_,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }

    return {
        "metadata": {"name": name, "labels": {**base_labels, **(labels or {})}},
        "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"]},
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity, memory="64512Mi", **{"ephemeral-storage": "190Gi"}),
            "conditions": [cond(*c) for c in HEALTHY],
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.0.{10 + index}"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": f"{index:032x}",
                "systemUUID": f"00000000-0000-0000-0000-{index:012x}",
                "bootID": f"00000000-0000-0000-0001-{index:012x}",
                "kernelVersion": "6.1.0-simcluster",
                "osImage": "Simulated Linux (simcluster)",
                "containerRuntimeVersion": "containerd://1.7.23",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


class SimCluster:
    """A local Kubernetes API server with controllers, kubelets and a model file server."""

    def __init__(
        self,
        root_dir: Path | str,
        tls: bool = False,
        model_server: Any = None,
        nodes: int | list[str] = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        bookmark_interval: float = 10.0,
        job_backoff: float = 1.0,
        history: int = 10_000,
        anonymous: str | None = None,
        kubelet_retry: float = 10.0,
        node_monitor_grace: float = DEFAULT_NODE_MONITOR_GRACE,
    ) -> None:
        if anonymous not in (None, "admin", "viewer"):
            raise ValueError(f"anonymous must be None, 'admin' or 'viewer', not {anonymous!r}")
        self._anonymous = anonymous
        self.root_dir = Path(root_dir)
        self.tls = tls
        self.host = host
        self.port = port
        self._nodes_wanted = nodes
        self._bookmark_interval = bookmark_interval
        # A kubelet's retry after a failed pod sync (an image it cannot pull, a missing
        # Secret), which is also where its image pull back-off starts: 10 s as on a real node.
        self.kubelet_retry = kubelet_retry
        self.store = Store(history=history, admission=admit)
        self.store.add_validator(admit_pod_create)
        self.store.add_update_validator(admit_pvc_resize)
        self.admin_token = secrets.token_urlsafe(24)
        self.viewer_token = secrets.token_urlsafe(24)
        self.heartbeats = NodeHeartbeats()
        self.controllers = ControllerManager(
            self.store,
            job_backoff=job_backoff,
            heartbeats=self.heartbeats,
            node_monitor_grace=node_monitor_grace,
        )
        self._model_server = model_server
        self._own_model_server = model_server is None
        self._cert: ServerCert | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.api: ApiServer | None = None
        self.kubelets: dict[str, Any] = {}
        self._started = False

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def model_server(self) -> Any:
        return self._model_server

    @property
    def ca_pem(self) -> bytes | None:
        return self._cert.cert_pem if self._cert is not None else None

    @property
    def node_monitor_grace(self) -> float:
        """How long a node's kubelet may stay silent before its node turns NotReady (Unknown):
        kube-controller-manager's --node-monitor-grace-period, 50 s in v1.32. The node
        lifecycle controller holds it; the kubelets pace their heartbeats by it."""
        return self.controllers.nodes.grace

    @node_monitor_grace.setter
    def node_monitor_grace(self, seconds: float) -> None:
        self.controllers.nodes.grace = seconds

    async def start(self) -> None:
        if self._started:
            return
        self._loop = asyncio.get_running_loop()
        self.root_dir.mkdir(parents=True, exist_ok=True)
        for ns in DEFAULT_NAMESPACES:
            self.store.create("namespaces", {"metadata": {"name": ns}})
        install_builtin(self.store)
        if self._model_server is None:
            from simcluster.modelserver import ModelServer

            self._model_server = ModelServer(host=self.host, port=0)
            await self._model_server.start()
        self.controllers.start()

        def extra(app: web.Application) -> None:
            add_kubelet_routes(app, self)
            add_admin_routes(app, self)  # /_sim/...: run-time faults, outside /api

        self.api = ApiServer(
            self.store,
            Authenticator(
                self.admin_token,
                self.viewer_token,
                {"admin": ADMIN, "viewer": VIEWER}.get(self._anonymous or ""),
            ),
            extra_routes=extra,
            bookmark_interval=self._bookmark_interval,
        )
        if self.tls:
            self._cert = await asyncio.to_thread(make_self_signed, self.root_dir / "tls")
        self._runner = web.AppRunner(
            self.api.app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await self.start_api()
        self._started = True
        names = (
            [f"node-{i + 1}" for i in range(self._nodes_wanted)]
            if isinstance(self._nodes_wanted, int)
            else list(self._nodes_wanted)
        )
        for name in names:
            await self.add_node(name)

    async def stop(self) -> None:
        await stop_scenario(self)  # its timed faults and steps end before the pods do
        stuck = False
        for name in list(self.kubelets):
            kubelet = self.kubelets.pop(name)
            try:
                await asyncio.wait_for(kubelet.stop(), 15)
            except Exception:
                log.exception("stopping the kubelet of %s failed", name)
                stuck = True
        if stuck:  # the last kubelet to stop unmounts the claims: a stuck one never got there
            await agents(self).volumes.close()
        self.store.close_subscriptions()
        await self.controllers.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None
        if self._own_model_server and self._model_server is not None:
            await self._model_server.stop()
        self._started = False

    async def __aenter__(self) -> SimCluster:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start_api(self) -> None:
        """(Re)open the API listener on the same port (after `stop_api`)."""
        if self._runner is None:
            raise RuntimeError("the cluster is not started")
        if self._site is not None:
            return
        ssl_ctx = self._cert.server_context() if self._cert is not None else None
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=ssl_ctx)
        await site.start()
        self._site = site
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    async def stop_api(self) -> None:
        """Close the API listener and every open connection (clients see the server gone)."""
        self.store.close_subscriptions()
        if self._site is not None:
            await self._site.stop()
            self._site = None
        if self._runner is not None and self._runner.server is not None:
            self._runner.server.pre_shutdown()
            await self._runner.server.shutdown(0.5)

    @classmethod
    @contextlib.contextmanager
    def run_in_thread(
        cls, root_dir: Path | str, timeout: float = 60.0, **kwargs: Any
    ) -> Iterator[SimCluster]:
        """Run a cluster on its own loop in a daemon thread for the duration of the block."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="simcluster", daemon=True)
        thread.start()
        cluster = cls(root_dir, **kwargs)
        try:
            asyncio.run_coroutine_threadsafe(cluster.__aenter__(), loop).result(timeout)
            try:
                yield cluster
            finally:
                asyncio.run_coroutine_threadsafe(cluster.stop(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            loop.close()

    # -- crossing threads ----------------------------------------------------------------

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 30.0, **kwargs: Any) -> T:
        """Run `fn(*args)` on the cluster's loop (directly when already on it)."""
        if self._loop is None or self._on_loop():
            return fn(*args, **kwargs)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def runner() -> None:
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(runner)
        return future.result(timeout)

    def run(self, coro: Awaitable[T], timeout: float = 60.0) -> T:
        """Run a coroutine on the cluster's loop from another thread and wait for it."""
        if self._loop is None:
            raise RuntimeError("the cluster is not started")
        if self._on_loop():
            raise RuntimeError("run() blocks; on the cluster's loop, await the coroutine instead")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)  # type: ignore[arg-type]

    # -- helpers for tests, the demo and scenarios ---------------------------------------

    def write_kubeconfig(
        self,
        path: Path | str,
        user: str = "admin",
        namespace: str = "smallest",
        insecure: bool = False,
    ) -> Path:
        """A kubeconfig for `user` ("admin" or "viewer"); over TLS it carries the CA data."""
        if user not in ("admin", "viewer"):
            raise ValueError(f"unknown simcluster user {user!r}: use 'admin' or 'viewer'")
        token = self.admin_token if user == "admin" else self.viewer_token
        config = kubeconfig_dict(self.url, token, user, namespace, self.ca_pem, insecure)
        return write_kubeconfig(path, config)

    def apply(self, objects: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create each object, or replace it if it exists (keeping its status if none given)."""
        return self.call(self._apply, objects)

    def _apply(self, objects: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for obj in objects if isinstance(objects, list) else [objects]:
            if obj.get("kind") == "List":
                items.extend(obj.get("items") or [])
            else:
                items.append(obj)
        out = []
        for obj in items:
            kind = obj.get("kind")
            plural = _KIND_TO_PLURAL.get(str(kind))
            if plural is None:
                raise errors.bad_request(f"simcluster cannot apply kind {kind!r}")
            obj = deep_copy(obj)
            meta = obj.setdefault("metadata", {})
            if RESOURCES[plural].namespaced:
                meta.setdefault("namespace", "default")
            existing = self.store.peek(plural, meta.get("namespace"), meta.get("name", ""))
            if existing is None:
                out.append(self.store.create(plural, obj))
                continue
            meta["resourceVersion"] = existing["metadata"]["resourceVersion"]
            if "status" not in obj and "status" in existing:
                obj["status"] = deep_copy(existing["status"])
            out.append(self.store.update(plural, obj))
        return out

    async def add_node(self, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
        """Register a Ready node and start its kubelet."""
        index = len(self.store.list("nodes", copy=False)[0]) + 1
        node = self.store.create("nodes", node_object(name, index, labels))
        kubelet = Kubelet(self, name)
        await kubelet.start()
        self.kubelets[name] = kubelet
        return node

    async def remove_node(self, name: str) -> None:
        """Stop a node's kubelet and delete the Node (its pods stay, as on a lost node)."""
        kubelet = self.kubelets.pop(name, None)
        if kubelet is not None:
            await kubelet.stop()
        self.store.delete("nodes", None, name)

    def node_down(self, name: str) -> dict[str, Any]:
        """Cut a node's power: its kubelet goes silent and its containers are gone; the Node
        and its pods stay as last posted until the node lifecycle controller notices."""
        from simcluster.admin import SimAdmin

        return self.run(SimAdmin(self).node_down(name))

    def node_up(self, name: str) -> dict[str, Any]:
        """Power a downed node back on: its kubelet posts Ready and restarts its pods."""
        from simcluster.admin import SimAdmin

        return self.run(SimAdmin(self).node_up(name))

    def node_not_ready(self, name: str) -> dict[str, Any]:
        """Break a node's container network: its kubelet answers but posts Ready False; its
        containers keep running and nothing new starts there."""
        from simcluster.admin import SimAdmin

        return self.call(SimAdmin(self).node_not_ready, name)

    def node_ready(self, name: str) -> dict[str, Any]:
        """Mend a NotReady node's network: Ready again, and its waiting pods start."""
        from simcluster.admin import SimAdmin

        return self.call(SimAdmin(self).node_ready, name)

    def register_image(self, image_ref: str, files: dict[str, Any]) -> None:
        """Declare the files an image carries (`{container_path: FileSource}`)."""
        self.call(lambda: images_for(self).register(image_ref, files))

    def refuse_image(self, image_ref: str, why: str = "not-found") -> None:
        """Make the registry refuse an image ("not-found" or "unauthorized"); a reference
        without a tag refuses every tag of that repository."""
        self.call(lambda: images_for(self).refuse(image_ref, why))

    def publish_image(self, image_ref: str) -> bool:
        """Lift a refusal: the next pull of the image succeeds. False if none was named so."""
        return self.call(lambda: images_for(self).publish(image_ref))

    def trigger_cronjob(self, name: str, namespace: str = "smallest") -> dict[str, Any]:
        """Start a CronJob's Job now (a test hook; `kubectl create job --from` in effect)."""
        return self.call(self.controllers.cronjobs.run_now, namespace, name)

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 10.0,
        interval: float = 0.02,
        what: str = "",
    ) -> Any:
        """Poll `predicate()` (sync or async) until it returns something truthy, and return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if loop.time() >= deadline:
                raise TimeoutError(
                    f"simcluster: {what or 'condition'} not met within {timeout:g} s"
                )
            await asyncio.sleep(interval)

    # -- faults --------------------------------------------------------------------------

    def set_api_outage(self, seconds: float, status: int = 503) -> None:
        """Answer every /api and /apis request with `status` for `seconds` (0 ends it)."""
        assert self.api is not None
        self.call(self.api.set_outage, seconds, status)

    def drop_watches(self) -> int:
        """Close every open watch stream; returns how many were open."""
        return self.call(self.store.close_subscriptions)
