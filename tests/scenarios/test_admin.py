"""Run-time faults through the admin endpoint (and `asr-cache-sim fault`), seen by real clients."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from simcluster.faultcli import fault_main
from tests.polling import wait_until
from tests.scenarios.conftest import NS, World
from tests.scenarios.proc_helpers import can_mount

KiB = 1024


def admin(
    w: World, action: str, body: dict[str, Any] | None = None, token: str | None = None
) -> httpx.Response:
    token = w.cluster.admin_token if token is None else token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    path = "/_sim/status" if action == "status" else f"/_sim/faults/{action}"
    with httpx.Client(timeout=10, trust_env=False) as c:
        if action == "status":
            return c.get(w.cluster.url + path, headers=headers)
        return c.post(w.cluster.url + path, headers=headers, json=body or {})


def part_bytes(w: World, pod: Any) -> int:
    """Size of the pod's partial download, read on the host behind its emptyDir."""
    from simcluster.kubelet.registry import agents

    d = agents(w.cluster).volumes.emptydir_path(pod.metadata.uid, "models")
    p = d / "model.bin.part"
    return p.stat().st_size if p.exists() else 0


def test_stall_and_resume_a_pods_download(start: Callable[..., World]) -> None:
    w = start("emptydir", model_size=8 * 1024 * KiB, speed=256 * KiB)  # ~8 s per pod
    pod = wait_until(lambda: next((p for p in w.pods() if part_bytes(w, p) > 256 * KiB), None), 20)
    r = admin(w, "stall", {"pod": pod.metadata.name})
    assert r.status_code == 200 and r.json()["processes"] >= 1, r.text
    time.sleep(0.3)
    before = part_bytes(w, pod)
    time.sleep(1.5)
    assert part_bytes(w, pod) == before  # frozen where it was
    r = admin(w, "resume", {"pod": pod.metadata.name})
    assert r.status_code == 200, r.text
    wait_until(lambda: part_bytes(w, pod) > before, 20, "the download to move again")


def test_kill_a_container_restarts_it_with_137(start: Callable[..., World]) -> None:
    w = start("baked-image")
    pod = wait_until(lambda: w.ready() and w.ready()[0], 20, "a ready pod")
    name = pod.metadata.name
    r = admin(w, "kill", {"pod": name})
    assert r.status_code == 200, r.text
    assert r.json()["message"] == f"killed container lightning-asr of pod smallest/{name}"

    def restarted() -> Any:
        c = w.core.read_namespaced_pod(name, NS).status.container_statuses[0]
        return c.restart_count == 1 and c.ready and c

    status = wait_until(restarted, 20, "the container to restart and be ready")
    assert status.last_state.terminated.exit_code == 137


def test_corrupt_a_file_on_a_claim(start: Callable[..., World]) -> None:
    w = start("efs-shared")
    pod = wait_until(lambda: len(w.ready()) >= 3 and w.ready()[0], 20, "ready pods")
    r = admin(w, "corrupt", {"claim": "models-aws-efs-pvc", "path": "v1/model.bin", "offset": 10})
    assert r.status_code == 200, r.text
    assert r.json()["offset"] == 10
    out = w.exec(pod.metadata.name, "sha256sum", "/app/models/v1/model.bin")
    assert out.split()[0] != w.runtime.models["v1"].sha256
    r = admin(w, "corrupt", {"claim": "models-aws-efs-pvc", "path": "../../etc/passwd"})
    assert r.status_code == 400 and r.json()["kind"] == "Status"
    assert "must name a file inside the volume" in r.json()["message"]
    r = admin(w, "fill", {"claim": "models-aws-efs-pvc"})  # EFS is elastic: refused
    assert r.status_code == 409 and "is not size-limited" in r.json()["message"]


@pytest.mark.skipif(not can_mount(), reason="needs root: only a tmpfs claim can be filled")
def test_fill_and_unfill_a_size_limited_claim(start: Callable[..., World]) -> None:
    w = start("disk-full")
    wait_until(
        lambda: (
            w.claim_dir("models-ebs-pvc").is_dir()
            and os.path.ismount(w.claim_dir("models-ebs-pvc"))
        ),
        20,
    )
    r = admin(w, "fill", {"claim": "models-ebs-pvc", "leave": 64 * KiB})
    assert r.status_code == 200, r.text
    st = os.statvfs(w.claim_dir("models-ebs-pvc"))
    assert st.f_bavail * st.f_frsize <= 128 * KiB
    assert admin(w, "unfill", {"claim": "models-ebs-pvc"}).status_code == 200
    st = os.statvfs(w.claim_dir("models-ebs-pvc"))
    assert st.f_bavail * st.f_frsize > 1024 * KiB


