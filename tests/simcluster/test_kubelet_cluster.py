"""The kubelet inside SimCluster, judged by the official client and by kubectl.

Pods are created through the API (the scheduler binds them), so these tests cover the whole
path a dashboard uses on a real cluster: create, watch the status, follow logs, exec, and
read stats/summary through the node proxy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from simcluster.cluster import SimCluster
from tests.polling import wait_until
from tests.simcluster.kubelet_helpers import exec_in_pod

NS = "smallest"
MiB = 1024 * 1024

kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("simcluster")
    # TLS: kubectl sends the bearer token only over https.
    with SimCluster.run_in_thread(root, tls=True) as c:
        yield c


@pytest.fixture(scope="module")
def kubeconfig(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kube") / "config"
    return Path(cluster.write_kubeconfig(path, user="admin", namespace=NS))


@pytest.fixture(scope="module")
def core(kubeconfig: Path) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))


def _exists(p: Path) -> bool:
    return p.exists()


def _ready(core: client.CoreV1Api, name: str) -> bool:
    pod = core.read_namespaced_pod(name, NS)
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {"containers": containers, **spec},
    }


def _pvc(core: client.CoreV1Api, name: str, size: str = "64Mi") -> None:
    core.create_namespaced_persistent_volume_claim(
        NS,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": size}},
            },
        },
    )


def _kubectl(kubeconfig: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", "-n", NS, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_asr_pod_is_scheduled_downloads_and_becomes_ready(
    cluster: Any, core: client.CoreV1Api
) -> None:
    f = cluster.model_server.add_file("/models/asr-cluster.bin", size=3 * MiB, seed=11)
    _pvc(core, "models-pvc")
    core.create_namespaced_pod(
        NS,
        _pod(
            "asr",
            [
                {
                    "name": "lightning-asr",
                    "image": "smallest/lightning-asr:latest",
                    "env": [
                        {"name": "MODEL_URL", "value": cluster.model_server.url(f.path)},
                        {"name": "MODEL_CHECKSUM", "value": f"sha256:{f.sha256}"},
                    ],
                    "volumeMounts": [{"name": "models", "mountPath": "/app/models"}],
                }
            ],
            volumes=[{"name": "models", "persistentVolumeClaim": {"claimName": "models-pvc"}}],
        ),
    )
    leaked = Path("/app/models/asr-cluster.bin")
    existed = _exists(leaked)
    wait_until(lambda: _ready(core, "asr"), timeout=30, what="asr Ready")
    assert _exists(leaked) == existed  # the pod's /app/models is its PVC, never the host's
    pod = core.read_namespaced_pod("asr", NS)
    assert pod.spec.node_name and pod.status.phase == "Running"
    log = core.read_namespaced_pod_log("asr", NS)
    assert "INFO: Server ready on port 2269" in log and "INFO: Model downloaded: 3.1MB" in log
    reasons = {
        e.reason for e in core.list_namespaced_event(NS).items if e.involved_object.name == "asr"
    }
    assert {"Scheduled", "Pulled", "Created", "Started"} <= reasons
    code, out, _ = exec_in_pod(
        core, NS, "asr", "sha256sum", "/app/models/asr-cluster.bin", container="lightning-asr"
    )
    assert code == 0 and out.startswith(f.sha256)
    summary = json.loads(
        core.connect_get_node_proxy_with_path(
            pod.spec.node_name, "stats/summary", _preload_content=False
        ).data
    )
    (entry,) = [p for p in summary["pods"] if p["podRef"]["name"] == "asr"]
    (vol,) = entry["volume"]
    assert vol["pvcRef"] == {"name": "models-pvc", "namespace": NS}
    assert vol["usedBytes"] >= 3 * MiB


def test_failing_program_goes_into_crash_loop(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(
        NS,
        _pod(
            "crasher",
            [{"name": "main", "image": "busybox", "command": ["sh", "-c", "echo boom; exit 1"]}],
        ),
    )

    def looping() -> bool:
        st = core.read_namespaced_pod("crasher", NS).status.container_statuses or []
        return (
            bool(st)
            and st[0].restart_count >= 1
            and bool(st[0].state.waiting and st[0].state.waiting.reason == "CrashLoopBackOff")
        )

    wait_until(looping, what="CrashLoopBackOff")
    assert core.read_namespaced_pod_log("crasher", NS, previous=True) == "boom\n"


def test_follow_ends_with_the_container(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(
        NS,
        _pod(
            "talker",
            [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": ["sh", "-c", "echo a; sleep 0.5; echo b"],
                }
            ],
            restartPolicy="Never",
        ),
    )
    wait_until(
        lambda: core.read_namespaced_pod("talker", NS).status.phase in ("Running", "Succeeded")
    )
    resp = core.read_namespaced_pod_log(
        "talker", NS, follow=True, _preload_content=False, _request_timeout=15
    )
    assert b"".join(resp.stream(16)) == b"a\nb\n"


@pytest.mark.kubectl
@kubectl
def test_kubectl_logs_exec_and_stats(
    cluster: Any, core: client.CoreV1Api, kubeconfig: Path
) -> None:
    _pvc(core, "kubectl-models")
    core.create_namespaced_pod(
        NS,
        _pod(
            "runner",
            [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": ["sleep", "600"],
                    "volumeMounts": [{"name": "m", "mountPath": "/app/models"}],
                }
            ],
            volumes=[{"name": "m", "persistentVolumeClaim": {"claimName": "kubectl-models"}}],
        ),
    )
    core.create_namespaced_pod(
        NS,
        _pod(
            "short",
            [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": ["sh", "-c", "echo one; sleep 1; echo two"],
                }
            ],
            restartPolicy="Never",
        ),
    )
    wait_until(lambda: _ready(core, "runner"), what="runner Ready")
    wait_until(
        lambda: core.read_namespaced_pod("short", NS).status.phase in ("Running", "Succeeded")
    )
    started = time.monotonic()
    r = _kubectl(kubeconfig, "logs", "-f", "short")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "one\ntwo\n" and time.monotonic() - started < 20
    r = _kubectl(kubeconfig, "exec", "runner", "--", "df", "-h", "/app/models")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].split()[:2] == ["Filesystem", "Size"]
    assert r.stdout.splitlines()[1].split()[-1] == "/app/models"
    r = _kubectl(kubeconfig, "exec", "runner", "--", "sh", "-c", "exit 3")
    assert r.returncode == 3, r.stderr
    r = _kubectl(kubeconfig, "exec", "runner", "--", "cat", "/etc/passwd")
    assert r.returncode == 1 and "No such file or directory" in r.stderr
    node = core.read_namespaced_pod("runner", NS).spec.node_name
    r = _kubectl(kubeconfig, "get", "--raw", f"/api/v1/nodes/{node}/proxy/stats/summary")
    assert r.returncode == 0, r.stderr
    assert "runner" in {p["podRef"]["name"] for p in json.loads(r.stdout)["pods"]}
    r = _kubectl(kubeconfig, "delete", "pod", "runner", timeout=60)
    assert r.returncode == 0, r.stderr
    assert "runner" not in {p.metadata.name for p in core.list_namespaced_pod(NS).items}
