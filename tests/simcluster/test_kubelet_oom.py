"""A Lightning ASR container whose memory limit is too small to load its model is OOMKilled,
as the kernel and the kubelet report it, and crash-loops; with no limit or enough, it serves.

Judged by the official client and kubectl over the cluster's socket: the container statuses
(`OOMKilled`, exit code 137, `lastState`, `CrashLoopBackOff`, the restart count), the events,
the logs of the killed instance, and `kubectl get pods` / `describe pod`.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch

from simcluster.cluster import SimCluster
from simcluster.kubelet.registry import agents
from tests.polling import wait_until
from tests.simcluster.conftest import KUBECTL, NS, Kubectl, api_client
from tests.simcluster.waiting_helpers import events, pod, status_of

MiB = 1024 * 1024
MODEL = 2 * MiB
ASR = "lightning-asr"
LOADING = "INFO: Loading model into GPU memory..."


def asr_pod(sim: SimCluster, name: str, memory: str | None, **spec: Any) -> dict[str, Any]:
    """A Lightning ASR pod that downloads a 2 MiB model into an emptyDir, then loads it."""
    f = sim.model_server.add_file(f"/models/{name}/model.bin", size=MODEL, seed=5)
    container: dict[str, Any] = {
        "name": ASR,
        "image": "smallest/lightning-asr:v1",
        "env": [
            {"name": "MODEL_URL", "value": sim.model_server.url(f.path)},
            {"name": "MODEL_CHECKSUM", "value": f"sha256:{f.sha256}"},
        ],
        "volumeMounts": [{"name": "models", "mountPath": "/app/models"}],
    }
    if memory is not None:
        container["resources"] = {"limits": {"memory": memory}}
    return pod(name, [container], volumes=[{"name": "models", "emptyDir": {}}], **spec)


def crash_looping(core: client.CoreV1Api, name: str, restarts: int = 1) -> Any:
    cs = status_of(core, name, ASR)
    waiting = cs.state.waiting if cs is not None else None
    if waiting is None or waiting.reason != "CrashLoopBackOff" or cs.restart_count < restarts:
        return None
    return cs


def first_termination(core: client.CoreV1Api, name: str) -> Any:
    """The container's first `state.terminated`, caught on a watch: it lasts only until the
    kubelet puts the container in back-off, as on a real node."""
    w = watch.Watch()
    try:
        for event in w.stream(
            core.list_namespaced_pod,
            NS,
            field_selector=f"metadata.name={name}",
            timeout_seconds=10,
        ):
            for cs in event["object"].status.container_statuses or []:
                if cs.state.terminated is not None:
                    return cs
    finally:
        w.stop()
    raise AssertionError(f"{name}'s container never terminated")


def _core(cluster: SimCluster, tmp_path: Path) -> Iterator[client.CoreV1Api]:
    api = api_client(cluster, tmp_path)
    yield client.CoreV1Api(api)
    api.close()


@pytest.fixture
def sim_core(sim: SimCluster, tmp_path: Path) -> Iterator[client.CoreV1Api]:
    yield from _core(sim, tmp_path)


@pytest.fixture
def tls_core(tls_sim: SimCluster, tmp_path: Path) -> Iterator[client.CoreV1Api]:
    yield from _core(tls_sim, tmp_path)


def test_a_model_too_big_for_the_limit_is_oomkilled_while_loading(
    sim: SimCluster, sim_core: client.CoreV1Api
) -> None:
    core = sim_core
    created = core.create_namespaced_pod(NS, asr_pod(sim, "asr-oom", "1Mi"))
    uid = created.metadata.uid
    term = first_termination(core, "asr-oom")
    assert (term.state.terminated.reason, term.state.terminated.exit_code) == ("OOMKilled", 137)
    assert term.state.terminated.container_id.startswith("containerd://")
    assert term.restart_count == 0 and not term.ready

    cs = wait_until(lambda: crash_looping(core, "asr-oom", 2), 8, "two OOM kills and back-off")
    last = cs.last_state.terminated
    assert (last.reason, last.exit_code) == ("OOMKilled", 137)
    assert last.started_at <= last.finished_at
    assert re.fullmatch(
        rf"back-off \d+s restarting failed container={ASR} pod=asr-oom_{NS}\({uid}\)",
        cs.state.waiting.message,
    )
    status = core.read_namespaced_pod("asr-oom", NS).status
    assert status.phase == "Running" and status.qos_class == "Burstable"
    assert {c.type: c.status for c in status.conditions}["Ready"] == "False"

    # The killed instance said nothing after the loading line; the model was fine.
    killed = core.read_namespaced_pod_log("asr-oom", NS)  # in back-off: the last one killed
    assert killed.endswith(LOADING + "\n") and "Server ready" not in killed
    assert "INFO: Model found in cache: /app/models/model.bin" in killed  # verified, kept
    assert sim.model_server.stats("/models/asr-oom/model.bin").bytes_sent < 2 * MODEL  # once

    seen = events(core, "asr-oom")
    backoff = f"Back-off restarting failed container {ASR} in pod asr-oom_{NS}({uid})"
    assert seen.get(("Warning", "BackOff", backoff), 0) >= 2
    assert not any(reason == "Killing" for _, reason, _ in seen)  # the kubelet killed nothing


@pytest.mark.parametrize(
    ("memory", "factor", "oom"),
    [
        (None, 8.0, False),  # no limit: loading never runs out
        ("2Mi", 1.0, False),  # exactly the model's size fits
        ("4Mi", 1.5, False),
        ("2Mi", 1.5, True),  # the factor makes loading need 3 MiB
        ("3145727", 1.5, True),  # one byte short
    ],
)
def test_loading_needs_the_model_size_times_the_factor(
    sim: SimCluster, sim_core: client.CoreV1Api, memory: str | None, factor: float, oom: bool
) -> None:
    agents(sim).settings.load_memory_factor = factor
    core = sim_core
    core.create_namespaced_pod(NS, asr_pod(sim, "asr", memory))
    if oom:
        term = first_termination(core, "asr")
        assert (term.state.terminated.reason, term.state.terminated.exit_code) == (
            "OOMKilled",
            137,
        )
        return
    wait_until(lambda: status_of(core, "asr", ASR).ready, 8, "the server ready")
    cs = status_of(core, "asr", ASR)
    assert cs.restart_count == 0 and cs.last_state.terminated is None
    log = core.read_namespaced_pod_log("asr", NS)
    assert log.endswith(f"{LOADING}\nINFO: Server ready on port 2269\n")


def test_restart_policy_never_leaves_the_pod_failed_with_oomkilled(
    sim: SimCluster, sim_core: client.CoreV1Api
) -> None:
    sim_core.create_namespaced_pod(NS, asr_pod(sim, "once", "1Mi", restartPolicy="Never"))
    wait_until(
        lambda: sim_core.read_namespaced_pod("once", NS).status.phase == "Failed", 8, "Failed"
    )
    cs = status_of(sim_core, "once", ASR)
    assert (cs.state.terminated.reason, cs.state.terminated.exit_code) == ("OOMKilled", 137)
    assert cs.restart_count == 0 and cs.last_state.terminated is None


def _follow(argv: list[str], lines: list[str]) -> subprocess.Popen[str]:
    """Start a long-running command; a thread collects its stdout lines as they come."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return proc


