"""Deterministic stand-ins for the dashboard's two ports: a feed of fixed snapshots and log
lines, and an action provider that records what it was asked.

The feed calls its sink from a background thread, as the real collectors do, so the app's
thread hand-over is exercised too.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence

from actions.plan import ActionPlan, ActionResult, ApiCall, ExecStep, Permission
from collectors.feed import FeedSink
from collectors.model import (
    CacheFile,
    ClusterSnapshot,
    ContainerInfo,
    DownloadPhase,
    DownloadProgress,
    EventInfo,
    JobInfo,
    LogLine,
    ModelSettings,
    ModelState,
    PodInfo,
    RolloutInfo,
    VerificationResult,
    VolumeInfo,
    VolumeUsage,
)

NOW = 1_800_000_000.0  # the injected clock of every UI test: no real time on screen
GiB = 2**30
MiB = 2**20
NS = "smallest"
CHECKSUM = "sha256:" + "ab" * 32


def clock() -> float:
    return NOW


def _containers(ready: bool, state: str = "running", restarts: int = 0) -> tuple:
    return (
        ContainerInfo("lightning-asr", False, "smallest/lightning-asr:1.4", state, ready, restarts),
    )


def pod(
    name: str,
    state: ModelState,
    *,
    node: str | None = "node-a",
    version: str = "v1",
    ready: bool = False,
    phase: str = "Running",
    restarts: int = 0,
    age: float = 600.0,
    progress: DownloadProgress | None = None,
    evidence: tuple[str, ...] = (),
    verification: VerificationResult | None = None,
    claim: str | None = "models-aws-efs-pvc",
    release: str = "lightning-asr",
) -> PodInfo:
    return PodInfo(
        name=name,
        namespace=NS,
        uid=f"uid-{name}",
        node=node,
        phase=phase,
        ready=ready,
        restarts=restarts,
        created_at=NOW - age,
        owner=f"ReplicaSet/{release}-7d9f8c6b5",
        release=release,
        containers=_containers(ready, restarts=restarts),
        model=ModelSettings(
            url="https://models.example.test/asr/v1/model.bin?X-Amz-Signature=REDACTED",
            version=version,
            cache_dir="/app/models",
            checksum=CHECKSUM,
            max_cache_size=50 * 10**9,
            eviction="lru",
            workers=8,
            model_path=f"/app/models/{version}/model.bin",
        ),
        cache_volume="models",
        cache_claim=claim,
        cache_kind="pvc" if claim else "emptyDir",
        model_state=state,
        evidence=evidence,
        progress=progress,
        verification=verification,
    )


def progress(
    done: int,
    total: int,
    rate: float | None,
    phase: DownloadPhase = DownloadPhase.DOWNLOADING,
    updated: float = NOW - 1,
) -> DownloadProgress:
    eta = (total - done) / rate if rate else None
    return DownloadProgress(
        phase=phase,
        source="bundled",
        bytes_done=done,
        bytes_total=total,
        rate=rate,
        eta_seconds=eta,
        attempt=1,
        file="model.bin",
        updated_at=updated,
    )


def sample_pods() -> tuple[PodInfo, ...]:
    """Six pods in name order, deliberately not in urgency order."""
    total = 24 * GiB
    return (
        pod(
            "lightning-asr-7d9f8c6b5-2kq9x",
            ModelState.READY,
            ready=True,
            age=7200,
            evidence=("log: Server ready",),
        ),
        pod(
            "lightning-asr-7d9f8c6b5-8mz2p",
            ModelState.DOWNLOADING,
            node="node-b",
            age=240,
            progress=progress(int(total * 0.42), total, 85 * MiB),
            evidence=("log: downloading model.bin",),
        ),
        pod(
            "lightning-asr-7d9f8c6b5-c4w7d",
            ModelState.STALLED,
            node="node-b",
            age=900,
            progress=progress(
                int(total * 0.40), total, 0.0, DownloadPhase.STALLED, updated=NOW - 130
            ),
            evidence=("no new bytes for 130s (threshold 60s)",),
        ),
        pod(
            "lightning-asr-7d9f8c6b5-h8r3t",
            ModelState.WAITING,
            node="node-c",
            age=230,
            evidence=("log: waiting for lock held by pid 7 on lightning-asr-7d9f8c6b5-8mz2p",),
        ),
        pod(
            "lightning-asr-7d9f8c6b5-tq5vn",
            ModelState.CORRUPT,
            node="node-c",
            restarts=4,
            age=3600,
            verification=VerificationResult(
                "/app/models/v1/model.bin",
                CHECKSUM,
                "sha256:" + "cd" * 32,
                False,
                NOW - 60,
                "expected ab…ab, got cd…cd",
            ),
            evidence=("log: ERROR checksum mismatch (expected ab…ab, got cd…cd)",),
        ),
        pod(
            "lightning-asr-v2-5c4b7d9f6-x7k2m",
            ModelState.PENDING,
            node=None,
            phase="Pending",
            version="v2",
            age=20,
            claim=None,
            release="lightning-asr-v2",
        ),
    )


def sample_volumes() -> tuple[VolumeInfo, ...]:
    return (
        VolumeInfo(
            name="models-aws-efs-pvc",
            kind="pvc",
            phase="Bound",
            requested_bytes=100 * GiB,
            capacity_bytes=100 * GiB,
            access_modes=("ReadWriteMany",),
            storage_class="models-aws-efs-sc",
            pods=(
                "lightning-asr-7d9f8c6b5-2kq9x",
                "lightning-asr-7d9f8c6b5-8mz2p",
                "lightning-asr-7d9f8c6b5-c4w7d",
            ),
            usage=VolumeUsage(
                "du",
                used_bytes=34 * GiB,
                capacity_bytes=2**63,
                measured_at=NOW - 5,
                note="EFS reports 8 EiB; shown against the cache quota",
            ),
            quota_bytes=50 * 10**9,
        ),
        VolumeInfo(
            name="lightning-asr-v2-5c4b7d9f6-x7k2m/model-cache",
            kind="emptyDir",
            pods=("lightning-asr-v2-5c4b7d9f6-x7k2m",),
            usage=VolumeUsage(
                "kubelet",
                used_bytes=2 * GiB,
                capacity_bytes=100 * GiB,
                available_bytes=98 * GiB,
                measured_at=NOW - 5,
            ),
        ),
    )


def sample_snapshot(**changes: object) -> ClusterSnapshot:
    snap = ClusterSnapshot(
        context="kind-asr",
        namespace=NS,
        server="https://127.0.0.1:6443",
        taken_at=NOW - 1,
        pods=sample_pods(),
        volumes=sample_volumes(),
        rollouts=(
            RolloutInfo(
                "lightning-asr",
                desired=5,
                updated=5,
                ready=1,
                available=1,
                model_version="v1",
                serving=True,
            ),
            RolloutInfo(
                "lightning-asr-v2",
                desired=1,
                updated=1,
                ready=0,
                available=0,
                model_version="v2",
                serving=False,
            ),
        ),
        jobs=(
            JobInfo(
                "model-preload-v2-9f3k",
                "Job",
                "Running",
                active=1,
                progress=progress(6 * GiB, 24 * GiB, 120 * MiB),
                last_run=NOW - 300,
                pods=("model-preload-v2-9f3k-abcde",),
            ),
            JobInfo(
                "model-preload",
                "CronJob",
                "Scheduled",
                schedule="0 8 * * *",
                succeeded=3,
                last_run=NOW - 86400 * 2,
            ),
        ),
        events=(
            EventInfo(
                "Pod",
                "lightning-asr-7d9f8c6b5-c4w7d",
                "Warning",
                "DownloadStalled",
                "model.bin: no new bytes for 130s at 9.6 GiB",
                1,
                NOW - 10,
            ),
            EventInfo(
                "Pod",
                "lightning-asr-7d9f8c6b5-c4w7d",
                "Normal",
                "Started",
                "Started container lightning-asr",
                1,
                NOW - 880,
            ),
            EventInfo(
                "Pod",
                "lightning-asr-7d9f8c6b5-tq5vn",
                "Warning",
                "BackOff",
                "Back-off restarting failed container lightning-asr",
                12,
                NOW - 30,
            ),
        ),
        serving_url="http://lightning-asr:2269",
    )
    return dataclasses.replace(snap, **changes)  # type: ignore[arg-type]


def sample_log(pod_name: str) -> list[LogLine]:
    texts = [
        ("plain", "INFO starting lightning-asr 1.4"),
        ("plain", "INFO model cache: /app/models (pvc models-aws-efs-pvc)"),
        ("progress", "model.bin  38% 9.1 GiB/24.0 GiB  85.3 MiB/s  ETA 3m05s"),
        ("progress", "model.bin  40% 9.6 GiB/24.0 GiB  12.0 MiB/s  ETA 20m"),
        ("warning", "WARNING no bytes received for 60s, still waiting"),
        ("error", "ERROR download stalled: no bytes for 120s"),
    ]
    return [
        LogLine(pod_name, "lightning-asr", text, kind=kind, received_at=NOW - 200 + i)
        for i, (kind, text) in enumerate(texts)
    ]


def sample_files() -> list[CacheFile]:
    return [
        CacheFile("v1/model.bin.part", 9 * GiB + 600 * MiB, NOW - 130, partial=True),
        CacheFile("v0/model.bin", 23 * GiB, NOW - 86400 * 3, verified=True),
    ]


def sample_usage() -> VolumeUsage:
    return VolumeUsage(
        "df",
        used_bytes=34 * GiB,
        capacity_bytes=2**63,
        available_bytes=2**63 - 34 * GiB,
        measured_at=NOW - 2,
        note="EFS: the size is not meaningful",
    )


class FakeFeed:
    """A ``ClusterFeed`` serving fixed data; the sink is called from a worker thread."""

    def __init__(
        self,
        snapshot: ClusterSnapshot | None = None,
        *,
        logs: Mapping[str, Sequence[LogLine]] | None = None,
        files: Sequence[CacheFile] | None = None,
        usage: VolumeUsage | None = None,
        fail_listing: str | None = None,
    ) -> None:
        self.initial = snapshot
        self.logs = dict(logs or {})
        self.files = list(files if files is not None else sample_files())
        self.usage = usage if usage is not None else sample_usage()
        self.fail_listing = fail_listing
        self.sink: FeedSink | None = None
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.followed: list[str] = []
        self.unfollowed: list[str] = []
        self.refreshed: list[tuple[str, ...]] = []  # volumes asked to be measured again
        self.listing_threads: list[str] = []
        self.lock = threading.Lock()

    def _in_thread(self, fn: Callable[[], None]) -> None:
        thread = threading.Thread(target=fn, name="fake-feed")
        thread.start()
        thread.join(5)

    def start(self, sink: FeedSink) -> None:
        self.sink = sink
        self.started.set()
        if self.initial is not None:
            initial = self.initial
            self._in_thread(lambda: sink.snapshot_ready(initial))

    def push(self, snapshot: ClusterSnapshot) -> None:
        assert self.sink is not None, "the app has not started the feed"
        sink = self.sink
        self._in_thread(lambda: sink.snapshot_ready(snapshot))

    def push_logs(self, pod: str, lines: Sequence[LogLine]) -> None:
        assert self.sink is not None
        sink = self.sink
        self._in_thread(lambda: sink.log_lines_received(pod, lines))

    def stop(self) -> None:
        self.stopped.set()

    def follow_pod(self, pod: str) -> None:
        with self.lock:
            self.followed.append(pod)

    def unfollow_pod(self, pod: str) -> None:
        with self.lock:
            self.unfollowed.append(pod)

    def recent_log(self, pod: str) -> Sequence[LogLine]:
        return list(self.logs.get(pod, ()))

    def cache_files(self, pod: str) -> Sequence[CacheFile]:
        with self.lock:
            self.listing_threads.append(threading.current_thread().name)
        if self.fail_listing:
            raise RuntimeError(self.fail_listing)
        return list(self.files)

    def disk_usage(self, pod: str) -> VolumeUsage:
        if self.fail_listing:
            raise RuntimeError(self.fail_listing)
        return self.usage

    def refresh_volumes(self, names: Sequence[str]) -> None:
        with self.lock:
            self.refreshed.append(tuple(names))


def sample_plan(action_id: str, pod_name: str | None, **changes: object) -> ActionPlan:
    target = f"pod/{pod_name}" if pod_name else "deployment/lightning-asr"
    steps: tuple = (ApiCall("delete", "pods", NS, name=pod_name or "x"),)
    if action_id == "purge":
        steps = (
            ExecStep(
                pod_name or "x",
                NS,
                ("rm", "-f", "--", "/app/models/v1/model.bin"),
                container="lightning-asr",
            ),
            ApiCall("delete", "pods", NS, name=pod_name or "x"),
        )
    plan = ActionPlan(
        action=action_id,
        title=f"{action_id} {target}",
        target=target,
        namespace=NS,
        steps=steps,
        summary="the download has not moved for 130s; the partial can resume",
        destructive=action_id in ("purge", "restart-pod", "rollout-restart", "fix", "switch"),
        irreversible=action_id == "purge",
        permissions=(Permission("delete", "pods", NS),),
        affected_pods=(pod_name,) if pod_name else (),
    )
    return dataclasses.replace(plan, **changes)  # type: ignore[arg-type]


class FakeActions:
    """An ``ActionProvider`` that records every call and the thread it ran on."""

    def __init__(
        self,
        permissions: Mapping[str, str | None] | None = None,
        *,
        refuse: Mapping[str, str] | None = None,
        result_ok: bool = True,
        hold: threading.Event | None = None,
    ) -> None:
        self.perms = dict(permissions or {})
        self.refuse = dict(refuse or {})
        self.result_ok = result_ok
        self.hold = hold  # execute waits for it (to observe progress and cancellation)
        self.plan_calls: list[tuple[str, str | None]] = []
        self.executed: list[ActionPlan] = []
        self.threads: list[str] = []
        self.cancelled: list[bool] = []

    def permissions(self) -> Mapping[str, str | None]:
        self.threads.append(threading.current_thread().name)
        return dict(self.perms)

    def plan(self, action_id: str, snapshot: ClusterSnapshot, pod_name: str | None) -> ActionPlan:
        self.threads.append(threading.current_thread().name)
        self.plan_calls.append((action_id, pod_name))
        refused = self.refuse.get(action_id)
        return sample_plan(action_id, pod_name, refused=refused)

    def execute(self, plan, progress=None, cancel=None) -> ActionResult:
        self.threads.append(threading.current_thread().name)
        self.executed.append(plan)
        if progress is not None:
            progress("step 1 of 2")
        if self.hold is not None:
            self.hold.wait(5)
        self.cancelled.append(bool(cancel and cancel.is_set()))
        message = f"{plan.action} done on {plan.target}" if self.result_ok else "API said 500"
        return ActionResult(plan, ok=self.result_ok, message=message)
