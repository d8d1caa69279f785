"""Containers that never start: image-pull-backoff and missing-secret get into the state they
promise, keep what still serves serving, and recover the way a real cluster does."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from simcluster.faultcli import fault_main
from tests.polling import wait_until
from tests.scenarios.conftest import NS, World

RETRY = 0.3  # the kubelet's 10 s retry, scaled down (SimCluster(kubelet_retry=...))
TYPO = "smallest/lightning-asr:v2.0-typo"


def _waiting(w: World, selector: str = "app=lightning-asr") -> dict[str, tuple[str, str]]:
    """pod -> (reason, message) of its waiting lightning-asr container."""
    out = {}
    for p in w.pods(selector):
        for c in p.status.container_statuses or []:
            if c.state and c.state.waiting:
                out[p.metadata.name] = (c.state.waiting.reason, c.state.waiting.message)
    return out


def _image(pod: object) -> str:
    return str(pod.spec.containers[0].image)  # type: ignore[attr-defined]


def test_image_pull_backoff_stalls_the_rollout_while_v1_serves(
    start: Callable[..., World],
) -> None:
    w = start("image-pull-backoff", kubelet_retry=RETRY)
    wait_until(lambda: len(w.ready()) == 2, 10, "v1 ready")
    v1 = {p.metadata.name for p in w.ready()}

    def stuck() -> list[str]:
        return [
            name
            for name, (reason, _) in _waiting(w).items()
            if reason in ("ErrImagePull", "ImagePullBackOff")
        ]

    (bad,) = wait_until(stuck, 10, "the new pod to fail its pull")
    assert _image(w.core.read_namespaced_pod(bad, NS)) == TYPO
    wait_until(lambda: _waiting(w)[bad][0] == "ImagePullBackOff", 5, "ImagePullBackOff")
    _, message = _waiting(w)[bad]
    assert message.startswith(f'Back-off pulling image "{TYPO}": ErrImagePull: rpc error: code')
    assert message.endswith(f"docker.io/{TYPO}: not found")
    assert {p.metadata.name for p in w.ready()} == v1  # maxUnavailable 0: v1 keeps serving
    d = w.apps.read_namespaced_deployment("lightning-asr", NS)
    assert (d.status.ready_replicas, d.status.updated_replicas) == (2, 1)
    events = w.core.list_namespaced_event(NS, field_selector=f"involvedObject.name={bad}").items
    reasons = {e.reason for e in events}
    assert {"Pulling", "Failed", "BackOff"} <= reasons

    # The fix: a tag that exists. The rollout finishes and the typo'd pod goes.
    fixed = "smallest/lightning-asr:v2.0"
    body = {
        "spec": {"template": {"spec": {"containers": [{"name": "lightning-asr", "image": fixed}]}}}
    }
    w.apps.patch_namespaced_deployment("lightning-asr", NS, body)

    def rolled() -> bool:
        pods = w.pods()
        return len(pods) == 2 and all(_image(p) == fixed for p in pods) and len(w.ready()) == 2

    wait_until(rolled, 10, "the rollout to the good tag")
    assert bad not in {p.metadata.name for p in w.pods()}


def test_missing_secret_holds_every_pod_until_it_is_created(start: Callable[..., World]) -> None:
    w = start("missing-secret", kubelet_retry=RETRY)
    wanted = ("CreateContainerConfigError", 'secret "hf-token" not found')
    waits = wait_until(
        lambda: (x := _waiting(w)) and len(x) == 2 and set(x.values()) == {wanted} and x,
        10,
        "both pods in CreateContainerConfigError",
    )
    assert all(p.status.phase == "Pending" for p in w.pods())
    wait_until(lambda: len(w.ready("app=api-server")) == 1, 10, "the api-server to run")
    failed = [
        e
        for e in w.warnings("Failed")
        if e.message == 'Error: secret "hf-token" not found' and e.involved_object.name in waits
    ]
    assert {e.involved_object.name for e in failed} == set(waits)
    wait_until(lambda: any(e.count >= 2 for e in w.warnings("Failed")), 5, "a retry")

    w.core.create_namespaced_secret(
        NS, {"metadata": {"name": "hf-token"}, "stringData": {"token": "hf_example"}}
    )
    wait_until(lambda: len(w.ready()) == 2, 15, "the pods to download and serve")
    assert all(p.metadata.name in waits for p in w.ready())  # the same pods, started


def test_the_registry_learns_the_tag_from_the_fault_command(
    start: Callable[..., World], capsys: pytest.CaptureFixture[str]
) -> None:
    w = start("image-pull-backoff", kubelet_retry=RETRY)
    kc = str(w.kubeconfig)
    (bad,) = wait_until(
        lambda: [n for n, (r, _) in _waiting(w).items() if r == "ImagePullBackOff"],
        15,
        "the new pod in ImagePullBackOff",
    )
    assert fault_main(["--kubeconfig", kc, "status"]) == 0
    assert json.loads(capsys.readouterr().out)["refused_images"] == {TYPO: "not-found"}
    assert fault_main(["--kubeconfig", kc, "image", TYPO, "--publish"]) == 0
    assert capsys.readouterr().out == f"the registry serves {TYPO} now\n"
    wait_until(
        lambda: bad in {p.metadata.name for p in w.ready()}, 10, "the stuck pod to start at last"
    )
    wait_until(
        lambda: len(w.ready()) == 2 and all(_image(p) == TYPO for p in w.ready()),
        10,
        "the rollout to finish",
    )
    assert fault_main(["--kubeconfig", kc, "image", TYPO, "--publish"]) == 1
    assert capsys.readouterr().err == (
        f"asr-cache-sim fault: the registry refuses no image named {TYPO}\n"
    )
    assert fault_main(["--kubeconfig", kc, "image", "smallest/private", "--unauthorized"]) == 0
    assert capsys.readouterr().out == "the registry refuses smallest/private (unauthorized)\n"