def _shown_after(lines: list[str], pod: str, first: str, then: str) -> bool:
    """Whether `kubectl get -w` printed STATUS `first` for the pod and `then` after it."""
    shown = [x.split()[2] for x in lines if x.split()[:1] == [pod]]
    return first in shown and then in shown[shown.index(first) :]


def _kubectl_until(
    kubectl: Kubectl, sim: SimCluster, check: Callable[[str], bool], *args: str
) -> str:
    """kubectl's output once check() accepts it (the pod's state moves between calls)."""

    def attempt() -> str:
        r = kubectl(sim, "-n", NS, *args)
        assert r.returncode == 0, r.stderr
        return r.stdout if check(r.stdout) else ""

    return str(wait_until(attempt, 8, f"kubectl {' '.join(args)}", every=0.3))


@pytest.mark.kubectl
def test_kubectl_shows_oomkilled_then_crashloopbackoff(
    tls_sim: SimCluster, tls_core: client.CoreV1Api, kubectl: Kubectl, tmp_path: Path
) -> None:
    sim, sim_core = tls_sim, tls_core  # kubectl sends its token only over https
    kubeconfig = sim.write_kubeconfig(tmp_path / "watch-kubeconfig")
    lines: list[str] = []
    # every pod of the namespace: `get pod NAME -w` gives up on a pod that does not exist yet
    watcher = _follow(
        [str(KUBECTL), f"--kubeconfig={kubeconfig}", "-n", NS, "get", "pods", "-w"], lines
    )
    try:
        sim_core.create_namespaced_pod(NS, asr_pod(sim, "asr-oom", "1Mi"))
        sim_core.create_namespaced_pod(NS, asr_pod(sim, "once", "1Mi", restartPolicy="Never"))
        wait_until(
            lambda: _shown_after(lines, "asr-oom", "OOMKilled", "CrashLoopBackOff"),
            8,
            "kubectl get -w to show OOMKilled, then CrashLoopBackOff",
        )
    finally:
        watcher.kill()
        watcher.wait(5)

    def listed(out: str) -> bool:
        return bool(
            re.search(r"^asr-oom\s+0/1\s+CrashLoopBackOff\s+[1-9]\d* \(\d+s ago\)", out, re.M)
            and re.search(r"^once\s+0/1\s+OOMKilled\s+0\s", out, re.M)
        )

    _kubectl_until(kubectl, sim, listed, "get", "pods")

    want = (
        " State: Waiting\n Reason: CrashLoopBackOff\n"
        " Last State: Terminated\n Reason: OOMKilled\n Exit Code: 137\n"
    )
    text = _kubectl_until(
        kubectl, sim, lambda out: want in re.sub(r"[ \t]+", " ", out), "describe", "pod", "asr-oom"
    )
    text = re.sub(r"[ \t]+", " ", text)
    assert " Limits:\n memory: 1Mi\n Requests:\n memory: 1Mi\n" in text
    assert "QoS Class: Burstable" in text
    assert re.search(rf"Warning BackOff .* Back-off restarting failed container {ASR}", text)
