"""Secret and ConfigMap volumes as a 1.32 kubelet mounts them: one read-only file per key (or
per item, with its mode), binaryData decoded; a missing object or key holds the pod in
ContainerCreating with FailedMount events until it exists, and the same pod then starts;
an optional volume mounts what there is. Read back through exec with the official client."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from simcluster.cluster import SimCluster
from simcluster.kubelet.registry import agents
from tests.polling import wait_until
from tests.simcluster.conftest import NS, Kubectl, SimApi
from tests.simcluster.kubelet_helpers import exec_in_pod
from tests.simcluster.waiting_helpers import RETRY, events, pod, sleeper, status_of, waiting

HF = "/var/run/secrets/hf"
SETUP = 'MountVolume.SetUp failed for volume "hf" : '


def _mounted(
    name: str, volumes: list[dict[str, Any]], mounts: list[tuple[str, str]]
) -> dict[str, Any]:
    """A pod whose container mounts `mounts` [(volume, path)] of `volumes`."""
    vm = [{"name": v, "mountPath": p} for v, p in mounts]
    return pod(name, [sleeper(volumeMounts=vm)], volumes=volumes)


def _secret_vol(secret: str, name: str = "hf", **src: Any) -> dict[str, Any]:
    return {"name": name, "secret": {"secretName": secret, **src}}


def _cm_vol(cm: str, name: str = "cfg", **src: Any) -> dict[str, Any]:
    return {"name": name, "configMap": {"name": cm, **src}}


def _exec(core: client.CoreV1Api, name: str, *argv: str) -> tuple[int, str, str]:
    return exec_in_pod(core, NS, name, *argv)


def _running(core: client.CoreV1Api, name: str) -> bool:
    cs = status_of(core, name, "main")
    return bool(cs and cs.state and cs.state.running)


def _failed_mounts(core: client.CoreV1Api, name: str) -> dict[str, int]:
    """message -> count of the pod's Warning FailedMount events."""
    return {
        m: n for (t, r, m), n in events(core, name).items() if (t, r) == ("Warning", "FailedMount")
    }


def _ready_to_start(core: client.CoreV1Api, name: str) -> str | None:
    for c in core.read_namespaced_pod(name, NS).status.conditions or []:
        if c.type == "PodReadyToStartContainers":
            return str(c.status)
    return None


def test_a_secret_volume_is_its_decoded_keys_as_read_only_files(sim_api: SimApi) -> None:
    sim, api = sim_api(kubelet_retry=RETRY)
    core = client.CoreV1Api(api)
    core.create_namespaced_secret(
        NS,
        {"metadata": {"name": "hf-token"}, "stringData": {"token": "hf_abc", "user": "asr"}},
    )
    items = [{"key": "token", "path": "nested/t.txt", "mode": 0o400}]
    sim.apply(
        _mounted(
            "asr",
            [
                _secret_vol("hf-token"),
                _secret_vol("hf-token", "picked", items=items, defaultMode=0o440),
            ],
            [("hf", HF), ("picked", "/etc/picked")],
        )
    )
    wait_until(lambda: _running(core, "asr"), 8, "the container to start")
    assert _exec(core, "asr", "cat", f"{HF}/token") == (0, "hf_abc", "")
    assert _exec(core, "asr", "ls", HF)[1].split() == ["token", "user"]
    assert _exec(core, "asr", "stat", "-c", "%a", f"{HF}/user")[1].strip() == "644"
    assert _exec(core, "asr", "ls", "/etc/picked")[1].split() == ["nested"]
    assert _exec(core, "asr", "cat", "/etc/picked/nested/t.txt")[1] == "hf_abc"
    assert _exec(core, "asr", "stat", "-c", "%a", "/etc/picked/nested/t.txt")[1].strip() == "400"
    code, _, err = _exec(core, "asr", "touch", f"{HF}/new")
    assert code != 0 and "Read-only file system" in err
    assert not _failed_mounts(core, "asr")


