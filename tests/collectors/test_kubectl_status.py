"""kubectl's STATUS word, worked out from the pod: each rule of kubectl's printer on a pod
written for it, the words the scenarios' pods really reach on the simulator, and the same
words as ``kubectl get pods`` prints them (its printer runs server-side: the simulator's)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from collectors.kubectl_status import kubectl_status
from collectors.pods import pod_info
from tests.polling import wait_until
from tests.scenarios.conftest import NS, World

KiB = 1024


def _pod(
    phase: str = "Running",
    init: list[dict[str, Any]] | None = None,
    main: list[dict[str, Any]] | None = None,
    conditions: dict[str, str] | None = None,
    **status: Any,
) -> dict[str, Any]:
    """A pod with these container statuses; the spec names the same containers."""
    init, main = init or [], main or []
    return {
        "metadata": {"name": "p"},
        "spec": {
            "initContainers": [
                {"name": s["name"], **({"restartPolicy": "Always"} if s.get("sidecar") else {})}
                for s in init
            ],
            "containers": [{"name": s["name"]} for s in main],
        },
        "status": {
            "phase": phase,
            "initContainerStatuses": init,
            "containerStatuses": main,
            "conditions": [{"type": k, "status": v} for k, v in (conditions or {}).items()],
            **status,
        },
    }


def _c(name: str, state: str, ready: bool = False, **detail: Any) -> dict[str, Any]:
    return {"name": name, "ready": ready, "state": {state: detail}}


def test_the_phase_when_nothing_says_more() -> None:
    assert kubectl_status(_pod("Pending")) == "Pending"
    assert kubectl_status(_pod(main=[_c("asr", "running", ready=True)])) == "Running"
    assert kubectl_status({"metadata": {}, "status": {}}) == ""


def test_a_waiting_or_terminated_reason_of_a_container_wins() -> None:
    looping = _c("asr", "waiting", reason="CrashLoopBackOff", message="back-off 10s")
    assert kubectl_status(_pod(main=[looping])) == "CrashLoopBackOff"
    pulling = _c("asr", "waiting", reason="ImagePullBackOff")
    assert kubectl_status(_pod("Pending", main=[pulling])) == "ImagePullBackOff"
    creating = _c("asr", "waiting", reason="ContainerCreating")
    assert kubectl_status(_pod("Pending", main=[creating])) == "ContainerCreating"
    oom = _c("asr", "terminated", reason="OOMKilled", exitCode=137)
    assert kubectl_status(_pod(main=[oom])) == "OOMKilled"
    bare = _c("asr", "terminated", exitCode=3)
    assert kubectl_status(_pod(main=[bare])) == "ExitCode:3"
    signalled = _c("asr", "terminated", exitCode=137, signal=9)
    assert kubectl_status(_pod(main=[signalled])) == "Signal:9"
    # The first container's word wins (kubectl reads them last to first).
    first = _c("a", "waiting", reason="CrashLoopBackOff")
    second = _c("b", "running", ready=True)
    assert kubectl_status(_pod(main=[first, second])) == "CrashLoopBackOff"


def test_completed_with_a_container_still_running_is_running_or_not_ready() -> None:
    done = _c("a", "terminated", reason="Completed", exitCode=0)
    serving = _c("b", "running", ready=True)
    assert kubectl_status(_pod(main=[serving, done], conditions={"Ready": "True"})) == "Running"
    assert kubectl_status(_pod(main=[serving, done], conditions={"Ready": "False"})) == "NotReady"
    assert kubectl_status(_pod("Succeeded", main=[done])) == "Completed"


def test_init_containers_say_their_progress_or_their_trouble() -> None:
    waiting = _c("asr", "waiting", reason="PodInitializing")
    fetching = _c("fetch", "running")
    assert kubectl_status(_pod("Pending", [fetching], [waiting])) == "Init:0/1"
    first_done = _c("a", "terminated", reason="Completed", exitCode=0)
    second = _c("b", "waiting", reason="PodInitializing")
    assert kubectl_status(_pod("Pending", [first_done, second], [waiting])) == "Init:1/2"
    looping = _c("fetch", "waiting", reason="CrashLoopBackOff")
    assert kubectl_status(_pod("Pending", [looping], [waiting])) == "Init:CrashLoopBackOff"
    failed = _c("fetch", "terminated", reason="Error", exitCode=1)
    assert kubectl_status(_pod("Pending", [failed], [waiting])) == "Init:Error"
    assert kubectl_status(_pod("Pending", [_c("f", "terminated", exitCode=2)])) == "Init:ExitCode:2"
    killed = _c("f", "terminated", exitCode=137, signal=9)
    assert kubectl_status(_pod("Pending", [killed])) == "Init:Signal:9"
    # Every init container done: the main containers speak.
    serving = _c("asr", "running", ready=True)
    assert kubectl_status(_pod("Running", [first_done], [serving])) == "Running"


def test_a_started_sidecar_is_not_initialising() -> None:
    sidecar = {**_c("proxy", "running", ready=True), "started": True, "sidecar": True}
    fetching = _c("fetch", "running")
    waiting = _c("asr", "waiting", reason="PodInitializing")
    assert kubectl_status(_pod("Pending", [sidecar, fetching], [waiting])) == "Init:1/2"


def test_a_pod_being_deleted_is_terminating_and_on_a_lost_node_unknown() -> None:
    running = _pod(main=[_c("asr", "running", ready=True)])
    deleting = {**running, "metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert kubectl_status(deleting) == "Terminating"
    lost = {**deleting, "status": {**deleting["status"], "reason": "NodeLost"}}
    assert kubectl_status(lost) == "Unknown"
    evicted = _pod("Failed", reason="Evicted")
    gone = {**evicted, "metadata": deleting["metadata"]}
    assert kubectl_status(gone) == "Evicted"  # a Failed pod is past terminating


def test_the_pods_own_reason_and_a_scheduling_gate() -> None:
    assert kubectl_status(_pod("Failed", reason="Evicted")) == "Evicted"
    gated = _pod("Pending")
    gated["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
    ]
    assert kubectl_status(gated) == "SchedulingGated"


# -- on the simulator ------------------------------------------------------------------------


def _raw_pods(w: World) -> dict[str, dict[str, Any]]:
    resp = w.core.list_namespaced_pod(NS, _preload_content=False)
    return {p["metadata"]["name"]: p for p in json.loads(resp.data)["items"]}


def _statuses(w: World) -> dict[str, str]:
    return {name: kubectl_status(p) for name, p in _raw_pods(w).items()}


def _reaches(w: World, word: str, timeout: float = 30) -> dict[str, str]:
    return wait_until(
        lambda: (s := _statuses(w)) and word in s.values() and s,
        timeout,
        f"a pod {word}",
    )


def test_the_scenarios_pods_in_kubectls_words(start: Callable[..., World]) -> None:
    w = start("s3-init", speed=256 * KiB)
    statuses = _reaches(w, "Init:0/1")
    pod = _raw_pods(w)[next(n for n, s in statuses.items() if s == "Init:0/1")]
    info = pod_info(pod)
    assert info.phase == "Pending" and info.kubectl_status == "Init:0/1"
    w = start("oom-on-load")
    _reaches(w, "CrashLoopBackOff")
    w = start("image-pull-backoff")
    _reaches(w, "ImagePullBackOff")
    w = start("missing-secret")
    _reaches(w, "CreateContainerConfigError")


KUBECTL = shutil.which("kubectl")


def _kubectl_statuses(w: World) -> dict[str, str]:
    out = subprocess.run(
        ["kubectl", f"--kubeconfig={w.kubeconfig}", "-n", NS, "get", "pods", "--no-headers"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return {cols[0]: cols[2] for line in out.splitlines() if len(cols := line.split()) >= 3}


def _agree(w: World) -> tuple[dict[str, str], dict[str, str]] | None:
    """kubectl's words and ours for the same moment: read kubectl, ours, kubectl again, and
    keep them only if kubectl's did not change meanwhile."""
    before = _kubectl_statuses(w)
    ours = _statuses(w)
    after = _kubectl_statuses(w)
    return (after, ours) if before == after and set(ours) == set(after) else None


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")
@pytest.mark.parametrize(
    ("scenario", "word", "speed"),
    [
        ("s3-init", "Init:0/1", 256 * KiB),
        ("oom-on-load", "CrashLoopBackOff", 0),
        ("image-pull-backoff", "ImagePullBackOff", 0),
        ("missing-secret", "CreateContainerConfigError", 0),
    ],
)
def test_kubectl_get_pods_says_the_same(
    start: Callable[..., World], scenario: str, word: str, speed: int
) -> None:
    w = start(scenario, speed=speed, tls=True)  # kubectl sends its token only over https
    wait_until(lambda: word in _kubectl_statuses(w).values(), 30, f"kubectl showing {word}")
    theirs, ours = wait_until(
        lambda: (seen := _agree(w)) and word in seen[0].values() and seen,
        20,
        f"the pods holding still, one {word}, for a comparison",
    )
    assert ours == theirs
