"""corrupt model -> verify reports the mismatch -> delete it -> pods download again -> ready."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from actions import registry
from actions.options import ActionOptions
from collectors.model import ModelState
from simcluster.modelserver import Faults
from tests.actions.world import CLAIM, NS, asr_deployment, pvc, ready_pods


def volume_dir(world: Any) -> Path:
    return Path(world.sim.root_dir) / "volumes" / f"pvc-{NS}-{CLAIM}"


def _ready_world(world: Any, model: Any, replicas: int = 2) -> list[str]:
    url = world.sim.model_server.url("/models/v1/model.bin")
    world.sim.apply(
        [pvc(), asr_deployment("lightning-asr", url, "sha256:" + model.sha256, replicas=replicas)]
    )
    snap = world.wait_snapshot(
        lambda s: len(ready_pods(s, "lightning-asr")) == replicas, 30, "ready pods"
    )
    return sorted(ready_pods(snap, "lightning-asr"))


def _flip_byte(path: Path, offset: int = 1000) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


def test_verify_purge_and_download_again(world: Any, model: Any) -> None:
    pods = _ready_world(world, model)
    on_disk = volume_dir(world) / "model.bin"
    assert on_disk.stat().st_size == model.size
    # The file is good: verify says so, and the result is kept with the pod.
    result = world.execute(world.plan(registry.VERIFY, pods[0]))
    assert result.ok, result.message
    assert result.details["verification"]["actual"] == model.sha256
    kept = world.snapshot().pod(pods[0]).verification
    assert kept is not None and kept.ok

    _flip_byte(on_disk)
    result = world.execute(world.plan(registry.VERIFY, pods[0]))
    assert not result.ok and "mismatch" in result.message
    verification = result.details["verification"]
    assert verification["expected"] == "sha256:" + model.sha256
    assert verification["actual"] and verification["actual"] != model.sha256
    assert world.snapshot().pod(pods[0]).verification.ok is False
    assert any("verifying" in line or "hashing" in line for line in world.progress)

    sent_before = world.sim.model_server.stats("/models/v1/model.bin").bytes_sent
    plan = world.plan(registry.PURGE, pods[0])
    assert plan.runnable, plan.refused
    assert set(plan.affected_pods) == set(pods), "every pod on the claim that loads the file"
    assert CLAIM in plan.summary and "/app/models/model.bin" in plan.summary
    result = world.execute(plan, timeout=40)
    assert result.ok, result.message
    assert result.details["deleted"][0] == "/app/models/model.bin"
    assert set(result.details["deleted"]) <= {"/app/models/model.bin", "/app/models/model.bin.lock"}
    new = result.details["ready_pods"]
    assert len(new) == 2 and not set(new) & set(pods)
    # Downloaded again, and the new file verifies.
    assert world.sim.model_server.stats("/models/v1/model.bin").bytes_sent >= sent_before + (
        model.size
    )
    result = world.execute(world.plan(registry.VERIFY, new[0]))
    assert result.ok, result.message
    assert [line["action"] for line in world.audit_lines()] == ["verify"] * 2 + ["purge", "verify"]
    assert world.events("AsrCacheTuiPurge") and world.events("AsrCacheTuiVerify")


def test_a_symlink_out_of_the_cache_is_refused_in_the_pod(world: Any, model: Any) -> None:
    pods = _ready_world(world, model, replicas=1)
    outside = Path(world.tmp) / "precious.txt"
    outside.write_text("keep me")
    link = volume_dir(world) / "evil.bin"
    os.symlink(outside, link)
    plan = world.plan(registry.PURGE, pods[0], path="evil.bin")
    assert plan.runnable, "the name is fine on its face; only the pod can see it is a symlink"
    result = world.execute(plan)
    assert not result.ok and "symbolic link" in result.message, result.message
    assert outside.read_text() == "keep me" and link.is_symlink()
    assert pods[0] in ready_pods(world.snapshot(), "lightning-asr"), "no pod was restarted"
    # A symlinked directory on the way is refused too.
    os.symlink(Path(world.tmp), volume_dir(world) / "v9")
    result = world.execute(world.plan(registry.PURGE, pods[0], path="v9/precious.txt"))
    assert not result.ok and "symbolic link" in result.message
    assert outside.exists()


@pytest.mark.parametrize(("path", "words"), [("../../etc", "'..'"), ("/", "'/'"), ("", "empty")])
def test_hostile_paths_never_reach_the_pod(world: Any, model: Any, path: str, words: str) -> None:
    pods = _ready_world(world, model, replicas=1)
    plan = world.plan(registry.PURGE, pods[0], path=path)
    assert not plan.runnable and words in (plan.refused or "")
    result = world.execute(plan)
    assert not result.ok and result.details.get("refused")
    assert (volume_dir(world) / "model.bin").exists()


def test_purge_of_a_crashlooping_pod_goes_through_a_helper_pod(world: Any, model: Any) -> None:
    """The pod fails validation and crash-loops: nothing can be exec'd into but a helper pod."""
    vol = volume_dir(world)
    vol.mkdir(parents=True, exist_ok=True)
    (vol / "model.bin").write_bytes(b"\0" * 1024)  # wrong content at the final path
    url = world.sim.model_server.url("/models/v1/model.bin")
    # The server hands out corrupt bytes: every download fails its checksum and the pod loops.
    world.sim.model_server.set_faults("/models/v1/model.bin", Faults(corrupt_byte_at=1000))
    world.sim.apply([pvc(), asr_deployment("lightning-asr", url, "sha256:" + model.sha256)])

    def crashing(s: Any) -> bool:
        return any(
            p.model_state in (ModelState.CORRUPT, ModelState.FAILED)
            and not any(c.state == "running" for c in p.containers)
            for p in s.pods
        )

    snap = world.wait_snapshot(crashing, 30, "a crash-looping pod")
    failing = next(p for p in snap.pods if p.release == "lightning-asr")
    plan = world.service.plan(registry.PURGE, snap, failing.name, ActionOptions())
    assert plan.runnable, plan.refused
    helper = next(s for s in plan.steps if getattr(s, "verb", "") == "create")
    assert helper.name.startswith("asr-cache-helper-")
    world.sim.model_server.set_faults("/models/v1/model.bin", Faults())  # the source is fixed
    result = world.execute(plan, timeout=40)
    assert result.ok, result.message
    # The downloader had already removed the bad file; its lock was all that was left.
    assert result.details["deleted"]
    assert all(s.pod == helper.name for s in plan.steps if hasattr(s, "argv"))
    pods = [p.metadata.name for p in world.cluster.core.list_namespaced_pod(NS).items]
    assert helper.name not in pods, "the helper pod is removed"
    assert len(result.details["ready_pods"]) == 1
    assert (vol / "model.bin").stat().st_size == model.size
