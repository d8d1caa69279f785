"""disk-full with no running pod on the volume -> fix looks first, then evicts.

``scenarios/disk-full-init.yaml``: the only pod that downloads fails in its init container for
want of space (Init:Error), and the only other pod on the claim is Pending; nothing runs that
could list the cache. Planning starts no pod, so the fix is two confirmed steps: a look (one
helper pod comes, lists the cache, goes; no file changes), then the eviction planned from what
it saw. Without root the cache size cap stands in for the full disk, as in
test_e2e_disk_full.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from actions import registry
from actions.context import ActionContext
from actions.fix import DISK_FULL, LOOK
from actions.options import ActionOptions
from actions.plan import ActionPlan, ApiCall, ExecStep
from actions.service import READ_ONLY, ActionService
from collectors.model import ClusterSnapshot, ContainerInfo, ModelState
from simcluster.scenarios import Scenario
from tests.actions.conftest import MODEL
from tests.actions.test_e2e_disk_full import FULL_KINDS, _failing
from tests.actions.variants import copied, with_env
from tests.actions.world import NS, World
from tests.polling import wait_until
from tui.action_cmds import EXIT_NOT_CONFIRMED, EXIT_OK, EXIT_REFUSED, run, take_snapshot
from tui.cli import build_parser

CLAIM = "models-ebs-pvc"
FAILING = "lightning-asr-v2"
LAST_FAILURE = (
    r"Evidence: (init container fetch-model restarted \d+ times?; the last run failed: )?"
    r"disk_full: no space left"
)


@pytest.fixture(autouse=True)
def state_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI's audit log goes where each world reads it (``world.tmp / "state"``)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "world1" / "state"))


def scenario(full: str = "enospc") -> Scenario:
    """disk-full-init; with ``cache-cap`` the downloader's size cap (eviction off) is what is
    full, for a run without root, where the claim is not a tmpfs of its size."""
    found = copied("disk-full-init.yaml")
    if full == "cache-cap":
        found = with_env(
            found, FAILING, MODEL_CACHE_MAX_SIZE=str(int(3.5 * MODEL)), MODEL_CACHE_EVICTION="none"
        )
    return found


class PodWrites:
    """Pods created and deleted, as the simulator's store saw them (a helper pod that comes
    and goes between two listings would not show in the listings alone)."""

    def __init__(self, world: World) -> None:
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.store = world.sim.store
        self.store.add_listener(self._on)

    def _on(self, plural: str, ev: Any) -> None:
        if plural == "pods" and ev.type in ("ADDED", "DELETED"):
            with self._lock:
                self.seen.append((ev.type, ev.object["metadata"]["name"]))

    def helpers(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(t, n) for t, n in self.seen if n.startswith("asr-cache-helper-")]

    def close(self) -> None:
        self.store.remove_listener(self._on)


def failing_pod(world: World, full: str = "enospc") -> tuple[str, ClusterSnapshot]:
    """The v2 pod whose init container ran out of room, and a snapshot that shows it failed.

    Plans are made from that snapshot: the init container tries again now and then, and a
    snapshot taken while it runs shows no fault yet.
    """
    if full == "enospc":
        require_tmpfs(world)
    snap = world.wait_snapshot(failed, 30, "v2 failing for space")
    pod = _failing(snap, FAILING)
    assert pod is not None
    assert not any(p.phase == "Running" for p in snap.pods), "no pod runs on the claim"
    return pod.name, snap


def failed(snap: ClusterSnapshot) -> bool:
    return _failing(snap, FAILING) is not None


def trying_again(snap: ClusterSnapshot, name: str) -> ClusterSnapshot:
    """``snap`` as taken while the pod's init container runs again: no fault shows yet."""

    def running(c: ContainerInfo) -> ContainerInfo:
        if not c.init:
            return c
        return dataclasses.replace(c, state="running", reason=None, message=None, exit_code=None)

    pods = tuple(
        dataclasses.replace(
            p,
            model_state=ModelState.UNKNOWN,
            evidence=(),
            progress=None,
            containers=tuple(running(c) for c in p.containers),
        )
        if p.name == name
        else p
        for p in snap.pods
    )
    return dataclasses.replace(snap, pods=pods)