def test_api_outage_and_dropped_watches_reach_the_official_client(
    start: Callable[..., World],
) -> None:
    w = start("baked-image")
    wait_until(lambda: len(w.ready()) == 2, 20)
    ended = threading.Event()
    seen: list[str] = []

    def watcher() -> None:
        for ev in watch.Watch().stream(w.core.list_namespaced_pod, NS, timeout_seconds=60):
            seen.append(ev["type"])
        ended.set()

    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    wait_until(lambda: seen, 10, "the watch to deliver the initial pods")
    r = admin(w, "drop-watches")
    assert r.status_code == 200 and r.json()["closed"] >= 1
    assert ended.wait(10), "the watch stream did not end when dropped"

    assert admin(w, "api-outage", {"seconds": 1.5, "status": 503}).status_code == 200
    with pytest.raises(ApiException) as info:
        w.core.list_namespaced_pod(NS)
    assert info.value.status == 503
    wait_until(lambda: _lists(w), 10, "the API to answer again")


def _lists(w: World) -> bool:
    try:
        w.core.list_namespaced_pod(NS)
    except ApiException:
        return False
    return True


def test_delete_a_node_and_its_pods_come_back_elsewhere(start: Callable[..., World]) -> None:
    w = start("efs-shared")
    wait_until(lambda: len(w.ready()) == 4, 30, "four ready pods")
    victim = next(p.spec.node_name for p in w.ready())
    r = admin(w, "delete-node", {"node": victim})
    assert r.status_code == 200, r.text
    assert victim not in {n.metadata.name for n in w.core.list_node().items}
    wait_until(
        lambda: len(w.ready()) == 4 and all(p.spec.node_name != victim for p in w.ready()),
        30,
        "the Deployment to replace the lost pods on other nodes",
    )


def test_model_faults_and_refusals(start: Callable[..., World]) -> None:
    w = start("baked-image")
    url = w.runtime.model_server.url(w.runtime.models["v1"].path)
    r = admin(w, "model", {"model": "v1", "faults": {"fail_status": 503, "retry_after": 2}})
    assert r.status_code == 200, r.text
    assert httpx.get(url, timeout=5, headers={"Range": "bytes=0-0"}).status_code == 503
    assert admin(w, "model", {"model": "v1", "clear": True}).status_code == 200
    assert httpx.get(url, timeout=5, headers={"Range": "bytes=0-0"}).status_code == 206
    r = admin(w, "model", {"model": "v1", "faults": {"stall_aftr": "40%"}})
    assert r.status_code == 400 and "did you mean 'stall_after'" in r.json()["message"]
    assert (
        admin(w, "stall", {"pod": "nope"}).json()["message"] == "pod smallest/nope does not exist"
    )
    assert admin(w, "frobnicate").status_code == 404
    assert admin(w, "status", token=w.cluster.viewer_token).status_code == 403
    assert admin(w, "drop-watches", token="").status_code == 401
    status = admin(w, "status").json()
    assert status["scenario"] == "baked-image" and status["models"]["v1"]["statuses"] == {
        "503": 1,
        "206": 1,
    }


def test_the_fault_command_line(
    start: Callable[..., World], capsys: pytest.CaptureFixture[str]
) -> None:
    w = start("baked-image")
    kc = str(w.kubeconfig)
    assert fault_main(["--kubeconfig", kc, "status"]) == 0
    assert json.loads(capsys.readouterr().out)["scenario"] == "baked-image"
    assert fault_main(["--kubeconfig", kc, "model", "v1", "--set", "stall_after=40%"]) == 0
    assert capsys.readouterr().out.startswith("model v1: Faults(")
    assert fault_main(["--kubeconfig", kc, "kill", "nope"]) == 1
    assert capsys.readouterr().err == "asr-cache-sim fault: pod smallest/nope does not exist\n"
    assert fault_main(["--kubeconfig", kc, "fill", "x", "--leave", "lots"]) == 1
    assert "--leave must be a size" in capsys.readouterr().err
