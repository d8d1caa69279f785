"""End-to-end worlds for the actions: a named simcluster scenario running in-process, and the
real collectors and actions connected to it through a kubeconfig, as a user would run them.

    world = start("corrupt-model")              # the conftest fixture: 4 MiB models, no cap
    world.snapshot(), world.plan(...), world.execute(plan)
    world.model("v1").sha256, world.stats("v1").bytes_sent, world.claim_dir(CLAIM)

Waiting is always on a condition (``wait_snapshot``, ``wait_until``) with a generous timeout,
never a fixed sleep.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actions.audit import AuditLog
from actions.context import ActionContext
from actions.options import ActionOptions
from actions.plan import ActionPlan, ActionResult
from actions.service import ActionService
from collectors.cluster import Cluster, ConnectionSettings, connect
from collectors.live import LiveFeed
from collectors.model import ClusterSnapshot
from collectors.snapshot import FeedOptions

NS = "smallest"
CLAIM = "models-aws-efs-pvc"
SELECTOR = "app in (lightning-asr,lightning-asr-v2)"


class _Sink:
    def __init__(self) -> None:
        self.latest: ClusterSnapshot | None = None

    def snapshot_ready(self, snapshot: ClusterSnapshot) -> None:
        self.latest = snapshot

    def log_lines_received(self, pod: str, lines: Any) -> None:
        return None


@dataclass
class World:
    """A running scenario plus the dashboard's own pieces connected to it as ``user``."""

    sim: Any  # the SimCluster, running in its own thread
    runtime: Any  # the scenario's ScenarioRuntime
    tmp: Path
    selector: str = SELECTOR  # "" for every pod
    user: str = "admin"
    stall_after: float = 60.0
    cluster: Cluster = field(init=False)
    service: ActionService = field(init=False)
    feed: LiveFeed | None = field(init=False, default=None)
    progress: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = self.sim.write_kubeconfig(self.tmp / "kubeconfig", user=self.user)
        self.cluster = connect(ConnectionSettings(kubeconfig=str(self.kubeconfig), namespace=NS))
        self.audit_path = self.tmp / "state" / "asr-cache-tui" / "audit.log"
        self.service = ActionService(self.cluster, audit=AuditLog(self.audit_path))
        self._sink = _Sink()

    def as_user(self, user: str) -> World:
        """The same running scenario seen with another user's token (e.g. the viewer)."""
        return World(self.sim, self.runtime, self.tmp / user, self.selector, user, self.stall_after)

    # -- the scenario --------------------------------------------------------------------------

    def model(self, name: str) -> Any:
        """The scenario's model file (its path on the server, size and sha256)."""
        return self.runtime.models[name]

    def stats(self, name: str) -> Any:
        """The model server's counters for one of the scenario's models."""
        return self.sim.model_server.stats(self.model(name).path)

    def on_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call fn(*args) on the simulator's event loop (the runtime's faults live there)."""

        async def call() -> Any:
            return fn(*args)

        return self.sim.run(call())

    def claim_dir(self, claim: str = CLAIM) -> Path:
        """The host directory behind a PVC, to look at (or tamper with) its files."""
        from simcluster.kubelet.registry import agents

        return Path(agents(self.sim).volumes.pvc_path(NS, claim))

    # -- the collectors' view ------------------------------------------------------------------

    def watch(self) -> None:
        """Start the live feed (the dashboard's view), for clock-based states like stalled."""
        options = FeedOptions(selector=self.selector, stall_after=self.stall_after, refresh=1.0)
        self.feed = LiveFeed(self.cluster, options)
        self.feed.start(self._sink)

    def snapshot(self) -> ClusterSnapshot:
        if self.feed is not None:
            snap = self.feed.wait_for_snapshot(10.0)
            assert snap is not None
            return self.service.verifications.apply(snap)
        options = FeedOptions(selector=self.selector, stall_after=self.stall_after)
        return self.service.verifications.apply(LiveFeed(self.cluster, options).collect())

    def wait_snapshot(
        self,
        predicate: Callable[[ClusterSnapshot], Any],
        timeout: float = 30.0,
        what: str = "condition",
    ) -> ClusterSnapshot:
        deadline = time.monotonic() + timeout
        snap = self.snapshot()
        while not predicate(snap):
            if time.monotonic() > deadline:
                states = [(p.name, p.model_state.value, p.phase, p.evidence[:1]) for p in snap.pods]
                raise AssertionError(f"{what} not reached in {timeout} s; pods: {states}")
            time.sleep(0.2)
            snap = self.snapshot()
        return snap

    def wait_ready(self, release: str, count: int, timeout: float = 30.0) -> list[str]:
        """Wait until exactly ``count`` pods of ``release`` are Ready; their names, sorted."""
        snap = self.wait_snapshot(
            lambda s: len(ready_pods(s, release)) == count, timeout, f"{count} ready {release}"
        )
        return sorted(ready_pods(snap, release))

    # -- actions ---------------------------------------------------------------------------------

    def plan(
        self,
        action_id: str,
        target: str | None,
        on: ClusterSnapshot | None = None,
        **options: Any,
    ) -> ActionPlan:
        """Plan on ``on`` (a snapshot the test already checked) or on a fresh one. A state a
        crash loop passes through (failed, then downloading again) may be gone from the next."""
        snap = on if on is not None else self.snapshot()
        return self.service.plan(action_id, snap, target, ActionOptions(**options))

    def execute(
        self, plan: ActionPlan, dry_run: bool = False, timeout: float = 40.0
    ) -> ActionResult:
        ctx = ActionContext(
            self.service.kube,
            dry_run=dry_run,
            progress=self.progress.append,
            timeout=timeout,
            poll=0.2,
        )
        return self.service.execute(plan, ctx)

    def audit_lines(self) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]

    def events(self, reason: str | None = None) -> list[dict[str, Any]]:
        items = self.cluster.core.list_namespaced_event(NS, _request_timeout=5).items
        plain = [self.cluster.api_client.sanitize_for_serialization(e) for e in items]
        return [e for e in plain if reason is None or e.get("reason") == reason]

    def assert_recorded(self, action: str, reason: str, target: str, ok: bool = True) -> None:
        """The last audit line is this action on ``target``, and its Event names the object."""
        line = self.audit_lines()[-1]
        assert (line["action"], line["target"], line["outcome"]["ok"]) == (action, target, ok)
        assert line["who"]["kube_user"] and line["namespace"] == NS and line["plan"]["steps"]
        kind, _, name = target.partition("/")
        events = [e for e in self.events(reason) if e["involvedObject"]["name"] == name]
        assert events, f"no {reason} Event on {target}"
        assert events[-1]["involvedObject"]["kind"].lower() == kind
        assert events[-1]["source"]["component"] == "asr-cache-tui"
        assert events[-1]["type"] == ("Normal" if ok else "Warning")
        assert line["event"] in {e["metadata"]["name"] for e in events}

    def close(self) -> None:
        if self.feed is not None:
            self.feed.stop()
        self.cluster.close()


