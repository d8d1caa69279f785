"""Pod lifecycle on the kubelet: init order, phases, graceful deletion, stats/summary,
the Lightning ASR stand-in with a real download, and real ENOSPC on tmpfs PVCs as root."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from simcluster.cluster import SimCluster
from simcluster.kubelet.volumes import VolumeManager
from simcluster.modelserver import ModelServer
from tests.simcluster.kubelet_helpers import KubeletHarness, exec_in_pod, shell

MiB = 1024 * 1024


@pytest.fixture
def h(tmp_path: Path):
    with KubeletHarness(tmp_path) as harness:
        yield harness


def _pvc(h: KubeletHarness, name: str, size: str = "64Mi", storage_class: str = "standard") -> None:
    h.call(
        h.store.create,
        "persistentvolumeclaims",
        {
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": storage_class,
                "resources": {"requests": {"storage": size}},
            },
        },
    )


def _phase(h: KubeletHarness, name: str) -> str:
    pod = h.call(h.store.peek, "pods", "default", name) or {}
    return str((pod.get("status") or {}).get("phase", ""))


def _conditions(h: KubeletHarness, name: str) -> dict[str, str]:
    pod = h.pod(name) or {}
    return {c["type"]: c["status"] for c in pod["status"]["conditions"]}


def _log(h: KubeletHarness, name: str, container: str = "main") -> str:
    w = h.kubelet.find("default", name)
    if w is None:
        return ""
    return b"".join(ln.data for ln in w.containers[container].logs.current.lines()).decode()


def test_init_containers_run_in_order_then_the_pod_succeeds(h: KubeletHarness) -> None:
    mount = [{"name": "work", "mountPath": "/work"}]
    h.create_pod(
        "p",
        [shell("main", "cat /work/order", volumeMounts=mount)],
        initContainers=[
            shell("first", "echo first > /work/order", volumeMounts=mount),
            shell("second", "sleep 0.2; echo second >> /work/order", volumeMounts=mount),
        ],
        volumes=[{"name": "work", "emptyDir": {}}],
        restartPolicy="Never",
    )
    h.wait(lambda: _phase(h, "p") == "Succeeded", what="Succeeded")
    assert _log(h, "p") == "first\nsecond\n"
    assert _conditions(h, "p")["Initialized"] == "True"
    pod = h.pod("p")
    assert pod is not None
    inits = pod["status"]["initContainerStatuses"]
    assert [s["state"]["terminated"]["reason"] for s in inits] == ["Completed", "Completed"]


def test_a_failing_container_with_never_fails_the_pod(h: KubeletHarness) -> None:
    h.create_pod("p", [shell("main", "echo bad >&2; exit 4")], restartPolicy="Never")
    h.wait(lambda: _phase(h, "p") == "Failed", what="Failed")
    st = h.container_state("p", "main")
    assert st["state"]["terminated"]["exitCode"] == 4 and st["restartCount"] == 0
    assert _log(h, "p") == "bad\n"


def test_on_failure_restarts_until_success(h: KubeletHarness) -> None:
    _pvc(h, "state")
    h.create_pod(
        "p",
        [
            shell(
                "main",
                "test -f /s/once && exit 0; touch /s/once; exit 1",
                volumeMounts=[{"name": "s", "mountPath": "/s"}],
            )
        ],
        volumes=[{"name": "s", "persistentVolumeClaim": {"claimName": "state"}}],
        restartPolicy="OnFailure",
    )
    h.wait(lambda: _phase(h, "p") == "Succeeded", what="Succeeded", timeout=15)
    st = h.container_state("p", "main")
    assert st["restartCount"] == 1 and st["lastState"]["terminated"]["exitCode"] == 1


def test_graceful_delete_stops_the_program_and_removes_the_pod(h: KubeletHarness) -> None:
    h.create_pod(
        "p",
        [shell("main", "sleep 600", volumeMounts=[{"name": "e", "mountPath": "/e"}])],
        volumes=[{"name": "e", "emptyDir": {}}],
    )
    h.wait(lambda: _conditions(h, "p").get("Ready") == "True", what="Ready")
    uid = h.pod("p")["metadata"]["uid"]  # type: ignore[index]
    empty_dir = h.kubelet.volumes.emptydir_path(uid, "e")
    assert empty_dir.is_dir()
    h.call(h.store.delete, "pods", "default", "p")
    h.wait(lambda: h.call(h.store.peek, "pods", "default", "p") is None, what="pod removed")
    events = h.call(h.store.list, "events")[0]
    assert any(
        e["reason"] == "Killing" and e["message"] == "Stopping container main" for e in events
    )
    h.wait(lambda: not empty_dir.exists(), what="emptyDir removed")


async def test_stopping_the_cluster_mid_graceful_delete_leaves_no_task_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pod still terminating at teardown used to leave its graceful stop pending, which
    asyncio reports as "Task was destroyed but it is pending" once the loop is gone."""
    removing = asyncio.Event()

    async def slow_remove_pod(self: VolumeManager, pod_uid: str) -> None:
        removing.set()  # a slow disk: the graceful stop is still under way at teardown
        await asyncio.sleep(60)

    monkeypatch.setattr(VolumeManager, "remove_pod", slow_remove_pod)
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: reported.append(str(ctx.get("message"))))
    try:
        async with SimCluster(tmp_path / "sim") as cluster:
            pod: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "namespace": "default"},
                "spec": {"nodeName": "node-1", "containers": [shell("main", "sleep 600")]},
            }
            cluster.store.create("pods", pod)
            await cluster.wait_for(
                lambda: _running(cluster.store.peek("pods", "default", "p")), what="Running"
            )
            cluster.store.delete("pods", "default", "p", grace_seconds=30)
            await asyncio.wait_for(removing.wait(), 10)
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert left == []
        assert reported == []
    finally:
        loop.set_exception_handler(previous)


