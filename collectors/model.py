"""The dashboard's picture of the cluster: immutable values handed from collectors upward.

Everything here is a frozen dataclass so a snapshot can cross threads, be compared to the last
one (to redraw only what changed) and be printed as JSON by ``asr-cache-tui status``.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

OOM_KILLED = "OOMKilled"


class ModelState(str, enum.Enum):
    """Where a pod stands with its model, ordered by how urgently on-call must look."""

    CORRUPT = "corrupt"
    FAILED = "failed"
    STALLED = "stalled"
    BLOCKED = "blocked"
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    WAITING = "waiting"
    PENDING = "pending"
    UNKNOWN = "unknown"
    READY = "ready"
    # Completed (Succeeded) without a failure: a pre-warm Job's pod whose download is done.
    # It serves nothing, so it is not "ready".
    DONE = "done"

    @property
    def needs_attention(self) -> bool:
        return self in (
            ModelState.CORRUPT,
            ModelState.FAILED,
            ModelState.STALLED,
            ModelState.BLOCKED,
        )

    @property
    def settled(self) -> bool:
        """The pod has its model and nothing more to watch for: serving, or done."""
        return self in (ModelState.READY, ModelState.DONE)

    @property
    def urgency(self) -> int:
        """Sort key: lower is more urgent (the enum's declaration order)."""
        return _URGENCY[self]


_URGENCY = {state: rank for rank, state in enumerate(ModelState)}  # sorted on every snapshot


class DownloadPhase(str, enum.Enum):
    """What one download stream last said about itself."""

    STARTING = "starting"
    DOWNLOADING = "downloading"
    RETRYING = "retrying"
    STALLED = "stalled"
    WAITING = "waiting"
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class DownloadProgress:
    """One pod's download as read from its log (or from file growth on disk)."""

    phase: DownloadPhase
    source: str  # which parser: bundled, wget, curl, aria2c, aws, tqdm, lightning, disk
    bytes_done: int | None = None
    bytes_total: int | None = None
    rate: float | None = None  # bytes per second
    eta_seconds: float | None = None
    attempt: int | None = None
    file: str | None = None
    message: str | None = None
    updated_at: float = 0.0  # wall-clock seconds when this was last learned
    # Seconds since bytes last arrived, once that is longer than a few progress intervals:
    # the rate is then 0 and there is no ETA, whatever average the downloader still reports.
    idle_for: float | None = None

    @property
    def fraction(self) -> float | None:
        if self.bytes_done is None or not self.bytes_total:
            return None
        return min(1.0, self.bytes_done / self.bytes_total)

    @property
    def in_flight(self) -> bool:
        """Downloading or retrying: the phases where a rate and an ETA mean something."""
        return self.phase in (DownloadPhase.DOWNLOADING, DownloadPhase.RETRYING)

    def idle(self, seconds: float) -> DownloadProgress:
        """This download with no new bytes for ``seconds``: nothing moves now, so no rate and
        no ETA (a downloader's average rate decays slowly and would promise one)."""
        return dataclasses.replace(self, rate=0.0, eta_seconds=None, idle_for=seconds)

    def stopped(self, why: str) -> DownloadProgress:
        """This download as over without its file: the pod it ran in failed (evicted, say),
        whatever the last line read said."""
        if not self.in_flight:
            return self
        return dataclasses.replace(
            self, phase=DownloadPhase.FAILED, rate=None, eta_seconds=None, message=why
        )

    def finished(self) -> DownloadProgress:
        """This download as done: for a pod that exited 0 (a Job's, whose success is the
        downloader's contract), which may come before the log's last lines are read."""
        if self.phase is DownloadPhase.DONE:
            return self
        return dataclasses.replace(
            self,
            phase=DownloadPhase.DONE,
            bytes_done=self.bytes_total or self.bytes_done,
            rate=None,
            eta_seconds=None,
        )


@dataclass(frozen=True)
class ModelSettings:
    """The model knobs a pod runs with, from its environment (URL already redacted)."""

    url: str | None = None
    version: str | None = None
    cache_dir: str | None = None
    checksum: str | None = None
    max_cache_size: int | None = None
    eviction: str | None = None
    workers: int | None = None
    model_path: str | None = None


@dataclass(frozen=True)
class ProbeSpec:
    """One of a container's probes, as the API server defaulted it."""

    kind: str  # liveness | readiness | startup
    handler: str  # what it checks, as kubectl describe says it: "http-get :2269/health"
    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    failure_threshold: int = 3
    success_threshold: int = 1
    check: str = ""  # the handler alone as JSON ({"httpGet": …}), to build another probe from

    @property
    def allows(self) -> int:
        """About how long a start may take before this probe gives up on it, in seconds:
        initialDelaySeconds + failureThreshold * periodSeconds (the rule Kubernetes' own
        documentation gives for sizing a startup probe)."""
        return self.initial_delay + self.failure_threshold * self.period

    @property
    def settings(self) -> str:
        """``initialDelaySeconds 300 + failureThreshold 3 * periodSeconds 10``, for a sentence."""
        delay = f"initialDelaySeconds {self.initial_delay} + " if self.initial_delay else ""
        return f"{delay}failureThreshold {self.failure_threshold} * periodSeconds {self.period}"


@dataclass(frozen=True)
class ProbeKill:
    """The kubelet restarting a container because its liveness or startup probe failed. For a
    container that downloads the model, most often a start longer than the probe allows:
    each restart begins the download again, and it may never finish."""

    container: str
    probe: str  # liveness | startup
    kills: int  # how many times, as the Killing event counts them
    killed_at: float
    failure: str = ""  # the probe's latest failure, e.g. "... connect: connection refused"
    spec: ProbeSpec | None = None  # the probe that killed it, when the pod spec has it
    rate: float | None = None  # bytes/s the download last ran at, in the run it ended


@dataclass(frozen=True)
class ProbeDeadline:
    """A container on its way up whose probe will end the run before the download does: its
    probe fails while the model downloads (a kill before, or a failure in this run), and
    what the probe allows runs out before the ETA (or the ETA is not known)."""

    container: str
    probe: str  # liveness | startup
    left: float  # seconds until the probe ends this run, at the earliest (0: due now)
    needs: float | None  # the download's ETA, seconds, when known
    said: str  # the sentence, for the evidence


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    init: bool
    image: str
    state: str  # waiting | running | terminated | unknown
    ready: bool = False
    restarts: int = 0
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    last_reason: str | None = None  # how its previous run ended (lastState), e.g. OOMKilled
    memory_limit: int | None = None  # resources.limits.memory, bytes
    started_at: float | None = None  # when the run under way started (state.running)
    probes: tuple[ProbeSpec, ...] = ()
    started: bool = False  # status.started: its startup probe (if any) has passed in this run

    def probe(self, kind: str) -> ProbeSpec | None:
        return next((p for p in self.probes if p.kind == kind), None)

    @property
    def start_limit(self) -> ProbeSpec | None:
        """The probe that bounds how long a start may take: the startup probe when there is
        one (liveness waits for it), else the liveness probe. None once a startup probe has
        passed in this run: the start it bounded is over, and liveness counts from then."""
        startup = self.probe("startup")
        if startup is not None:
            return None if self.started else startup
        return self.probe("liveness")

    @property
    def oom_killed(self) -> bool:
        """The kernel killed it for memory, now or in the run before this one."""
        now = self.state == "terminated" and self.reason == OOM_KILLED
        return now or self.last_reason == OOM_KILLED


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of hashing a model file in a pod (kept and shown with the pod)."""

    path: str
    expected: str | None
    actual: str | None
    ok: bool
    checked_at: float
    message: str = ""


@dataclass(frozen=True)
class StartBlocker:
    """What keeps a pod from starting, in the API's words (decided in ``blockers.py``)."""

    kind: str  # image | config | schedule | volume
    cause: str  # one line: what is wrong
    gist: str = ""  # the cause in a few words, for a table row
    since: float | None = None  # when it began, as far as the API tells
    # It will not pass by itself (a pull back-off, a missing Secret, a volume attached to
    # another node) or has lasted past the grace: the pod is "blocked", not merely pending.
    settled: bool = False
    details: tuple[str, ...] = ()  # more evidence: the registry's answer, the claim's events


@dataclass(frozen=True)
class NodeLost:
    """The node a pod runs on stopped reporting (``nodes.py``)."""

    node: str
    since: float | None  # when its Ready condition left True, as far as the API tells
    said: str  # the sentence, for the evidence


@dataclass(frozen=True)
class NodeNotReady:
    """The node a pod runs on answers but says NotReady (``nodes.py``): what runs there goes
    on, nothing new is scheduled there, and the taint manager evicts its pods once their
    toleration of the not-ready taint runs out."""

    node: str
    since: float | None  # when its Ready condition turned False, as far as the API tells
    why: str  # the kubelet's words: its Ready condition's message
    evicted_in: float | None  # seconds left before this pod is evicted; None: never (tolerated)
    said: str  # the sentence, for the evidence


@dataclass(frozen=True)
class PodInfo:
    name: str
    namespace: str
    uid: str
    node: str | None
    phase: str
    ready: bool
    restarts: int
    created_at: float  # wall-clock seconds
    owner: str | None  # e.g. "ReplicaSet/lightning-asr-7d9f" or "Job/model-preload"
    release: str | None  # deployment (or job) the pod belongs to
    containers: tuple[ContainerInfo, ...] = ()
    model: ModelSettings = field(default_factory=ModelSettings)
    cache_volume: str | None = None  # the pod's volume name that holds the cache
    cache_claim: str | None = None  # PVC name when that volume is a PVC
    cache_kind: str | None = None  # pvc | emptyDir | hostPath | image | None
    model_state: ModelState = ModelState.UNKNOWN
    evidence: tuple[str, ...] = ()  # why the model state is what it is, for the current run
    progress: DownloadProgress | None = None
    verification: VerificationResult | None = None
    deleting: bool = False
    # How the container's run before its last restart ended: history for people to read, never
    # evidence (a failure that a restart left behind says nothing about the run under way).
    previous_run: str | None = None
    # Why it has not started: the scheduler's PodScheduled=False message and since when; a
    # Failed pod's own reason and message (Evicted: which limit it went over).
    unscheduled: str | None = None
    unscheduled_since: float | None = None
    status_reason: str | None = None
    status_message: str | None = None
    blocker: StartBlocker | None = None
    probe_kill: ProbeKill | None = None
    probe_deadline: ProbeDeadline | None = None
    # Why a pod whose server says it is ready is not Ready: its readiness probe's latest
    # failure in this run ("HTTP probe failed with statuscode: 503").
    unready_because: str | None = None
    # Its node stopped reporting (power, network): what the API shows of it is old news.
    node_lost: NodeLost | None = None
    # Its node answers but says NotReady: it runs on, and is evicted unless the node recovers.
    node_not_ready: NodeNotReady | None = None
    # What `kubectl get pods` says in its STATUS column (CrashLoopBackOff, Init:0/1, Evicted…);
    # "" when not read from a pod object.
    kubectl_status: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def reachable(self) -> bool:
        """Its kubelet can be asked for logs and commands: on a node that answers, and not on
        its way out (a lost node's pods only seem to run)."""
        return bool(self.node) and not self.deleting and self.node_lost is None

    @property
    def killed_for_memory(self) -> ContainerInfo | None:
        """The first container OOMKilled now or in its run before, if any."""
        return next((c for c in self.containers if c.oom_killed), None)

    @property
    def evicted(self) -> bool:
        return self.phase == "Failed" and self.status_reason == "Evicted"


@dataclass(frozen=True)
class VolumeUsage:
    """A measured usage figure and, honestly, where it came from."""

    source: str  # kubelet | df | du | none
    used_bytes: int | None = None
    capacity_bytes: int | None = None
    available_bytes: int | None = None
    measured_at: float = 0.0
    note: str | None = None  # e.g. "EFS reports 8 EiB; shown against the cache quota"

    @property
    def capacity_meaningful(self) -> bool:
        # EFS (and other elastic file systems) report 8 EiB: a percentage of it means nothing.
        return bool(self.capacity_bytes) and (self.capacity_bytes or 0) < 2**60

    @property
    def fraction_full(self) -> float | None:
        """How full, as df's Use% counts it: used / (used + available), else used / size when
        what is available is not known; None when the size means nothing.

        Blocks reserved for root count as neither (5% on ext4, far more on some file systems),
        so this, not used / size, is what reaches 100% when the pods' writes fail (ENOSPC)."""
        if not self.capacity_meaningful or self.used_bytes is None:
            return None
        usable = self.used_bytes + (self.available_bytes or 0)
        if self.available_bytes is None or usable <= 0:
            usable = self.capacity_bytes or 0
        return self.used_bytes / usable if usable > 0 else None


@dataclass(frozen=True)
class VolumeInfo:
    name: str  # PVC name, or "<pod>/<volume>" for an emptyDir
    kind: str  # pvc | emptyDir
    phase: str | None = None
    requested_bytes: int | None = None
    capacity_bytes: int | None = None
    access_modes: tuple[str, ...] = ()
    storage_class: str | None = None
    pods: tuple[str, ...] = ()
    usage: VolumeUsage | None = None
    quota_bytes: int | None = None  # the pods' MODEL_CACHE_MAX_SIZE, when they set one

    @property
    def denominator(self) -> int | None:
        """What usage is measured against: real capacity, else the cache quota."""
        if self.usage is not None and self.usage.capacity_meaningful:
            return self.usage.capacity_bytes
        if self.capacity_bytes and self.capacity_bytes < 2**60 and self.usage is None:
            return self.capacity_bytes
        return self.quota_bytes


@dataclass(frozen=True)
class RolloutInfo:
    name: str
    desired: int
    updated: int
    ready: int
    available: int
    revision: str | None = None
    restarted_at: str | None = None
    model_version: str | None = None
    serving: bool | None = None  # True when the api-server points at this release
    # Why the rollout does not progress, in the Deployment's own words: its ReplicaSet cannot
    # create pods (ReplicaFailure: a quota, an admission webhook), or its progress deadline
    # passed (ProgressDeadlineExceeded). With no pod to show, this is the only sign.
    problem: str | None = None


@dataclass(frozen=True)
class JobInfo:
    name: str
    kind: str  # Job | CronJob
    state: str  # Running | Complete | Failed | Suspended | Scheduled
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    schedule: str | None = None
    last_run: float | None = None
    progress: DownloadProgress | None = None
    pods: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventInfo:
    object_kind: str
    object_name: str
    type: str  # Normal | Warning
    reason: str
    message: str
    count: int
    last_seen: float


@dataclass(frozen=True)
class ClusterSnapshot:
    """Everything the dashboard knows at one moment; replaced whole, never mutated."""

    context: str
    namespace: str
    server: str
    taken_at: float
    pods: tuple[PodInfo, ...] = ()
    volumes: tuple[VolumeInfo, ...] = ()
    rollouts: tuple[RolloutInfo, ...] = ()
    jobs: tuple[JobInfo, ...] = ()
    events: tuple[EventInfo, ...] = ()
    serving_url: str | None = None  # what the api-server's LIGHTNING_ASR_BASE_URL says
    stale_since: float | None = None  # set while the API is unreachable
    error: str | None = None  # the last connection error, one sentence
    trouble: str | None = None  # how the API fails us while stale, e.g. "throttling us (429)"
    notes: tuple[str, ...] = ()  # what the view cannot see, e.g. a kind RBAC forbids listing

    @property
    def stale(self) -> bool:
        return self.stale_since is not None

    def pod(self, name: str) -> PodInfo | None:
        return next((p for p in self.pods if p.name == name), None)

    def claim_of(self, pod: PodInfo) -> VolumeInfo | None:
        """The PVC that holds ``pod``'s cache, as measured; None for another kind of volume."""
        if not pod.cache_claim:
            return None
        return next((v for v in self.volumes if v.name == pod.cache_claim), None)


@dataclass(frozen=True)
class LogLine:
    """One line of a pod's log as kept in its bounded ring (text already redacted)."""

    pod: str
    container: str
    text: str
    kind: str = "plain"  # plain | progress | warning | error
    received_at: float = 0.0
    written_at: float | None = None  # the kubelet's timestamp of the line, when it had one

    @property
    def when(self) -> float:
        """When it happened, as near as known: lines of a crash loop's earlier runs, read in
        one go, were received together but written minutes apart."""
        return self.written_at if self.written_at is not None else self.received_at


@dataclass(frozen=True)
class CacheFile:
    """One file in a pod's cache directory, listed on demand."""

    name: str
    size: int
    modified_at: float
    partial: bool = False  # a .part download in progress
    verified: bool | None = None  # from the manifest or a verify run, when known
