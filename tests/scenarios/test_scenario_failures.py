"""The failures on-call meets: each scenario gets into the state it promises."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable

import httpx
import pytest

from tests.polling import wait_until
from tests.scenarios.conftest import MODEL, NS, World
from tests.scenarios.proc_helpers import can_mount

KiB = 1024


def crash_looping(w: World) -> list:
    out = []
    for p in w.pods():
        for c in p.status.container_statuses or []:
            waiting = c.state.waiting
            if (
                c.restart_count >= 1
                and waiting is not None
                and waiting.reason == "CrashLoopBackOff"
            ):
                out.append(p)
    return out


def part_size(w: World, pod: str) -> int:
    out = w.exec(pod, "sh", "-c", "stat -c %s /app/models/model.bin.part 2>/dev/null || echo 0")
    return int(out.split()[0])


def test_stalled_download_sits_at_forty_percent_until_someone_acts(
    start: Callable[..., World],
) -> None:
    w = start("stalled-download", speed=2 * 1024 * KiB)
    wait_until(lambda: w.stats("v1").stalls >= 1, 20, "the model server to stall a response")
    (pod,) = w.pods()
    stuck = pod.metadata.name
    wait_until(lambda: part_size(w, stuck), 10, "the partial file")
    # Bytes sent before the stall may still be in transit: wait until two reads agree.
    sizes: list[int] = []

    def settled() -> int | None:
        sizes.append(part_size(w, stuck))
        return sizes[-1] if len(sizes) >= 2 and sizes[-1] == sizes[-2] else None

    first = wait_until(settled, 10, "the partial to stop growing", every=0.3)
    time.sleep(1.5)
    assert part_size(w, stuck) == first  # nothing moves
    assert 0.3 * MODEL <= first <= 0.45 * MODEL
    log = w.log(stuck)
    assert b'"event": "start"' in log and b'"event": "done"' not in log
    # Someone acts: clear the model's faults through the admin endpoint.
    token = w.cluster.admin_token
    r = httpx.post(
        w.cluster.url + "/_sim/faults/model",
        json={"model": "v1", "clear": True},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    wait_until(lambda: len(w.ready()) == 1, 20, "the stalled pod to finish once released")
    done = [json.loads(x) for x in w.log(stuck).splitlines() if b'"event": "done"' in x]
    assert done and done[-1]["sha256"] == w.runtime.models["v1"].sha256


def test_corrupt_model_fails_validation_and_crash_loops(start: Callable[..., World]) -> None:
    w = start("corrupt-model")
    wait_until(lambda: len(crash_looping(w)) == 2, 30, "both pods in CrashLoopBackOff")
    first_runs = b"".join(w.log(p.metadata.name, previous=True) for p in w.pods())
    # The cached copy on the shared volume fails validation, as the real server reports it...
    assert b"ERROR: Model validation failed: checksum mismatch" in first_runs
    assert len(w.warnings("BackOff")) >= 2
    # ...and nothing is fetched again: the corrupt file stays for on-call to look at and delete.
    assert w.stats("v1").requests == 0
    cached = w.claim_dir("models-aws-efs-pvc") / "v1" / "model.bin"
    assert cached.exists()
    assert hashlib.sha256(cached.read_bytes()).hexdigest() != w.runtime.models["v1"].sha256
    # Once it is deleted (the guide's fix), the pods download a good copy and serve.
    cached.unlink()
    wait_until(lambda: len(w.ready()) == 2, 45, "both pods ready after the corrupt file went")
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == w.runtime.models["v1"].sha256


@pytest.mark.skipif(not can_mount(), reason="needs root: the claim's size is real only on a tmpfs")
def test_disk_full_fails_with_enospc_and_crash_loops(start: Callable[..., World]) -> None:
    w = start("disk-full")
    pods = wait_until(lambda: crash_looping(w), 30, "the pod in CrashLoopBackOff")
    name = pods[0].metadata.name
    log = w.log(name, previous=True) or w.log(name)
    assert b'"code": "disk_full"' in log
    assert b"no space left for model.bin in /app/models" in log
    assert b"ERROR: Download failed after 1 attempts" in log
    backoff = w.warnings("BackOff")
    assert backoff and "Back-off restarting failed container lightning-asr" in backoff[0].message
    pvc = w.core.read_namespaced_persistent_volume_claim("models-ebs-pvc", NS)
    assert int(pvc.spec.resources.requests["storage"]) == MODEL // 2
    st = os.statvfs(w.claim_dir("models-ebs-pvc"))  # a real file system of the claim's size
    assert st.f_blocks * st.f_frsize == MODEL // 2


def test_flaky_network_downloads_retry_and_finish(start: Callable[..., World]) -> None:
    w = start("flaky-network", speed=2 * 1024 * KiB)
    wait_until(lambda: len(w.ready()) == 2, 45, "both pods ready despite the faults")
    stats = w.stats("v1")
    assert stats.statuses.get(503, 0) >= 1
    assert stats.drops >= 1
    sha = w.runtime.models["v1"].sha256
    for pod in w.ready():
        log = w.log(pod.metadata.name)
        done = [json.loads(x) for x in log.splitlines() if b'"event": "done"' in x]
        assert done[-1]["sha256"] == sha
    retried = b"".join(w.log(p.metadata.name) for p in w.ready())
    assert b'"event": "retry"' in retried