def _running(pod: dict[str, Any] | None) -> bool:
    return ((pod or {}).get("status") or {}).get("phase") == "Running"


def test_stats_summary_through_the_node_proxy(h: KubeletHarness) -> None:
    _pvc(h, "models", "64Mi")
    _pvc(h, "shared-efs", "5Gi", storage_class="models-aws-efs-sc")
    h.create_pod(
        "p",
        [
            shell(
                "main",
                "sleep 600",
                volumeMounts=[
                    {"name": "m", "mountPath": "/app/models"},
                    {"name": "efs", "mountPath": "/efs"},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            )
        ],
        volumes=[
            {"name": "m", "persistentVolumeClaim": {"claimName": "models"}},
            {"name": "efs", "persistentVolumeClaim": {"claimName": "shared-efs"}},
            {"name": "tmp", "emptyDir": {}},
        ],
    )
    h.wait(lambda: _conditions(h, "p").get("Ready") == "True", what="Ready")
    (h.kubelet.volumes.pvc_path("default", "models") / "model.bin").write_bytes(b"m" * 3 * MiB)
    (worker,) = [w for w in h.kubelet.pods.values() if w.name == "p"]
    (worker.volumes["tmp"].mount("/").host_path / "scratch").write_bytes(b"t" * 2 * MiB)
    resp = h.core().connect_get_node_proxy_with_path(
        "node-1", "stats/summary", _preload_content=False
    )
    summary = json.loads(resp.data)
    assert summary["node"]["nodeName"] == "node-1"
    (pod,) = summary["pods"]
    assert pod["podRef"]["name"] == "p" and pod["podRef"]["namespace"] == "default"
    vols = {v["name"]: v for v in pod["volume"]}
    assert set(vols) == {"m", "tmp"}  # EFS publishes no stats
    m = vols["m"]
    assert m["pvcRef"] == {"name": "models", "namespace": "default"}
    assert m["capacityBytes"] == 64 * MiB
    assert m["usedBytes"] >= 3 * MiB
    assert m["availableBytes"] <= 61 * MiB
    assert "pvcRef" not in vols["tmp"]
    # An emptyDir's usage is its own bytes (du), against its file system's size and free space.
    tmp = vols["tmp"]
    assert 2 * MiB <= tmp["usedBytes"] < 3 * MiB, tmp
    assert tmp["capacityBytes"] == summary["node"]["fs"]["capacityBytes"]
    assert tmp["availableBytes"] <= summary["node"]["fs"]["availableBytes"] + 4 * MiB
    # The slash may also arrive unencoded (kubectl get --raw).
    import urllib.request

    with urllib.request.urlopen(h.url + "/api/v1/nodes/node-1/proxy/stats/summary", timeout=5) as r:
        assert json.loads(r.read())["pods"][0]["podRef"]["name"] == "p"


@pytest.fixture(scope="module")
def model_server():
    server = ModelServer()
    with server.run_in_thread():
        yield server


def _asr_pod(h: KubeletHarness, name: str, env: dict[str, str], claim: str = "models") -> None:
    h.create_pod(
        name,
        [
            {
                "name": "lightning-asr",
                "image": "smallest/lightning-asr:1.2.0",
                "env": [{"name": k, "value": v} for k, v in env.items()],
                "volumeMounts": [{"name": "models", "mountPath": "/app/models"}],
            }
        ],
        volumes=[{"name": "models", "persistentVolumeClaim": {"claimName": claim}}],
        restartPolicy="Never",
    )


def test_asr_stand_in_downloads_then_is_ready(h: KubeletHarness, model_server) -> None:
    f = model_server.add_file("/models/v1/asr.bin", size=4 * MiB, seed=7)
    _pvc(h, "models", "64Mi")
    env = {
        "MODEL_URL": model_server.url(f.path),
        "MODEL_CACHE_DIR": "/app/models",
        "MODEL_VERSION": "v1",
        "MODEL_CHECKSUM": f"sha256:{f.sha256}",
    }
    _asr_pod(h, "asr-1", env)
    h.wait(lambda: _conditions(h, "asr-1").get("Ready") == "True", timeout=30, what="Ready")
    log = _log(h, "asr-1", "lightning-asr")
    lines = log.splitlines()
    assert "INFO: Downloading model from URL..." in lines
    assert "INFO: Model downloaded: 4.2MB" in lines
    assert lines[-2:] == [
        "INFO: Loading model into GPU memory...",
        "INFO: Server ready on port 2269",
    ]
    events = [json.loads(x) for x in lines if x.startswith("{")]
    assert events and events[-1]["event"] == "done"
    assert events[-1]["path"].startswith("/app/models/")  # host paths never leak into logs
    host = h.kubelet.volumes.pvc_path("default", "models") / "v1" / "asr.bin"
    assert os.path.getsize(host) == 4 * MiB
    # A second pod on the same PVC finds the verified model and skips the download.
    requests_before = model_server.stats(f.path).requests
    _asr_pod(h, "asr-2", env)
    h.wait(lambda: _conditions(h, "asr-2").get("Ready") == "True", timeout=30, what="Ready")
    log2 = _log(h, "asr-2", "lightning-asr")
    assert "INFO: Model found in cache: /app/models/v1/asr.bin" in log2
    assert "Downloading" not in log2
    assert model_server.stats(f.path).requests == requests_before


def test_asr_stand_in_checksum_mismatch_and_refusal(h: KubeletHarness, model_server) -> None:
    f = model_server.add_file("/models/v2/asr.bin", size=1 * MiB, seed=8)
    _pvc(h, "models", "64Mi")
    _asr_pod(
        h,
        "bad-sum",
        {"MODEL_URL": model_server.url(f.path), "MODEL_CHECKSUM": "sha256:" + "0" * 64},
    )
    h.wait(lambda: _phase(h, "bad-sum") == "Failed", timeout=30, what="Failed")
    assert "ERROR: Model validation failed: checksum mismatch" in _log(
        h, "bad-sum", "lightning-asr"
    )
    _asr_pod(h, "gone", {"MODEL_URL": model_server.url("/models/missing.bin")})
    h.wait(lambda: _phase(h, "gone") == "Failed", timeout=30, what="Failed")
    log = _log(h, "gone", "lightning-asr")
    assert "WARNING: Download attempt 1 failed:" in log
    assert "ERROR: Download failed after 1 attempts" in log


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs PVC needs root")
def test_full_tmpfs_pvc_gives_a_real_enospc(h: KubeletHarness) -> None:
    if not h.kubelet.volumes.use_tmpfs:
        pytest.skip("tmpfs PVCs are turned off (SIMCLUSTER_TMPFS=0)")
    _pvc(h, "small", "1Mi")
    h.call(h.kubelet.images.register, "busybox", {"/opt/big.bin": b"z" * (2 * MiB)})
    h.create_pod(
        "p",
        [shell("main", "sleep 600", volumeMounts=[{"name": "s", "mountPath": "/data"}])],
        volumes=[{"name": "s", "persistentVolumeClaim": {"claimName": "small"}}],
    )
    h.wait(lambda: _conditions(h, "p").get("Ready") == "True", what="Ready")

    def run(*cmd: str) -> tuple[int, str, str]:
        return exec_in_pod(h.core(), "default", "p", *cmd)

    code, _, err = run("sh", "-c", "cat /opt/big.bin > /data/copy")
    assert code == 1 and "No space left on device" in err
    code, out, _ = run("df", "-B1", "/data")
    assert out.splitlines()[1].split()[0] == "tmpfs" and out.splitlines()[1].split()[1] == str(MiB)