def test_a_config_map_volume_has_its_data_and_decoded_binary_data(sim_api: SimApi) -> None:
    sim, api = sim_api(kubelet_retry=RETRY)
    core = client.CoreV1Api(api)
    blob = bytes(range(256))
    core.create_namespaced_config_map(
        NS,
        {
            "metadata": {"name": "asr-config"},
            "data": {"url": "http://models/v1", "workers": "4"},
            "binaryData": {"vocab.bin": base64.b64encode(blob).decode()},
        },
    )
    items = [{"key": "url", "path": "model-url"}, {"key": "vocab.bin", "path": "v.bin"}]
    sim.apply(
        _mounted(
            "cm",
            [_cm_vol("asr-config"), _cm_vol("asr-config", "some", items=items)],
            [("cfg", "/etc/asr"), ("some", "/etc/some")],
        )
    )
    wait_until(lambda: _running(core, "cm"), 8, "the container to start")
    assert _exec(core, "cm", "ls", "/etc/asr")[1].split() == ["url", "vocab.bin", "workers"]
    assert _exec(core, "cm", "cat", "/etc/asr/url")[1] == "http://models/v1"
    digest = hashlib.sha256(blob).hexdigest()
    assert _exec(core, "cm", "sha256sum", "/etc/asr/vocab.bin")[1].split()[0] == digest
    assert _exec(core, "cm", "ls", "/etc/some")[1].split() == ["model-url", "v.bin"]
    assert _exec(core, "cm", "cat", "/etc/some/model-url")[1] == "http://models/v1"
    assert _exec(core, "cm", "sha256sum", "/etc/some/v.bin")[1].split()[0] == digest


def test_a_missing_secret_holds_the_pod_in_container_creating_until_it_is_created(
    sim_api: SimApi,
) -> None:
    sim, api = sim_api(kubelet_retry=RETRY)
    core = client.CoreV1Api(api)
    sim.apply(_mounted("asr", [_secret_vol("hf-token")], [("hf", HF)]))
    message = SETUP + 'secret "hf-token" not found'
    counts = wait_until(
        lambda: (c := _failed_mounts(core, "asr")).get(message, 0) >= 3 and c,
        5,
        "FailedMount repeated",
    )
    assert list(counts) == [message]  # one aggregated event, its count growing
    first = core.read_namespaced_pod("asr", NS)
    assert first.status.phase == "Pending"
    assert waiting(core, "asr", "main") == ("ContainerCreating", None)
    assert _ready_to_start(core, "asr") == "False"
    assert not first.status.pod_ip
    # no image pulled and no container created before the volumes are there
    assert {r for (_, r, _) in events(core, "asr")} == {"Scheduled", "FailedMount"}

    core.create_namespaced_secret(
        NS, {"metadata": {"name": "hf-token"}, "stringData": {"token": "hf_later"}}
    )
    wait_until(lambda: _running(core, "asr"), 5, "the same pod to start")
    now = core.read_namespaced_pod("asr", NS)
    assert now.metadata.uid == first.metadata.uid
    assert status_of(core, "asr", "main").restart_count == 0
    assert _exec(core, "asr", "cat", f"{HF}/token")[1] == "hf_later"


def test_a_missing_config_map_or_key_fails_the_mount_with_the_plugins_words(
    sim_api: SimApi,
) -> None:
    sim, api = sim_api(kubelet_retry=RETRY)
    core = client.CoreV1Api(api)
    cm_items = [{"key": "url", "path": "url"}]
    secret_items = [{"key": "token", "path": "token"}]
    sim.apply(
        [
            _mounted("cm", [_cm_vol("asr-config", items=cm_items)], [("cfg", "/etc/asr")]),
            _mounted("sec", [_secret_vol("hf-token", items=secret_items)], [("hf", HF)]),
        ]
    )
    gone = 'MountVolume.SetUp failed for volume "cfg" : configmap "asr-config" not found'
    wait_until(lambda: gone in _failed_mounts(core, "cm"), 5, gone)
    core.create_namespaced_config_map(NS, {"metadata": {"name": "asr-config"}, "data": {"x": "1"}})
    core.create_namespaced_secret(NS, {"metadata": {"name": "hf-token"}, "stringData": {"u": "1"}})
    no_key = (
        'MountVolume.SetUp failed for volume "cfg" : '
        "configmap references non-existent config key: url"
    )
    wait_until(lambda: no_key in _failed_mounts(core, "cm"), 5, no_key)
    no_secret_key = SETUP + "references non-existent secret key: token"
    wait_until(lambda: no_secret_key in _failed_mounts(core, "sec"), 5, no_secret_key)
    assert waiting(core, "cm", "main") == ("ContainerCreating", None)
    assert waiting(core, "sec", "main") == ("ContainerCreating", None)

    core.patch_namespaced_config_map("asr-config", NS, {"data": {"url": "http://m"}})
    core.patch_namespaced_secret("hf-token", NS, {"stringData": {"token": "t"}})
    wait_until(lambda: _running(core, "cm") and _running(core, "sec"), 5, "both pods to start")
    assert _exec(core, "cm", "cat", "/etc/asr/url")[1] == "http://m"
    assert _exec(core, "sec", "ls", HF)[1].split() == ["token"]


