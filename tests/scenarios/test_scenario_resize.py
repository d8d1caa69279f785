"""disk-full, fixed the way on-call fixes it: grow the claim. The gp3 class allows expansion,
so the volume and then its file system grow under the crash-looping pod, whose next run
downloads the model, verifies it and serves."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable

import pytest

from tests.polling import wait_until
from tests.scenarios.conftest import NS, World
from tests.scenarios.proc_helpers import can_mount
from tests.scenarios.test_scenario_failures import crash_looping

CLAIM = "models-ebs-pvc"
MiB = 1024 * 1024


@pytest.mark.skipif(not can_mount(), reason="needs root: the claim's size is real only on a tmpfs")
def test_disk_full_recovers_once_the_claim_is_grown(start: Callable[..., World]) -> None:
    w = start("disk-full")
    pods = wait_until(lambda: crash_looping(w), 30, "the pod in CrashLoopBackOff")
    name = pods[0].metadata.name
    assert b'"code": "disk_full"' in (w.log(name, previous=True) or w.log(name))

    w.core.patch_namespaced_persistent_volume_claim(
        CLAIM, NS, {"spec": {"resources": {"requests": {"storage": "16Mi"}}}}
    )
    ready = wait_until(w.ready, 30, "the pod ready once its claim grew")
    assert [p.metadata.name for p in ready] == [name]  # the same pod: its container restarted

    pvc = w.core.read_namespaced_persistent_volume_claim(CLAIM, NS)
    assert pvc.status.capacity == {"storage": "16Mi"} and not pvc.status.conditions
    st = os.statvfs(w.claim_dir(CLAIM))
    assert st.f_blocks * st.f_frsize == 16 * MiB
    model = w.claim_dir(CLAIM) / "model.bin"
    assert hashlib.sha256(model.read_bytes()).hexdigest() == w.runtime.models["v1"].sha256
    done = [json.loads(x) for x in w.log(name).splitlines() if b'"event": "done"' in x]
    assert done and done[-1]["sha256"] == w.runtime.models["v1"].sha256
    (event,) = [
        e
        for e in w.core.list_namespaced_event(NS).items
        if e.involved_object.name == name and e.reason == "FileSystemResizeSuccessful"
    ]
    assert event.message.startswith("MountVolume.NodeExpandVolume succeeded for volume")
