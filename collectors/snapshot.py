"""Merge everything the collectors know into one immutable ``ClusterSnapshot``.

Inputs are plain: the objects of each kind as the API gave them, what each pod's log
established, the partial files seen on disk, measured volume usage and the serving release.
``SnapshotBuilder`` only caches what does not change between snapshots (a pod read into
``PodInfo`` is reused until its ``resourceVersion`` changes), so a snapshot of 300 pods is
cheap enough to rebuild several times a second.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from collectors import jobs as jobs_mod
from collectors import kube, pods, rollouts
from collectors.blockers import start_blocker
from collectors.model import (
    ClusterSnapshot,
    EventInfo,
    JobInfo,
    ModelState,
    PodInfo,
    ProbeDeadline,
    StartBlocker,
    VerificationResult,
    VolumeInfo,
    VolumeUsage,
)
from collectors.nodes import NOT_READY_TAINT, NodeHealth, node_lost, node_not_ready, tolerated_for
from collectors.probes import probe_deadline, probe_kill, readiness_failure
from collectors.progress import LogFacts
from collectors.selectors import parse_selector
from collectors.state import ON_THE_WAY, DiskFacts, Verdict, model_state
from collectors.values import ChartValues
from collectors.volumes import PodMount, VolumeTarget

DEFAULT_SELECTOR = "app=lightning-asr"
DEFAULT_CACHE_CLAIM = "models-aws-efs-pvc"
UNBOUND_NOTE = "the claim is Pending: no volume is bound to it yet (its events say why)"

Objects = Mapping[str, Mapping[str, Mapping[str, Any]]]  # kind -> name -> object


@dataclass(frozen=True)
class FeedOptions:
    """What to collect and how; everything has the CLI's default."""

    selector: str = DEFAULT_SELECTOR
    stall_after: float = 60.0
    refresh: float = 5.0  # volume usage interval
    values: ChartValues | None = None
    tail_lines: int = 200  # log lines read back when a stream starts
    ring_lines: int = 500  # log lines kept per pod for the UI
    max_events: int = 100
    max_streams: int = 64  # log streams at once
    exec_timeout: float = 10.0
    fallback_interval: float = 15.0  # df/du through exec at most this often per volume
    disk_check_interval: float | None = None  # stat of a partial file; None: from stall_after

    @property
    def effective_selector(self) -> str:
        """``-l`` wins; the chart's prefix replaces the default selector."""
        if self.values is not None and self.selector == DEFAULT_SELECTOR:
            return self.values.selector
        return self.selector

    @property
    def disk_interval(self) -> float:
        """How often a pod's partial file is stat'ed when its log has no byte counts."""
        if self.disk_check_interval is not None:
            return self.disk_check_interval
        return max(5.0, min(30.0, self.stall_after / 4))


@dataclass(frozen=True)
class ServingInfo:
    url: str | None = None  # redacted
    deployment: str | None = None
    api_server: str | None = None


@dataclass(frozen=True)
class _PodBase:
    rv: str
    release_hint: str | None
    info: PodInfo
    downloaders: frozenset[str]


@dataclass
class SnapshotInputs:
    objects: Objects
    facts: Mapping[str, LogFacts] = field(default_factory=dict)
    disk: Mapping[str, DiskFacts] = field(default_factory=dict)
    usage: Mapping[str, VolumeUsage] = field(default_factory=dict)
    serving: ServingInfo = field(default_factory=ServingInfo)
    verifications: Mapping[str, VerificationResult] = field(default_factory=dict)
    nodes: Mapping[str, NodeHealth] = field(default_factory=dict)


