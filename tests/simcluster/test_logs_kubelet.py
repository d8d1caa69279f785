"""Pod logs through the official client: follow ends with the container, tail/since/limit,
timestamps, previous, container choice and errors."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from simcluster.kubelet.node import PodWorker
from tests.simcluster.kubelet_helpers import KubeletHarness, shell


@pytest.fixture
def h(tmp_path: Path) -> Iterator[KubeletHarness]:
    with KubeletHarness(tmp_path) as harness:
        yield harness


def _worker(h: KubeletHarness, pod: str = "p") -> PodWorker:
    worker = h.kubelet.find("default", pod)
    assert worker is not None, f"the kubelet runs no pod {pod}"
    return worker


def _terminated(h: KubeletHarness, pod: str, container: str = "main") -> bool:
    return "terminated" in h.container_state(pod, container).get("state", {})


def test_follow_streams_and_ends_when_the_container_ends(h: KubeletHarness) -> None:
    h.create_pod(
        "p",
        [shell("main", "echo one; sleep 0.4; printf 'two\\rtwo-b\\n'; sleep 0.4; echo three")],
        restartPolicy="Never",
    )
    h.wait(lambda: h.container_state("p", "main").get("state", {}).get("running"), what="running")
    started = time.monotonic()
    resp = h.core().read_namespaced_pod_log(
        "p", "default", follow=True, _preload_content=False, _request_timeout=10
    )
    chunks = list(resp.stream(64))
    elapsed = time.monotonic() - started
    body = b"".join(chunks)
    assert body == b"one\ntwo\rtwo-b\nthree\n"
    assert 0.5 < elapsed < 5  # it waited for the later lines and ended with the container
    assert _terminated(h, "p")


def test_tail_since_limit_and_timestamps(h: KubeletHarness) -> None:
    h.create_pod(
        "p",
        [shell("main", "for_each() { :; }; echo a; echo b; echo c; echo d")],
        restartPolicy="Never",
    )
    # the function definition above is not supported: the shell says so and exits 2
    h.wait(lambda: _terminated(h, "p"))
    state = h.container_state("p", "main")["state"]["terminated"]
    assert state["exitCode"] == 2 and state["reason"] == "Error"
    h.create_pod("q", [shell("main", "echo a; echo b; echo c; echo d")], restartPolicy="Never")
    h.wait(lambda: _terminated(h, "q"))
    core = h.core()
    assert core.read_namespaced_pod_log("q", "default") == "a\nb\nc\nd\n"
    assert core.read_namespaced_pod_log("q", "default", tail_lines=2) == "c\nd\n"
    assert core.read_namespaced_pod_log("q", "default", tail_lines=0) == ""
    assert core.read_namespaced_pod_log("q", "default", limit_bytes=3) == "a\nb"
    assert core.read_namespaced_pod_log("q", "default", since_seconds=60) == "a\nb\nc\nd\n"
    stamped = core.read_namespaced_pod_log("q", "default", timestamps=True, tail_lines=1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z d\n", stamped), stamped


def test_since_seconds_filters_old_lines(h: KubeletHarness) -> None:
    h.create_pod("p", [shell("main", "echo old; sleep 1.5; echo new; sleep 30")])
    h.wait(
        lambda: (
            b"new" in b"".join(ln.data for ln in _worker(h).containers["main"].logs.current.lines())
        ),
        what="second line",
    )
    assert h.core().read_namespaced_pod_log("p", "default", since_seconds=1) == "new\n"


def test_previous_and_crash_loop_back_off(h: KubeletHarness) -> None:
    h.create_pod("p", [shell("main", "echo attempt; exit 1")], restartPolicy="Always")
    st = h.wait(
        lambda: (
            (s := h.container_state("p", "main")).get("restartCount", 0) >= 1
            and s["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"
            and s
        ),
        what="CrashLoopBackOff",
    )
    assert st["lastState"]["terminated"]["exitCode"] == 1
    assert "back-off" in st["state"]["waiting"]["message"]
    core = h.core()
    assert core.read_namespaced_pod_log("p", "default", previous=True) == "attempt\n"
    events = h.call(h.store.list, "events")[0]
    reasons = {e["reason"] for e in events}
    assert {"Pulled", "Created", "Started", "BackOff"} <= reasons
    pod = h.pod("p")
    assert pod is not None and pod["status"]["phase"] == "Running"


def test_previous_names_the_instance_that_just_crashed_while_it_backs_off(
    h: KubeletHarness,
) -> None:
    """A kubelet answers ``previous`` from the container ``lastState`` names: during the
    back-off that is the instance that just crashed, the same one the plain log shows."""
    runs = shell("main", "echo run >> /data/runs; cat /data/runs; exit 1")
    runs["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    h.create_pod("p", [runs], restartPolicy="Always", volumes=[{"name": "data", "emptyDir": {}}])
    h.wait(
        lambda: (
            (s := h.container_state("p", "main")).get("restartCount", 0) >= 1
            and "waiting" in s["state"]
        ),
        what="the second run crashed and backs off",
    )
    core = h.core()
    plain = core.read_namespaced_pod_log("p", "default")
    assert plain.startswith("run\nrun\n"), plain
    assert core.read_namespaced_pod_log("p", "default", previous=True) == plain


def test_log_errors_are_status_objects(h: KubeletHarness) -> None:
    h.create_pod("two", [shell("a", "sleep 30"), shell("b", "sleep 30")])
    h.create_pod("one", [shell("main", "sleep 30")])
    h.wait(lambda: h.container_state("one", "main").get("state", {}).get("running"))
    core = h.core()
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("two", "default")
    assert exc.value.status == 400
    assert "a container name must be specified for pod two, choose one of: [a b]" in exc.value.body
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("one", "default", previous=True)
    assert exc.value.status == 400 and "previous terminated container" in exc.value.body
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("one", "default", container="nope")
    assert exc.value.status == 400 and "is not valid for pod one" in exc.value.body
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("missing", "default")
    assert exc.value.status == 404
    h.call(
        h.store.mutate,
        "pods",
        "default",
        "two",
        lambda p: (
            p["metadata"]
            .setdefault("annotations", {})
            .update({"kubectl.kubernetes.io/default-container": "b"})
        ),
    )
    assert core.read_namespaced_pod_log("two", "default") == ""