def test_optional_volumes_mount_what_exists_and_the_pod_starts(sim_api: SimApi) -> None:
    sim, api = sim_api(kubelet_retry=RETRY)
    core = client.CoreV1Api(api)
    core.create_namespaced_secret(NS, {"metadata": {"name": "partial"}, "stringData": {"a": "1"}})
    items = [{"key": "a", "path": "a"}, {"key": "b", "path": "b"}]
    volumes = [
        _secret_vol("nope", optional=True),
        _cm_vol("nope", optional=True),
        _secret_vol("partial", "part", items=items, optional=True),
    ]
    mounts = [("hf", HF), ("cfg", "/etc/asr"), ("part", "/etc/part")]
    sim.apply(_mounted("opt", volumes, mounts))
    wait_until(lambda: _running(core, "opt"), 8, "the pod to start")
    assert _exec(core, "opt", "ls", HF) == (0, "", "")
    assert _exec(core, "opt", "ls", "/etc/asr") == (0, "", "")
    assert _exec(core, "opt", "ls", "/etc/part")[1].split() == ["a"]
    assert not _failed_mounts(core, "opt")


def test_the_pre_1_28_timeout_event_for_a_secret_that_never_comes(sim_api: SimApi) -> None:
    sim, api = sim_api(kubelet_retry=RETRY)
    settings = agents(sim).settings
    settings.mount_timeout = 0.6  # podAttachAndMountTimeout is 2m3s
    settings.mount_timeout_event = True
    core = client.CoreV1Api(api)
    volumes = [_secret_vol("hf-token"), {"name": "scratch", "emptyDir": {}}]
    sim.apply(_mounted("asr", volumes, [("hf", HF), ("scratch", "/scratch")]))
    timeout = (
        "Unable to attach or mount volumes: unmounted volumes=[hf], unattached volumes=[hf "
        "scratch], failed to process volumes=[]: timed out waiting for the condition"
    )
    wait_until(lambda: _failed_mounts(core, "asr").get(timeout, 0) >= 2, 5, "the timeout event")
    assert SETUP + 'secret "hf-token" not found' in _failed_mounts(core, "asr")


def test_without_the_old_timeout_event_only_set_up_failures_are_recorded(
    sim_api: SimApi,
) -> None:
    sim, api = sim_api(kubelet_retry=RETRY)
    agents(sim).settings.mount_timeout = 0.3
    core = client.CoreV1Api(api)
    sim.apply(_mounted("asr", [_secret_vol("hf-token")], [("hf", HF)]))
    message = SETUP + 'secret "hf-token" not found'
    wait_until(lambda: _failed_mounts(core, "asr").get(message, 0) >= 4, 5, "retries")
    assert list(_failed_mounts(core, "asr")) == [message]


@pytest.mark.kubectl
def test_kubectl_shows_container_creating_and_the_failed_mounts_until_the_secret_exists(
    make_sim: Callable[..., SimCluster], kubectl: Kubectl
) -> None:
    sim = make_sim(tls=True, kubelet_retry=RETRY)
    sim.apply(_mounted("asr", [_secret_vol("hf-token")], [("hf", HF)]))

    def status() -> str | None:
        rows = kubectl(sim, "-n", NS, "get", "pod", "asr").stdout.splitlines()[1:]
        return rows[0].split()[2] if rows else None

    assert wait_until(lambda: status() == "ContainerCreating", 5, "the STATUS column")
    described = wait_until(
        lambda: (
            (out := kubectl(sim, "-n", NS, "describe", "pod", "asr").stdout)
            and re.search(r"\(x\d+ over", out)
            and out
        ),
        5,
        "a repeated FailedMount",
    )
    lines = [ln for ln in described.split("Events:")[1].splitlines() if "FailedMount" in ln]
    assert len(lines) == 1 and lines[0].split()[0] == "Warning" and " kubelet " in lines[0]
    assert lines[0].rstrip().endswith(SETUP + 'secret "hf-token" not found')
    assert re.search(r"Reason:\s+ContainerCreating", described)
    made = kubectl(
        sim, "-n", NS, "create", "secret", "generic", "hf-token", "--from-literal=token=hf_k"
    )
    assert made.returncode == 0, made.stderr
    wait_until(lambda: status() == "Running", 5, "the pod to run")
    read = kubectl(sim, "-n", NS, "exec", "asr", "--", "cat", f"{HF}/token")
    assert (read.returncode, read.stdout) == (0, "hf_k"), read.stderr