class SnapshotBuilder:
    def __init__(self, options: FeedOptions) -> None:
        self.options = options
        self.selector = parse_selector(options.effective_selector)
        self.widen = options.selector == DEFAULT_SELECTOR
        claim = options.values.efs_claim if options.values else None
        self.cache_claims = frozenset({claim or DEFAULT_CACHE_CLAIM})
        self.default_url = options.values.model_url if options.values else None
        self._pods: dict[str, _PodBase] = {}

    # -- pods --------------------------------------------------------------------------------

    def relevant(self, pod: kube.Obj) -> bool:
        """An ASR pod (the selector), a pre-warm Job's pod, or, unless ``-l`` narrowed the
        view, any pod that runs with model settings (``MODEL_*`` env): a blue-green
        ``lightning-asr-v2`` release is labelled ``app=lightning-asr-v2``."""
        if self.selector.matches(kube.labels_of(pod)):
            return True
        owner = kube.controller_of(pod)
        if owner is not None and owner[0] == "Job":
            return True
        return self.widen and pods.has_model_env(pod)

    def base(self, pod: kube.Obj, rs_release: Mapping[str, str]) -> tuple[PodInfo, frozenset[str]]:
        md = kube.meta(pod)
        uid = str(md.get("uid") or md.get("name"))
        rv = str(md.get("resourceVersion") or "")
        owner = kube.controller_of(pod)
        hint = rs_release.get(owner[1]) if owner and owner[0] == "ReplicaSet" else None
        cached = self._pods.get(uid)
        if cached is not None and cached.rv == rv and cached.release_hint == hint:
            return cached.info, cached.downloaders
        info = pods.pod_info(pod, rs_release, self.cache_claims, self.default_url)
        downloaders = frozenset(c.name for c in info.containers if pods.is_downloader(pod, c.name))
        self._pods[uid] = _PodBase(rv, hint, info, downloaders)
        return info, downloaders

    def forget_missing(self, present: Iterable[str]) -> None:
        keep = set(present)
        for uid in [u for u in self._pods if u not in keep]:
            del self._pods[uid]

    def pod_infos(
        self, inputs: SnapshotInputs, when: float, events: Iterable[EventInfo] = ()
    ) -> tuple[list[PodInfo], dict[str, Verdict]]:
        """Every relevant pod with its model state; ``events`` (newest first) tell what keeps a
        pod from starting."""
        objects = inputs.objects
        about = _events_by_object(events)
        rs_release = {
            name: owner[1]
            for name, rs in objects.get("replicasets", {}).items()
            if (owner := kube.controller_of(rs)) and owner[0] == "Deployment"
        }
        out: list[PodInfo] = []
        verdicts: dict[str, Verdict] = {}
        uids = []
        for name, pod in sorted(objects.get("pods", {}).items()):
            if not self.relevant(pod):
                continue
            base, downloaders = self.base(pod, rs_release)
            uids.append(base.uid or name)
            verification = inputs.verifications.get(name)
            if verification is not None:
                base = dataclasses.replace(base, verification=verification)
            facts = inputs.facts.get(name)
            own = [e for e in about.get(("Pod", base.name), ()) if e.last_seen >= base.created_at]
            blocker = self.blocker(pod, base, own, about, when)
            rate = facts.progress.rate if facts is not None and facts.progress else None
            base = dataclasses.replace(base, probe_kill=probe_kill(base, own, rate))
            node = inputs.nodes.get(base.node) if base.node else None
            if node is not None and node.lost:
                base = dataclasses.replace(base, node_lost=node_lost(node, when))
            elif node is not None and node.not_ready:
                tolerated = tolerated_for(pod, NOT_READY_TAINT)
                base = dataclasses.replace(
                    base, node_not_ready=node_not_ready(node, tolerated, when)
                )
            verdict = model_state(
                base,
                facts,
                inputs.disk.get(name),
                when,
                self.options.stall_after,
                downloaders,
                blocker,
            )
            ready_at = facts.ready_at if facts is not None else None
            verdict, deadline, unready = _probes_say(base, verdict, own, when, ready_at)
            verdicts[name] = verdict
            out.append(
                dataclasses.replace(
                    base,
                    model_state=verdict.state,
                    evidence=verdict.evidence,
                    progress=verdict.progress,
                    previous_run=facts.previous_run if facts is not None else None,
                    blocker=blocker,
                    probe_deadline=deadline,
                    unready_because=unready,
                )
            )
        self.forget_missing(uids)
        return out, verdicts

    def blocker(
        self,
        pod: kube.Obj,
        info: PodInfo,
        own: Sequence[EventInfo],
        about: Mapping[tuple[str, str], list[EventInfo]],
        when: float,
    ) -> StartBlocker | None:
        """What keeps the pod from starting, from ``own`` events (this pod's, not an earlier
        one's of the same name) and its claims' latest Warning."""
        latest = (
            next(
                (e for e in about.get(("PersistentVolumeClaim", c), ()) if e.type == "Warning"),
                None,
            )
            for c in pods.claims_of(pod)
        )
        claims = [e for e in latest if e is not None]
        return start_blocker(info, own, claims, when, self.options.stall_after)

    # -- volumes -------------------------------------------------------------------------------

    def volume_targets(self, objects: Objects, infos: Iterable[PodInfo]) -> list[VolumeTarget]:
        """The cache volumes to measure: PVCs mounted by relevant pods, and emptyDir caches."""
        all_pods = objects.get("pods", {})
        by_claim: dict[str, list[PodMount]] = {}
        quotas: dict[str, list[int]] = {}
        targets: list[VolumeTarget] = []
        for info in infos:
            pod = all_pods.get(info.name)
            if pod is None or info.cache_volume is None:
                continue
            runs = (
                {c.name for c in info.containers if c.state == "running"}
                if info.reachable
                else set()
            )
            where = pods.mount_path_of(pod, info.cache_volume, prefer=runs)
            if where is None:
                continue
            running = where[0] in runs
            mount = PodMount(info.name, info.node, where[0], where[1], running, info.ready)
            if info.cache_kind == "pvc" and info.cache_claim:
                by_claim.setdefault(info.cache_claim, []).append(mount)
                if info.model.max_cache_size:
                    quotas.setdefault(info.cache_claim, []).append(info.model.max_cache_size)
            elif info.cache_kind == "emptyDir":
                targets.append(
                    VolumeTarget(
                        key=f"{info.name}/{info.cache_volume}",
                        kind="emptyDir",
                        volume=info.cache_volume,
                        claim=None,
                        mounts=(mount,),
                        quota=info.model.max_cache_size,
                    )
                )
        default_quota = self.options.values.cache_quota if self.options.values else None
        for claim, mounts in sorted(by_claim.items()):
            q = quotas.get(claim)
            targets.append(
                VolumeTarget(
                    key=claim,
                    kind="pvc",
                    volume=claim,
                    claim=claim,
                    mounts=tuple(mounts),
                    quota=min(q) if q else default_quota,
                )
            )
        return targets

    def volumes(
        self,
        objects: Objects,
        targets: list[VolumeTarget],
        usage: Mapping[str, VolumeUsage],
    ) -> list[VolumeInfo]:
        mounted_by: dict[str, list[str]] = {}
        for name, pod in objects.get("pods", {}).items():
            if kube.status(pod).get("phase") in ("Succeeded", "Failed"):
                continue  # its containers are over and its volumes unmounted: it uses none
            for vol in kube.items(kube.spec(pod).get("volumes")):
                claim = kube.dig(vol, "persistentVolumeClaim", "claimName")
                if isinstance(claim, str):
                    mounted_by.setdefault(claim, []).append(name)
        by_key = {t.key: t for t in targets}
        out: list[VolumeInfo] = []
        for name, pvc in sorted(objects.get("persistentvolumeclaims", {}).items()):
            spec, st = kube.spec(pvc), kube.status(pvc)
            target = by_key.get(name)
            requested = kube.dig(spec, "resources", "requests", "storage")
            phase = st.get("phase") if isinstance(st.get("phase"), str) else None
            measured = usage.get(name)
            if phase == "Pending":  # no volume behind it yet: why it is not measured
                measured = VolumeUsage(source="none", note=UNBOUND_NOTE)
            out.append(
                VolumeInfo(
                    name=name,
                    kind="pvc",
                    phase=phase,
                    requested_bytes=kube.quantity(requested),
                    capacity_bytes=kube.quantity(kube.dig(st, "capacity", "storage")),
                    access_modes=tuple(str(m) for m in kube.items(spec.get("accessModes"))),
                    storage_class=spec.get("storageClassName")
                    if isinstance(spec.get("storageClassName"), str)
                    else None,
                    pods=tuple(sorted(mounted_by.get(name, []))),
                    usage=measured,
                    quota_bytes=target.quota if target else None,
                )
            )
        for t in targets:
            if t.kind == "emptyDir":
                out.append(
                    VolumeInfo(
                        name=t.key,
                        kind="emptyDir",
                        pods=tuple(m.pod for m in t.mounts),
                        usage=usage.get(t.key),
                        quota_bytes=t.quota,
                    )
                )
        return out

    # -- the rest ------------------------------------------------------------------------------

    def jobs(self, objects: Objects, infos: list[PodInfo]) -> list[JobInfo]:
        by_job: dict[str, list[PodInfo]] = {}
        for p in infos:
            if p.owner and p.owner.startswith("Job/"):
                by_job.setdefault(p.owner[4:], []).append(p)
        job_infos: dict[str, JobInfo] = {}
        owner_of_job: dict[str, str] = {}
        for name, job in objects.get("jobs", {}).items():
            job_infos[name] = jobs_mod.job_info(job, by_job.get(name, []))
            owner = kube.controller_of(job)
            if owner and owner[0] == "CronJob":
                owner_of_job[name] = owner[1]
        out = list(job_infos.values())
        for name, cj in objects.get("cronjobs", {}).items():
            mine = [job_infos[j] for j, o in owner_of_job.items() if o == name]
            out.append(jobs_mod.cronjob_info(cj, mine))
        out.sort(key=lambda j: (j.kind, j.name))
        return out

    def build(
        self,
        inputs: SnapshotInputs,
        *,
        now: float,
        context: str,
        namespace: str,
        server: str,
        stale_since: float | None = None,
        error: str | None = None,
        targets: list[VolumeTarget] | None = None,
    ) -> tuple[ClusterSnapshot, dict[str, Verdict], list[VolumeTarget]]:
        """The snapshot, each pod's verdict, and the volume targets (for the usage poller).

        While stale the states are judged as of the moment the API was lost, so a download
        is not called stalled only because we could not see it.
        """
        when = stale_since if stale_since is not None else now
        events = event_infos(inputs.objects)
        infos, verdicts = self.pod_infos(inputs, when, events)
        if targets is None:
            targets = self.volume_targets(inputs.objects, infos)
        serving = inputs.serving
        api_known = serving.api_server is not None and serving.url is not None
        rollout_list = [
            rollouts.rollout_info(dep, serving.deployment, api_known)
            for _, dep in sorted(inputs.objects.get("deployments", {}).items())
        ]
        snapshot = ClusterSnapshot(
            context=context,
            namespace=namespace,
            server=server,
            taken_at=now,
            pods=tuple(infos),
            volumes=tuple(self.volumes(inputs.objects, targets, inputs.usage)),
            rollouts=tuple(rollout_list),
            jobs=tuple(self.jobs(inputs.objects, infos)),
            events=tuple(events[: self.options.max_events]),
            serving_url=serving.url,
            stale_since=stale_since,
            error=error,
        )
        return snapshot, verdicts, targets