def plan_fix(world: World, snap: ClusterSnapshot, pod: str) -> ActionPlan:
    return world.service.plan(registry.FIX, snap, pod, ActionOptions())


def require_tmpfs(world: World) -> None:
    """Skip unless the claim is a tmpfs; it is mounted once a container that uses it started
    (here an init container: the pod itself stays Pending)."""
    world.wait_snapshot(
        lambda s: any(
            c.state != "waiting" or c.restarts
            for p in s.pods
            if p.release == FAILING
            for c in p.containers
        ),
        30,
        "a v2 container started",
    )
    if not os.path.ismount(world.claim_dir(CLAIM)):
        pytest.skip("the simulator could not mount a tmpfs here (restricted container)")


def files(world: World) -> list[tuple[str, int, int]]:
    """Every file on the claim but v2's: the failing pod's init container, retrying by itself
    after its back-off, writes its own lock and partial there whatever we do."""
    root = world.claim_dir(CLAIM)
    return [
        (str(p.relative_to(root)), p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if not str(p.relative_to(root)).startswith("v2")
    ]


def helper_pods(world: World) -> list[str]:
    pods = world.cluster.core.list_namespaced_pod(NS, _request_timeout=5).items
    return [p.metadata.name for p in pods if p.metadata.name.startswith("asr-cache-helper-")]


def assert_look(plan: ActionPlan) -> str:
    """A plan that only looks: one helper pod up, cat + df in it, the helper down; its name."""
    assert plan.decision == LOOK and plan.runnable and plan.looks_only, plan.describe()
    assert not plan.destructive and not plan.irreversible
    assert "only looks" in plan.consequence and "second confirmation" in plan.consequence
    creates = [s for s in plan.steps if isinstance(s, ApiCall) and s.verb == "create"]
    deletes = [s for s in plan.steps if isinstance(s, ApiCall) and s.verb == "delete"]
    assert len(creates) == 1 and creates[0].resource == "pods", plan.describe()
    helper = str(creates[0].name)
    assert helper.startswith("asr-cache-helper-")
    assert [d.name for d in deletes] == [helper], "only the helper pod is deleted"
    argv = [s.argv for s in plan.steps if isinstance(s, ExecStep)]
    assert argv == [
        ("cat", "/app/models/.asr-cache-manifest.json"),
        ("df", "-P", "-B1", "/app/models"),
    ], "the listing planning runs in a running pod, nothing else"
    return helper


def assert_eviction(plan: ActionPlan) -> None:
    """v9 alone, the least recently used: the downloader's words say 2 MiB are missing and v9
    frees 4 (v0, next in line, stays); never v1 (the Pending pod's) nor v2."""
    assert plan.decision == DISK_FULL and plan.runnable, plan.describe()
    rm = next(s for s in plan.steps if isinstance(s, ExecStep) and s.argv[0] == "rm")
    models = [a for a in rm.argv if a.endswith("/model.bin")]
    # The plan says how much room it makes and from what (progress, the downloader's words).
    assert models == ["/app/models/v9/model.bin"], plan.describe()
    assert not any("/v1/" in a or "/v2/" in a for a in rm.argv), rm.argv
    assert "kept because a pod uses them: v1/model.bin, v2/model.bin" in plan.summary
    assert "seen by helper pod asr-cache-helper-" in plan.summary, plan.summary


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def context(world: World, cancel: threading.Event | None = None) -> ActionContext:
    return ActionContext(
        world.service.kube,
        cancel=cancel or threading.Event(),
        progress=world.progress.append,
        timeout=40.0,
        poll=0.2,
    )


@FULL_KINDS
def test_fix_looks_through_one_helper_pod_then_evicts_least_recently_used(
    start: Callable[..., World], full: str
) -> None:
    world = start(scenario(full), model_size=None)  # the manifest records 4 MiB models
    pod, snap = failing_pod(world, full)
    before = files(world)
    writes = PodWrites(world)
    try:
        look = plan_fix(world, snap, pod)
        helper = assert_look(look)
        # While the init container tries again no fault shows in the snapshot, and the main
        # container never started: the fix reads the init container's previous run.
        assert plan_fix(world, trying_again(snap, pod), pod).decision == LOOK
        assert writes.seen == [], "planning the look created nothing"

        seen = world.execute(look)
        assert seen.ok and seen.replan, seen.message
        assert "3 model(s) in its manifest" in seen.message, seen.message
        wait_until(
            lambda: writes.helpers() == [("ADDED", helper), ("DELETED", helper)],
            30,
            "the helper pod created once and deleted",
        )
        assert [n for _, n in writes.seen] == [helper, helper], "no other pod came or went"
        assert helper_pods(world) == []
        assert files(world) == before, "looking changed no file"
        (line,) = world.audit_lines()
        assert line["plan"]["decision"] == LOOK and line["outcome"]["ok"]
        assert line["plan"]["looks_only"] is True
        seen_entries = line["outcome"]["details"]["cache_seen"]["entries"]
        assert {e["path"] for e in seen_entries} == {"v9/model.bin", "v0/model.bin", "v1/model.bin"}
        world.assert_recorded("fix", "AsrCacheTuiFix", f"pod/{pod}")

        # Planned again from a snapshot taken while the init container tries again (no fault
        # shown): its previous run's log still says why, and the look says what to evict.
        evict = plan_fix(world, trying_again(snap, pod), pod)
        assert_eviction(evict)
        # The real init container may be in its back-off (its run that failed is the latest) or
        # running again (then the failure is named as its last run's).
        assert re.match(LAST_FAILURE, evict.summary), evict.summary
        result = world.execute(evict)
        assert result.ok, result.message
    finally:
        writes.close()
    claim = world.claim_dir(CLAIM)
    assert not (claim / "v9" / "model.bin").exists() and (claim / "v0" / "model.bin").exists()
    assert sha(claim / "v1" / "model.bin") == world.model("v1").sha256, "v1 kept"
    (new,) = result.details["ready_pods"]
    assert new != pod and world.wait_ready(FAILING, 1) == [new]
    assert sha(claim / "v2" / "model.bin") == world.model("v2").sha256
    assert helper_pods(world) == []
    assert [line["plan"]["decision"] for line in world.audit_lines()] == [LOOK, DISK_FULL]
    world.assert_recorded("fix", "AsrCacheTuiFix", f"pod/{pod}")


def test_read_only_refuses_the_look_and_creates_no_pod(start: Callable[..., World]) -> None:
    world = start(scenario(), model_size=None)
    pod, snap = failing_pod(world)
    writes = PodWrites(world)
    try:
        service = ActionService(world.cluster, read_only=True, audit=world.service.audit)
        plan = service.plan(registry.FIX, snap, pod, ActionOptions())
        assert plan.looks_only and not plan.runnable
        assert READ_ONLY in (plan.refused or "") and "helper pod" in (plan.refused or "")
        result = service.execute(plan, context(world))
        assert not result.ok and result.details.get("refused"), result.message
        code, out, err = cli(world, "fix", pod, "--yes", "--read-only")
        assert code == EXIT_REFUSED and READ_ONLY in err, (out, err)
        assert writes.seen == []  # (the test above shows the listener sees a helper pod)
    finally:
        writes.close()
    assert world.audit_lines() == []


def test_declining_the_eviction_after_the_look_leaves_nothing_behind(
    start: Callable[..., World],
) -> None:
    world = start(scenario(), model_size=None)
    pod, _ = failing_pod(world)
    before = files(world)
    writes = PodWrites(world)
    try:
        code, out, err = cli(world, "fix", pod, stdin=Tty("y\nn\n"))
    finally:
        writes.close()
    assert code == EXIT_NOT_CONFIRMED, (out, err)
    assert "look at what the cache holds (step 1 of 2)" in out
    assert "evict unused models" in out and "rm -f /app/models/v9/model.bin" in out, out
    assert err.count("Proceed? [y/N]") == 2, err
    assert "This only looks" in err and "cannot be undone" in err, err
    assert "Not confirmed: nothing done. The look's helper pod is already deleted." in err
    (helper,) = {n for _, n in writes.helpers()}
    assert writes.helpers() == [("ADDED", helper), ("DELETED", helper)]
    wait_until(lambda: helper_pods(world) == [], 30, "no helper pod left")
    assert files(world) == before
    assert [line["plan"]["decision"] for line in world.audit_lines()] == [LOOK]


def test_a_look_cancelled_at_once_still_deletes_its_helper(start: Callable[..., World]) -> None:
    world = start(scenario(), model_size=None)
    pod, snap = failing_pod(world)
    before = files(world)
    look = plan_fix(world, snap, pod)
    helper = assert_look(look)
    cancel = threading.Event()
    cancel.set()
    writes = PodWrites(world)
    try:
        result = world.service.execute(look, context(world, cancel))
        assert not result.ok and result.details.get("cancelled"), result.message
        assert not result.replan
        wait_until(lambda: helper_pods(world) == [], 30, "the helper pod deleted")
    finally:
        writes.close()
    assert writes.helpers() == [("ADDED", helper), ("DELETED", helper)]
    assert files(world) == before
    # Nothing was seen, so nothing is kept: the fix still has to look.
    assert world.service.sightings.get(NS, CLAIM, "/app/models") is None
    assert plan_fix(world, snap, pod).decision == LOOK


def test_fix_with_yes_looks_and_evicts_and_prints_both_steps(start: Callable[..., World]) -> None:
    world = start(scenario(), model_size=None)
    pod, _ = failing_pod(world)
    code, out, err = cli(world, "fix", pod, "--yes", "-o", "json")
    assert code == EXIT_OK, (out, err)
    doc = json.loads(out)
    assert doc["look"]["plan"]["decision"] == LOOK and doc["look"]["result"]["replan"] is True
    assert doc["plan"]["decision"] == DISK_FULL and doc["result"]["ok"] is True
    assert any("rm -f /app/models/v9/model.bin" in s for s in doc["plan"]["steps"])
    claim = world.claim_dir(CLAIM)
    assert not (claim / "v9" / "model.bin").exists() and (claim / "v1" / "model.bin").exists()
    assert helper_pods(world) == []


class Tty(io.StringIO):
    """Answers typed at a terminal."""

    def isatty(self) -> bool:
        return True


def cli(world: World, *argv: str, stdin: io.StringIO | None = None) -> tuple[int, str, str]:
    args = build_parser().parse_args(
        [
            *argv,
            "--kubeconfig",
            str(world.kubeconfig),
            "-n",
            NS,
            "-l",
            world.selector,
            "--timeout",
            "40",
        ]
    )
    out, err = io.StringIO(), io.StringIO()
    taken: list[ClusterSnapshot] = []

    def snapshot(cluster: Any, args: Any) -> ClusterSnapshot:
        """The CLI's own snapshot; its first one waits for the fault to show (see failing_pod),
        the one after the look is taken as it comes."""

        def once() -> ClusterSnapshot | None:
            snap: ClusterSnapshot = take_snapshot(cluster, args)
            return snap if taken or failed(snap) else None

        found: ClusterSnapshot = wait_until(once, 30, "the fault shown in the CLI's snapshot")
        taken.append(found)
        return found

    code = run(args, stdin=stdin or io.StringIO(), out=out, err=err, snapshot_fn=snapshot)
    return code, out.getvalue(), err.getvalue()
