"""End-to-end worlds for the actions: a SimCluster with the chart's objects, and the real
collectors and actions connected to it through a kubeconfig, as a user would run them.

The situations (stalled, corrupt, disk full, blue-green) are built here with ``cluster.apply``
and model-server faults until the simulator's named scenarios are used instead.
"""

from __future__ import annotations

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
from collectors.model import ClusterSnapshot, LogLine
from collectors.snapshot import FeedOptions

NS = "smallest"
CLAIM = "models-aws-efs-pvc"
MIB = 2**20


def pvc(name: str = CLAIM, size: str = "1Gi", storage_class: str = "models-aws-efs-sc") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": size}},
        },
    }


def asr_deployment(
    name: str,
    url: str,
    checksum: str,
    *,
    replicas: int = 1,
    version: str | None = None,
    claim: str = CLAIM,
    extra_env: dict[str, str] | None = None,
) -> dict:
    env = {
        "MODEL_URL": url,
        "MODEL_CACHE_DIR": "/app/models",
        "MODEL_CHECKSUM": checksum,
        "MODEL_DOWNLOAD_WORKERS": "1",
    }
    if version:
        env["MODEL_VERSION"] = version
    env.update(extra_env or {})
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "lightning-asr",
                            "image": "smallest/lightning-asr:1.0",
                            "ports": [{"containerPort": 2269}],
                            "env": [{"name": k, "value": v} for k, v in env.items()],
                            "volumeMounts": [{"name": "models", "mountPath": "/app/models"}],
                        }
                    ],
                    "volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": claim}}],
                },
            },
        },
    }


def api_server(url: str = "http://lightning-asr:2269") -> dict:
    labels = {"app": "api-server"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api-server", "namespace": NS, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "api-server",
                            "image": "smallest/api-server:1.0",
                            "env": [{"name": "LIGHTNING_ASR_BASE_URL", "value": url}],
                        }
                    ]
                },
            },
        },
    }


class _Sink:
    def __init__(self) -> None:
        self.latest: ClusterSnapshot | None = None

    def snapshot_ready(self, snapshot: ClusterSnapshot) -> None:
        self.latest = snapshot

    def log_lines_received(self, pod: str, lines: Any) -> None:
        return None


@dataclass
class World:
    """A running cluster plus the dashboard's own pieces connected to it."""

    sim: Any
    tmp: Path
    selector: str = "app in (lightning-asr,lightning-asr-v2)"
    user: str = "admin"
    stall_after: float = 60.0
    cluster: Cluster = field(init=False)
    service: ActionService = field(init=False)
    feed: LiveFeed | None = field(init=False, default=None)
    progress: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        kubeconfig = self.sim.write_kubeconfig(self.tmp / f"kubeconfig-{self.user}", user=self.user)
        self.cluster = connect(ConnectionSettings(kubeconfig=str(kubeconfig), namespace=NS))
        self.audit_path = self.tmp / "state" / "asr-cache-tui" / "audit.log"
        self.service = ActionService(self.cluster, audit=AuditLog(self.audit_path))
        self._sink = _Sink()

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
            time.sleep(0.3)
            snap = self.snapshot()
        return snap

    def logs(self, pod: str) -> list[LogLine]:
        assert self.feed is not None
        return list(self.feed.recent_log(pod))

    # -- actions ---------------------------------------------------------------------------------

    def plan(self, action_id: str, target: str | None, **options: Any) -> ActionPlan:
        return self.service.plan(action_id, self.snapshot(), target, ActionOptions(**options))

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
        import json

        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]

    def events(self, reason: str) -> list[dict[str, Any]]:
        items = self.cluster.core.list_namespaced_event(NS, _request_timeout=5).items
        plain = [self.cluster.api_client.sanitize_for_serialization(e) for e in items]
        return [e for e in plain if e.get("reason") == reason]

    def close(self) -> None:
        if self.feed is not None:
            self.feed.stop()
        self.cluster.close()


def ready_pods(snap: ClusterSnapshot, release: str) -> list[str]:
    return [p.name for p in snap.pods if p.release == release and p.ready and not p.deleting]