def event_infos(objects: Objects) -> list[EventInfo]:
    """Every event kept, newest first."""
    out = []
    for ev in objects.get("events", {}).values():
        involved = ev.get("involvedObject") or {}
        # Recorded through events.k8s.io (the scheduler, newer controllers), a repeated event
        # keeps count and time in "series"; "lastTimestamp" and "count" stay empty.
        series = ev.get("series")
        series = series if isinstance(series, Mapping) else {}
        last = (
            kube.timestamp(ev.get("lastTimestamp"))
            or kube.timestamp(series.get("lastObservedTime"))
            or kube.timestamp(ev.get("eventTime"))
            or kube.timestamp(kube.meta(ev).get("creationTimestamp"))
            or 0.0
        )
        count = ev.get("count") or series.get("count")
        out.append(
            EventInfo(
                object_kind=str(involved.get("kind") or ""),
                object_name=str(involved.get("name") or ""),
                type=str(ev.get("type") or "Normal"),
                reason=str(ev.get("reason") or ""),
                message=str(ev.get("message") or ""),
                count=count if isinstance(count, int) else 1,
                last_seen=last,
            )
        )
    out.sort(key=lambda e: (-e.last_seen, e.object_name, e.reason))
    return out


def _probes_say(
    pod: PodInfo,
    verdict: Verdict,
    events: Sequence[EventInfo],
    now: float,
    ready_at: float | None,
) -> tuple[Verdict, ProbeDeadline | None, str | None]:
    """What the pod's probes add to its decided state: a run under way that its probe will end
    first (said first), or a server that said it is ready (at ``ready_at``) and that its
    readiness probe fails since (said after "ready")."""
    if verdict.state in ON_THE_WAY:
        deadline = probe_deadline(pod, verdict.progress, events, now)
        if deadline is not None:
            return replace(verdict, evidence=(deadline.said, *verdict.evidence)), deadline, None
    if verdict.state is ModelState.READY:
        unready = readiness_failure(pod, events, ready_at)
        if unready is not None:
            said = f"not Ready: its readiness probe fails: {unready}"
            first, rest = verdict.evidence[:1], verdict.evidence[1:]
            return replace(verdict, evidence=(*first, said, *rest)), None, unready
    return verdict, None, None


def _events_by_object(events: Iterable[EventInfo]) -> dict[tuple[str, str], list[EventInfo]]:
    """Events by (kind, name) of the object they are about, order kept."""
    out: dict[tuple[str, str], list[EventInfo]] = {}
    for ev in events:
        out.setdefault((ev.object_kind, ev.object_name), []).append(ev)
    return out
