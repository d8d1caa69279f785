"""corrupt-model -> verify reports the mismatch -> delete the corrupt model -> the pods download
again and become ready with a verified model.

In the scenario a corrupt copy sits on the EFS claim (the bucket's copy is good): the pods fail
validation and crash-loop, and the file stays until someone deletes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from actions import registry
from actions.plan import ApiCall, ExecStep
from collectors.model import ClusterSnapshot, ModelState
from tests.actions.conftest import MODEL
from tests.actions.world import CLAIM, NS, World

FILE = "/app/models/v1/model.bin"


def crash_looping(snap: ClusterSnapshot) -> list[str]:
    return sorted(
        p.name
        for p in snap.pods
        if p.model_state == ModelState.CORRUPT
        and not any(c.state == "running" for c in p.containers)
        and not p.deleting
    )


def test_corrupt_model_verify_purge_and_download_again(start: Callable[..., World]) -> None:
    world = start("corrupt-model")
    v1 = world.model("v1")
    snap = world.wait_snapshot(lambda s: len(crash_looping(s)) == 2, 30, "both pods looping")
    looping = crash_looping(snap)
    first = snap.pod(looping[0])
    assert first is not None and "checksum mismatch" in first.evidence[0]
    assert world.stats("v1").requests == 0, "nothing was fetched: the bad copy is cached"

    # Verify: the pod cannot be exec'd into, so a helper pod on the claim hashes the file.
    plan = world.plan(registry.VERIFY, looping[0])
    helper = next(s for s in plan.steps if isinstance(s, ApiCall) and s.verb == "create")
    assert helper.name and helper.name.startswith("asr-cache-helper-"), plan.describe()
    result = world.execute(plan)
    assert not result.ok and "mismatch" in result.message, result.message
    verification = result.details["verification"]
    assert verification["path"] == FILE and verification["expected"] == "sha256:" + v1.sha256
    assert verification["actual"] and verification["actual"] != v1.sha256
    kept = world.snapshot().pod(looping[0])
    assert kept is not None and kept.verification is not None and kept.verification.ok is False
    assert any("verifying" in line or "hashing" in line for line in world.progress)
    world.assert_recorded("verify", "AsrCacheTuiVerify", f"pod/{looping[0]}", ok=False)

    # Fix reads the same evidence and decides: delete the corrupt model (the purge).
    fix = world.plan(registry.FIX, looping[0])
    assert fix.runnable and fix.decision == "corrupt", fix.describe()

    # Delete the corrupt model: the plan names the path, the claim and every pod that shares it.
    plan = world.plan(registry.PURGE, looping[0])
    assert plan.runnable, plan.refused
    assert set(plan.affected_pods) == set(looping)
    assert CLAIM in plan.summary and FILE in plan.summary
    rm = next(s for s in plan.steps if isinstance(s, ExecStep) and s.argv[0] == "rm")
    assert rm.argv[2] == FILE and rm.pod.startswith("asr-cache-helper-")
    # A downloader's lock file from an earlier run stays where it is (the same file).
    lock = world.claim_dir() / "v1" / "model.bin.lock"
    lock.touch()
    lock_inode = lock.stat().st_ino
    result = world.execute(plan)
    assert result.ok, result.message
    assert result.details["deleted"][0] == FILE
    assert lock.stat().st_ino == lock_inode, "the purge must never delete a lock file"
    new = sorted(result.details["ready_pods"])
    assert len(new) == 2 and not set(new) & set(looping)
    assert world.wait_ready("lightning-asr", 2) == new
    assert world.stats("v1").bytes_sent >= MODEL, "downloaded again"
    pods = [p.metadata.name for p in world.cluster.core.list_namespaced_pod(NS).items]
    assert not [p for p in pods if p.startswith("asr-cache-helper-")], "helper pods removed"
    world.assert_recorded("purge", "AsrCacheTuiPurge", f"pod/{looping[0]}")

    # Ready with a verified model.
    result = world.execute(world.plan(registry.VERIFY, new[0]))
    assert result.ok and result.details["verification"]["actual"] == v1.sha256, result.message
    kept = world.snapshot().pod(new[0])
    assert kept is not None and kept.verification is not None and kept.verification.ok
    on_claim = world.claim_dir() / "v1" / "model.bin"
    assert hashlib.sha256(on_claim.read_bytes()).hexdigest() == v1.sha256
    world.assert_recorded("verify", "AsrCacheTuiVerify", f"pod/{new[0]}")
    assert [line["action"] for line in world.audit_lines()] == ["verify", "purge", "verify"]
