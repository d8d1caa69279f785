"""Scenario fixtures: a scenario started in-process, looked at through the official client.

    def test_x(start):
        w = start("efs-shared", speed=512 * 1024)
        w.core.list_namespaced_pod("smallest"); w.stats("v1"); w.log(pod)

Models are 4 MiB unless a test asks otherwise, so every scenario runs in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.stream import stream

from simcluster.cluster import SimCluster
from simcluster.kubelet.registry import agents
from simcluster.scenarios.runner import ScenarioOptions, ScenarioRuntime, start_scenario

NS = "smallest"
MODEL = 4 * 1024 * 1024


@dataclass
class World:
    cluster: SimCluster
    runtime: ScenarioRuntime
    api: client.ApiClient
    kubeconfig: Path

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    def stats(self, model: str) -> Any:
        f = self.runtime.models[model]
        return self.cluster.model_server.stats(f.path)

    def pods(self, selector: str = "app=lightning-asr") -> list[Any]:
        items = self.core.list_namespaced_pod(NS, label_selector=selector).items
        return [p for p in items if p.metadata.deletion_timestamp is None]

    def ready(self, selector: str = "app=lightning-asr") -> list[Any]:
        return [
            p
            for p in self.pods(selector)
            if p.status.container_statuses and all(c.ready for c in p.status.container_statuses)
        ]

    def log(self, pod: str, container: str | None = None, previous: bool = False) -> bytes:
        """The container's log, bytes exactly as served."""
        kwargs: dict[str, Any] = {"_preload_content": False}
        if container:
            kwargs["container"] = container
        if previous:
            kwargs["previous"] = True
        resp = self.core.read_namespaced_pod_log(pod, NS, **kwargs)
        return bytes(resp.data)

    def exec(self, pod: str, *argv: str, container: str | None = None) -> str:
        kwargs: dict[str, Any] = {"container": container} if container else {}
        return str(
            stream(
                self.core.connect_get_namespaced_pod_exec,
                pod,
                NS,
                command=list(argv),
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                **kwargs,
            )
        )

    def warnings(self, reason: str) -> list[Any]:
        events = self.core.list_namespaced_event(NS).items
        return [e for e in events if e.type == "Warning" and e.reason == reason]

    def claim_dir(self, claim: str) -> Path:
        return agents(self.cluster).volumes.pvc_path(NS, claim)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """Factory: start(name, model_size=..., speed=..., seed=...) -> World (stopped after)."""
    with ExitStack() as stack:
        count = 0

        def make(
            name: str, model_size: int = MODEL, speed: int | None = 0, seed: int = 0, **kw: Any
        ) -> World:
            nonlocal count
            count += 1
            root = tmp_path / f"world{count}"
            cluster = stack.enter_context(SimCluster.run_in_thread(root / "cluster", nodes=0, **kw))
            options = ScenarioOptions(model_size=model_size, speed=speed, seed=seed)
            runtime = start_scenario(cluster, name, options)
            kubeconfig = cluster.write_kubeconfig(root / "kubeconfig")
            api = config.new_client_from_config(str(kubeconfig))
            stack.callback(api.close)
            return World(cluster, runtime, api, kubeconfig)

        yield make
