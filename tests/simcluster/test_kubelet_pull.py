"""Images that cannot be pulled, as the official client and kubectl see them: ErrImagePull then
ImagePullBackOff with containerd's and the kubelet's wording, the events and their counts,
back-off that grows, init containers (`Init:ImagePullBackOff`), private registries and pull
secrets, and the pod starting once the registry has the image."""

from __future__ import annotations

import base64
import itertools
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from simcluster.cluster import SimCluster
from simcluster.kubelet.images import parse_image
from simcluster.kubelet.pull import BackOff, go_duration, runtime_error
from tests.polling import wait_until
from tests.simcluster.conftest import KUBECTL, NS, Kubectl, api_client
from tests.simcluster.waiting_helpers import (
    RETRY,
    event_paths,
    events,
    pod,
    sleeper,
    status_of,
    waiting,
)

TYPO = "smallest/lightning-asr:v2.0-typo"
NOT_FOUND = (
    'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/smallest/'
    'lightning-asr:v2.0-typo": failed to resolve reference "docker.io/smallest/lightning-asr:'
    'v2.0-typo": docker.io/smallest/lightning-asr:v2.0-typo: not found'
)
PRIVATE = "registry.example.com/smallest/asr-init:v1"
UNAUTHORIZED = (
    'rpc error: code = Unknown desc = failed to pull and unpack image "registry.example.com/'
    'smallest/asr-init:v1": failed to resolve reference "registry.example.com/smallest/'
    'asr-init:v1": unexpected status from HEAD request to https://registry.example.com/v2/'
    "smallest/asr-init/manifests/v1: 401 Unauthorized"
)


def _core(cluster: SimCluster, tmp_path: Path) -> client.CoreV1Api:
    return client.CoreV1Api(api_client(cluster, tmp_path))


def _waits(core: client.CoreV1Api, name: str, container: str, want: int, timeout: float = 8.0):
    """(monotonic time, reason, message) of each waiting state the watch shows, until `want`
    ErrImagePull states were seen."""
    seen: list[tuple[float, str, str]] = []
    w = watch.Watch()
    deadline = time.monotonic() + timeout
    for ev in w.stream(
        core.list_namespaced_pod, NS, field_selector=f"metadata.name={name}", timeout_seconds=10
    ):
        st = ev["object"].status
        for cs in (st.container_statuses or []) + (st.init_container_statuses or []):
            state = cs.state.waiting if cs.name == container and cs.state else None
            if state is not None and (not seen or seen[-1][1:] != (state.reason, state.message)):
                seen.append((time.monotonic(), state.reason, state.message))
        if sum(1 for _, r, _ in seen if r == "ErrImagePull") >= want:
            break
        if time.monotonic() > deadline:
            break
    w.stop()
    return seen


def test_a_tag_the_registry_lacks_fails_then_backs_off_then_starts_once_published(
    make_sim: Callable[..., SimCluster], tmp_path: Path
) -> None:
    sim = make_sim(kubelet_retry=RETRY)
    sim.refuse_image(TYPO)
    core = _core(sim, tmp_path)
    core.create_namespaced_pod(NS, pod("typo", [sleeper("asr", TYPO)]))
    seen = _waits(core, "typo", "asr", want=2)
    reasons = [r for _, r, _ in seen]
    assert reasons[:3] == ["ErrImagePull", "ImagePullBackOff", "ErrImagePull"], reasons
    messages = dict((r, m) for _, r, m in seen)
    assert messages["ErrImagePull"] == NOT_FOUND
    assert (
        messages["ImagePullBackOff"]
        == f'Back-off pulling image "{TYPO}": ErrImagePull: {NOT_FOUND}'
    )

    p = core.read_namespaced_pod("typo", NS)
    assert p.status.phase == "Pending"
    cs = status_of(core, "typo", "asr")
    assert (cs.ready, cs.started, cs.restart_count, cs.image, cs.image_id, cs.container_id) == (
        False,
        False,
        0,
        TYPO,
        "",
        None,
    )
    ready = next(c for c in p.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "ContainersNotReady")

    counts = wait_until(lambda: (e := events(core, "typo")) and e, what="events")
    assert counts[("Normal", "Pulling", f'Pulling image "{TYPO}"')] >= 2
    assert counts[("Warning", "Failed", f'Failed to pull image "{TYPO}": {NOT_FOUND}')] >= 2
    assert counts[("Warning", "Failed", "Error: ErrImagePull")] >= 2
    assert counts[("Normal", "BackOff", f'Back-off pulling image "{TYPO}"')] >= 1
    assert counts[("Warning", "Failed", "Error: ImagePullBackOff")] >= 1
    assert event_paths(core, "typo", "BackOff") == {"spec.containers{asr}"}
    with pytest.raises(ApiException) as logs:
        core.read_namespaced_pod_log("typo", NS)
    assert logs.value.status == 400 and json.loads(logs.value.body)["message"] == (
        'container "asr" in pod "typo" is waiting to start: trying and failing to pull image'
    )

    assert sim.publish_image(TYPO)
    wait_until(lambda: (cs := status_of(core, "typo", "asr")) and cs.ready, what="the pod to start")
    cs = status_of(core, "typo", "asr")
    assert cs.image_id.startswith("smallest/lightning-asr@sha256:") and cs.restart_count == 0
    done = events(core, "typo")
    pulled = [m for (_, r, m) in done if r == "Pulled"]
    assert len(pulled) == 1
    assert re.fullmatch(
        rf'Successfully pulled image "{re.escape(TYPO)}" in \d+ms \(\d+ms including waiting\)\. '
        r"Image size: \d+ bytes\.",
        pulled[0],
    )
    assert ("Normal", "Started", "Started container asr") in done


