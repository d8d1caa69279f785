"""Shared fixtures for simulator tests: a running SimCluster, kubeconfigs, clients, kubectl.

    def test_x(sim, sim_client): ...            # plain HTTP cluster in a thread + ApiClient
    def test_w(sim_api): sim, api = sim_api(nodes=3)   # other settings, and a client on it
    def test_y(tls_sim, kubectl): kubectl(tls_sim, "get", "pods")   # kubectl needs TLS
    async def test_z(async_sim): ...             # a cluster on the test's own loop

Clusters run with one node by default; use `make_sim(**kwargs)` for other settings.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from simcluster.cluster import SimCluster

KUBECTL = shutil.which("kubectl")
NS = "smallest"


def api_client(cluster: SimCluster, tmp: Path, user: str = "admin") -> client.ApiClient:
    """An official-client ApiClient built from a kubeconfig the cluster writes."""
    path = cluster.write_kubeconfig(tmp / f"kubeconfig-{user}-{cluster.port}", user=user)
    return config.new_client_from_config(str(path))


@pytest.fixture
def make_sim(tmp_path: Path) -> Iterator[Callable[..., SimCluster]]:
    """Factory: `make_sim(tls=True, nodes=3)` starts a cluster in a thread, stopped after."""
    with ExitStack() as stack:
        count = 0

        def make(**kwargs: Any) -> SimCluster:
            nonlocal count
            count += 1
            root = tmp_path / f"sim{count}"
            return stack.enter_context(SimCluster.run_in_thread(root, **kwargs))

        yield make


SimApi = Callable[..., tuple[SimCluster, client.ApiClient]]


@pytest.fixture
def sim_api(make_sim: Callable[..., SimCluster], tmp_path: Path) -> Iterator[SimApi]:
    """Factory: `sim, api = sim_api(nodes=2)`: a cluster and an official ApiClient on it (as
    admin), the client closed after the test, also when the test fails."""
    with ExitStack() as stack:

        def make(**kwargs: Any) -> tuple[SimCluster, client.ApiClient]:
            cluster = make_sim(**kwargs)
            api = api_client(cluster, tmp_path)
            stack.callback(api.close)
            return cluster, api

        yield make


@pytest.fixture
def sim(make_sim: Callable[..., SimCluster]) -> SimCluster:
    """A plain-HTTP cluster (one node) running in a background thread."""
    return make_sim()


@pytest.fixture
def tls_sim(make_sim: Callable[..., SimCluster]) -> SimCluster:
    """A TLS cluster: what kubectl needs to send its Bearer token."""
    return make_sim(tls=True)


@pytest.fixture
def sim_client(sim: SimCluster, tmp_path: Path) -> Iterator[client.ApiClient]:
    api = api_client(sim, tmp_path)
    yield api
    api.close()


@pytest.fixture
def viewer_client(sim: SimCluster, tmp_path: Path) -> Iterator[client.ApiClient]:
    api = api_client(sim, tmp_path, user="viewer")
    yield api
    api.close()


@pytest.fixture
async def async_sim(tmp_path: Path) -> Any:
    """A cluster on the test's own event loop (use asyncio.to_thread for blocking clients)."""
    async with SimCluster(tmp_path / "async-sim") as cluster:
        yield cluster


Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def kubectl(tmp_path: Path) -> Kubectl:
    """Run kubectl against a cluster: `kubectl(cluster, "get", "pods", user="viewer")`.

    Skips the test when kubectl is not installed; each call has a timeout.
    """
    if KUBECTL is None:
        pytest.skip("kubectl is not on PATH")
    assert KUBECTL is not None

    def run(
        cluster: SimCluster,
        *args: str,
        user: str = "admin",
        timeout: float = 30.0,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        path = cluster.write_kubeconfig(tmp_path / f"kubectl-{user}-{cluster.port}", user=user)
        return subprocess.run(
            [KUBECTL, f"--kubeconfig={path}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            check=False,
        )

    return run
