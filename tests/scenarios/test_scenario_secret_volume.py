"""missing-secret-volume: every lightning-asr pod waits in ContainerCreating with FailedMount
events while its Secret volume is missing, the api-server runs, and creating the Secret
starts the same pods, which read the token from the mounted file and serve."""

from __future__ import annotations

from collections.abc import Callable

from tests.polling import wait_until
from tests.scenarios.conftest import NS, World

RETRY = 0.3  # the kubelet's 10 s retry, scaled down (SimCluster(kubelet_retry=...))
FAILED = 'MountVolume.SetUp failed for volume "hf-token" : secret "hf-token" not found'


def _creating(w: World) -> set[str]:
    """Pods whose lightning-asr container waits in ContainerCreating."""
    return {
        p.metadata.name
        for p in w.pods()
        for c in p.status.container_statuses or []
        if c.state and c.state.waiting and c.state.waiting.reason == "ContainerCreating"
    }


def test_missing_secret_volume_holds_every_pod_until_the_secret_is_created(
    start: Callable[..., World],
) -> None:
    w = start("missing-secret-volume", kubelet_retry=RETRY)
    wait_until(lambda: len(w.ready("app=api-server")) == 1, 10, "the api-server to run")

    def failing() -> dict[str, int]:
        mounts = [e for e in w.warnings("FailedMount") if e.message == FAILED]
        return {e.involved_object.name: e.count for e in mounts}

    counts = wait_until(
        lambda: (f := failing()) and len(f) == 2 and min(f.values()) >= 2 and f,
        10,
        "FailedMount repeated on both pods",
    )
    assert set(counts) == _creating(w) == {p.metadata.name for p in w.pods()}
    assert all(p.status.phase == "Pending" for p in w.pods())
    assert not [
        e
        for e in w.core.list_namespaced_event(NS).items
        if e.reason == "Pulled" and e.involved_object.name in counts
    ]

    w.core.create_namespaced_secret(
        NS, {"metadata": {"name": "hf-token"}, "stringData": {"token": "hf_example"}}
    )
    wait_until(lambda: len(w.ready()) == 2, 15, "the pods to download and serve")
    assert {p.metadata.name for p in w.ready()} == set(counts)  # the same pods, started
    pod = sorted(counts)[0]
    assert w.exec(pod, "cat", "/var/run/secrets/hf/token") == "hf_example"
    assert all(c.restart_count == 0 for p in w.ready() for c in p.status.container_statuses)