def test_pulls_come_further_apart_each_time(
    make_sim: Callable[..., SimCluster], tmp_path: Path
) -> None:
    sim = make_sim(kubelet_retry=0.25)
    sim.refuse_image(TYPO)
    core = _core(sim, tmp_path)
    core.create_namespaced_pod(NS, pod("typo", [sleeper("asr", TYPO)]))
    pulls = [t for t, r, _ in _waits(core, "typo", "asr", want=4) if r == "ErrImagePull"]
    assert len(pulls) == 4
    gaps = [b - a for a, b in itertools.pairwise(pulls)]  # ~0.275, 0.5, 1.0 s
    assert 1.5 < gaps[1] / gaps[0] < 2.7 and 1.5 < gaps[2] / gaps[1] < 2.7, gaps


def test_the_back_off_is_the_kubelets_10s_doubling_to_300s(
    make_sim: Callable[..., SimCluster],
) -> None:
    sim = make_sim()
    backoff = sim.kubelets["node-1"].puller.backoff
    assert (backoff.initial, backoff.cap) == (10.0, 300.0)
    b = BackOff(10.0, 300.0)
    delays = []
    now = 0.0
    for _ in range(7):
        b.next("uid_img", now)
        delays.append(b.entries["uid_img"][0])
        assert b.in_backoff("uid_img", now + delays[-1] - 0.1)
        assert not b.in_backoff("uid_img", now + delays[-1])
        now += delays[-1]
    assert delays == [10, 20, 40, 80, 160, 300, 300]
    b.next("uid_img", now + 601)  # quiet for twice the cap: it starts over
    assert b.entries["uid_img"][0] == 10


def test_wording_of_references_and_runtime_errors() -> None:
    assert str(parse_image("busybox")) == "docker.io/library/busybox:latest"
    assert str(parse_image("smallest/asr:v1")) == "docker.io/smallest/asr:v1"
    assert str(parse_image("localhost:5000/asr")) == "localhost:5000/asr:latest"
    assert str(parse_image("ghcr.io/x/y@sha256:ab")) == "ghcr.io/x/y@sha256:ab"
    assert runtime_error(PRIVATE, "unauthorized") == UNAUTHORIZED
    assert runtime_error("smallest/private-asr:v1", "unauthorized") == (
        'rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/smallest/'
        'private-asr:v1": failed to resolve reference "docker.io/smallest/private-asr:v1": '
        "pull access denied, repository does not exist or may require authorization: server "
        "message: insufficient_scope: authorization failed"
    )
    assert [go_duration(s) for s in (0.0123, 1.5, 2.0, 75.25)] == ["12ms", "1.5s", "2s", "1m15.25s"]