def fingerprint(world: World, claim: str = CLAIM) -> dict[str, Any]:
    """What an action could change: pods, Deployments (generation, template), Jobs, CronJobs,
    the files on the claim, and Events written by asr-cache-tui."""
    cluster = world.cluster
    pods = cluster.core.list_namespaced_pod(NS, _request_timeout=5).items
    deps = cluster.apps.list_namespaced_deployment(NS, _request_timeout=5).items
    root = world.claim_dir(claim)
    files = []
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        files.append((str(path.relative_to(root)), st.st_size, st.st_mtime_ns))
    return {
        "pods": sorted(
            (p.metadata.name, p.metadata.uid, p.metadata.deletion_timestamp) for p in pods
        ),
        "deployments": sorted(
            (d.metadata.name, d.metadata.generation, str(d.spec.template)) for d in deps
        ),
        "jobs": [j.metadata.name for j in cluster.batch.list_namespaced_job(NS).items],
        "cronjobs": [c.metadata.name for c in cluster.batch.list_namespaced_cron_job(NS).items],
        "files": files,
        "events": [
            e["metadata"]["name"]
            for e in world.events()
            if (e.get("source") or {}).get("component") == "asr-cache-tui"
        ],
    }


def efs_shared(start: Callable[..., World], **options: Any) -> tuple[World, list[str]]:
    """efs-shared once it did what it promises: four ready pods (three, then scaled to four)."""
    world = start("efs-shared", **options)
    pods = world.wait_ready("lightning-asr", 4)
    assert 0 in world.runtime.steps_done
    return world, pods


def ready_pods(snap: ClusterSnapshot, release: str) -> list[str]:
    return [p.name for p in snap.pods if p.release == release and p.ready and not p.deleting]
