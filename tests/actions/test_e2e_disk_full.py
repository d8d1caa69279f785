"""disk-full -> fix: evict an unused version when that makes room (never a file a running pod
uses), else say how much the claim must grow.

The built-in disk-full claim is half the model's size, so there nothing can help but a bigger
claim. ``scenarios/disk-full-lru.yaml`` is a copy of it with room for two models, one of them
unused. A real ENOSPC needs root (the simulator makes a claim a tmpfs of its size only then);
without root the cache size cap (MODEL_CACHE_MAX_SIZE, eviction off) stands in for the full
disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable

import pytest

from actions import registry
from actions.plan import ExecStep
from collectors.model import ClusterSnapshot, ModelState, PodInfo
from collectors.report import attention
from simcluster.kubelet.volumes import tmpfs_wanted
from tests.actions.conftest import MODEL
from tests.actions.variants import copied, with_env
from tests.actions.world import NS, World
from tui.health import health

CLAIM = "models-ebs-pvc"
# Root (unless SIMCLUSTER_TMPFS=0): every non-EFS claim is a tmpfs of its requested size.
TMPFS = tmpfs_wanted()
needs_root = pytest.mark.skipif(
    not TMPFS,
    reason="a real ENOSPC needs root: only then is a claim a tmpfs of its requested size",
)
not_root = pytest.mark.skipif(
    TMPFS, reason="as root the claim is a tmpfs that fills before the cap: the ENOSPC case runs"
)
# What is full: the disk itself (a tmpfs of the claim's size: root only), or, without root,
# the downloader's cache size cap standing in for it.
FULL_KINDS = pytest.mark.parametrize(
    "full",
    [
        pytest.param("enospc", marks=[pytest.mark.root, needs_root]),
        pytest.param("cache-cap", marks=not_root),
    ],
)


def _failing(snap: ClusterSnapshot, release: str) -> PodInfo | None:
    return next(
        (
            p
            for p in snap.pods
            if p.release == release
            and p.model_state == ModelState.FAILED
            and not any(c.state == "running" for c in p.containers)
            and not p.deleting
        ),
        None,
    )


def _require_tmpfs(world: World, release: str) -> None:
    """Skip unless the claim is a tmpfs; it is set up once a pod that uses it has started."""
    world.wait_snapshot(
        lambda s: any(p.release == release and p.phase != "Pending" for p in s.pods),
        30,
        f"a {release} pod started",
    )
    if not os.path.ismount(world.claim_dir(CLAIM)):
        pytest.skip("the simulator could not mount a tmpfs here (restricted container)")


def _sha(path: os.PathLike[str]) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.mark.root
@needs_root
def test_disk_full_on_a_claim_smaller_than_the_model_gives_the_command_that_grows_it(
    start: Callable[..., World],
) -> None:
    world = start("disk-full", tls=True)  # kubectl sends its token only over TLS
    _require_tmpfs(world, "lightning-asr")
    snap = world.wait_snapshot(
        lambda s: _failing(s, "lightning-asr"), 30, "the download failing for space"
    )
    pod = _failing(snap, "lightning-asr")
    assert pod is not None and "no space left" in pod.evidence[0].lower()
    # The claim's usage looks calm (it is empty); the dashboard and status say what it is.
    problem = f"volume {CLAIM}: too small for the model: 4.0 MiB needed, it holds 2.0 MiB in all"
    assert problem in attention(snap), attention(snap)
    assert "1 volume needs room" in health(snap).text
    # Planned on the snapshot that showed it failing: the container restarts (and downloads
    # again for a moment) between failures, and a fresh snapshot may catch it doing that.
    plan = world.plan(registry.FIX, pod.name, on=snap)
    assert plan.decision == "disk-full" and not plan.runnable, plan.describe()
    refusal = plan.refused or ""
    # The volume is empty: it is not full, it is too small for the model.
    assert f"The PVC {CLAIM} is too small for the model" in refusal, refusal
    assert "the model needs 4.0 MiB, the volume holds 2.0 MiB in all" in refusal, refusal
    assert f"Grow PVC {CLAIM} to at least 4.0 MiB" in refusal, refusal
    # The class (gp3) allows volume expansion, read from the StorageClass: the command.
    assert refusal.endswith("The command below grows it to 1Gi."), refusal
    assert plan.commands == (
        f"kubectl -n {NS} patch pvc {CLAIM} -p "
        """'{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}'""",
    )
    assert "full" not in refusal, refusal
    assert plan.title == "Fix the download that ran out of space", plan.title
    # Planning started no helper pod to look (it needs no look: only growing helps).
    names = [p.metadata.name for p in world.cluster.core.list_namespaced_pod(NS).items]
    assert not [n for n in names if n.startswith("asr-cache-")], names
    result = world.execute(plan)
    assert not result.ok and result.details.get("refused")
    assert world.audit_lines() == [], "a refused plan changes nothing and is not recorded"
    assert world.snapshot().pod(pod.name) is not None, "the pod was not restarted"

    # The command, run as given, grows the claim; the crash-looping pod's next run fits.
    (command,) = plan.commands
    _run_by_hand(world, command)
    assert world.wait_ready("lightning-asr", 1, timeout=60) == [pod.name], "the same pod"
    assert _sha(world.claim_dir(CLAIM) / "model.bin") == world.model("v1").sha256


def _run_by_hand(world: World, command: str) -> None:
    """With kubectl when it is here, as an operator would; else the same patch through the
    official client (a strategic merge, as kubectl's default)."""
    argv = shlex.split(command)
    if shutil.which("kubectl") is not None:
        env = {**os.environ, "KUBECONFIG": str(world.kubeconfig)}
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert f"persistentvolumeclaim/{CLAIM} patched" in done.stdout, done.stdout
        return
    world.cluster.core.patch_namespaced_persistent_volume_claim(CLAIM, NS, json.loads(argv[7]))


@FULL_KINDS
def test_disk_full_evicts_an_unused_version_and_the_download_finishes(
    start: Callable[..., World], full: str
) -> None:
    scenario = copied("disk-full-lru.yaml")
    if full == "cache-cap":
        scenario = with_env(
            scenario,
            "lightning-asr-v2",
            MODEL_CACHE_MAX_SIZE=str(int(2.5 * MODEL)),
            MODEL_CACHE_EVICTION="none",
        )
    world = start(scenario, model_size=None)  # the manifest records 4 MiB models
    if full == "enospc":
        _require_tmpfs(world, "lightning-asr")
    (serving,) = world.wait_ready("lightning-asr", 1)
    snap = world.wait_snapshot(
        lambda s: _failing(s, "lightning-asr-v2"), 30, "v2 failing for space"
    )
    failing = _failing(snap, "lightning-asr-v2")
    assert failing is not None
    words = "no space left" if full == "enospc" else "cache"
    assert words in " ".join(failing.evidence).lower(), failing.evidence

    plan = world.plan(registry.FIX, failing.name, on=snap)  # as above: the failing state
    assert plan.decision == "disk-full" and plan.runnable, plan.describe()
    rm = next(s for s in plan.steps if isinstance(s, ExecStep) and s.argv[0] == "rm")
    assert "/app/models/v0/model.bin" in rm.argv
    assert not any("/v1/" in a for a in rm.argv), "never the model a running pod uses"
    assert "kept because a pod uses them: v1/model.bin, v2/model.bin" in plan.summary
    # No pod of v2 runs to exec in: a helper pod mounts the claim, and is removed after.
    assert rm.pod.startswith("asr-cache-helper-")
    result = world.execute(plan)
    assert result.ok, result.message
    claim = world.claim_dir(CLAIM)
    assert not (claim / "v0" / "model.bin").exists()
    (new,) = result.details["ready_pods"]
    assert new != failing.name and world.wait_ready("lightning-asr-v2", 1) == [new]
    assert _sha(claim / "v2" / "model.bin") == world.model("v2").sha256
    assert _sha(claim / "v1" / "model.bin") == world.model("v1").sha256
    assert world.wait_ready("lightning-asr", 1) == [serving], "v1 kept serving, not restarted"
    names = [p.metadata.name for p in world.cluster.core.list_namespaced_pod(NS).items]
    assert rm.pod not in names
    world.assert_recorded("fix", "AsrCacheTuiFix", f"pod/{failing.name}")