def test_a_private_registry_needs_the_pull_secret_the_pod_names(
    make_sim: Callable[..., SimCluster], tmp_path: Path
) -> None:
    sim = make_sim(kubelet_retry=RETRY)
    sim.refuse_image("registry.example.com/smallest/asr-init", "unauthorized")  # every tag
    core = _core(sim, tmp_path)
    spec = pod("private", [sleeper()], imagePullSecrets=[{"name": "regcred"}])
    spec["spec"]["initContainers"] = [
        {"name": "fetch", "image": PRIVATE, "command": ["sh", "-c", "true"]}
    ]
    core.create_namespaced_pod(NS, spec)
    wait_until(
        lambda: (w := waiting(core, "private", "fetch")) and w[1].endswith(UNAUTHORIZED),
        what="a pull refused",
    )
    assert waiting(core, "private", "main") == ("PodInitializing", None)
    p = core.read_namespaced_pod("private", NS)
    initialized = next(c for c in p.status.conditions if c.type == "Initialized")
    assert (initialized.status, initialized.reason, initialized.message) == (
        "False",
        "ContainersNotInitialized",
        "containers with incomplete status: [fetch]",
    )
    counts = wait_until(lambda: events(core, "private"), what="events")
    missing = (
        "Unable to retrieve some image pull secrets (regcred); attempting to pull the image may "
        "not succeed."
    )
    assert counts[("Warning", "FailedToRetrieveImagePullSecret", missing)] >= 1
    assert event_paths(core, "private", "FailedToRetrieveImagePullSecret") == {None}

    auth = base64.b64encode(b"robot:s3cret").decode()
    config = {"auths": {"https://registry.example.com": {"auth": auth}}}
    core.create_namespaced_secret(
        NS,
        {
            "metadata": {"name": "regcred"},
            "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": json.dumps(config)},
        },
    )
    wait_until(
        lambda: (cs := status_of(core, "private", "main")) and cs.ready, what="the pod to run"
    )
    fetch = status_of(core, "private", "fetch")
    assert fetch.state.terminated.reason == "Completed"


def _watch_statuses(kubeconfig: Path, seconds: float) -> list[list[str]]:
    """The rows `kubectl get pods -w` prints for `seconds` (each a list of cells)."""
    assert KUBECTL is not None
    proc = subprocess.Popen(
        [KUBECTL, f"--kubeconfig={kubeconfig}", "-n", NS, "get", "pods", "-w"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, _ = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    return [line.split() for line in out.splitlines()[1:] if line.strip()]


@pytest.mark.kubectl
def test_kubectl_shows_the_pull_statuses_and_describe_the_events(
    make_sim: Callable[..., SimCluster], kubectl: Kubectl, tmp_path: Path
) -> None:
    sim = make_sim(tls=True, kubelet_retry=RETRY)
    sim.refuse_image(TYPO)
    sim.refuse_image(PRIVATE, "unauthorized")
    sim.apply(
        [
            pod("typo", [sleeper("asr", TYPO)]),
            pod("init", [sleeper()], initContainers=[sleeper("fetch", PRIVATE)]),
        ]
    )
    rows = _watch_statuses(sim.write_kubeconfig(tmp_path / "watch-kubeconfig"), 2.5)
    statuses = {name: {r[2] for r in rows if r[0] == name} for name in ("typo", "init")}
    assert {"ErrImagePull", "ImagePullBackOff"} <= statuses["typo"], rows
    assert {"Init:ErrImagePull", "Init:ImagePullBackOff"} <= statuses["init"], rows

    out = kubectl(sim, "-n", NS, "describe", "pod", "typo")
    assert out.returncode == 0, out.stderr
    assert "Reason:       ImagePullBackOff" in out.stdout or "ErrImagePull" in out.stdout
    lines = out.stdout.split("Events:")[1].splitlines()

    def line(reason: str, message: str) -> str:
        found = [ln for ln in lines if f" {reason} " in ln and ln.rstrip().endswith(message)]
        assert found, (reason, message, lines)
        return found[0]

    assert re.search(r"\(x\d+ over", line("BackOff", f'Back-off pulling image "{TYPO}"'))
    assert re.search(r"\(x\d+ over", line("Failed", f'Failed to pull image "{TYPO}": {NOT_FOUND}'))
    assert line("Failed", "Error: ImagePullBackOff").lstrip().startswith("Warning")
    assert line("Pulling", f'Pulling image "{TYPO}"').lstrip().startswith("Normal")
    init = kubectl(sim, "-n", NS, "describe", "pod", "init")
    assert f'Failed to pull image "{PRIVATE}": {UNAUTHORIZED}' in init.stdout
