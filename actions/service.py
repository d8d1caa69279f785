"""One entry point for every action: gather facts, plan, check RBAC, execute, audit.

``ActionService`` is what the headless subcommands and the dashboard's provider both use.
Planning reads (never writes) what a plan needs beyond the snapshot; executing refuses in
read-only mode, refuses a refused plan, checks every permission with SelfSubjectAccessReview,
runs the action's executor, then writes the audit line and the Event.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

from actions import evidence, fix, prewarm, purge, registry, restart, switch, verify
from actions.audit import AuditLog, event_body, os_user
from actions.common import ExecHost, NoExecHost, exec_host
from actions.context import ActionContext, ActionFailed, Cancelled
from actions.kube import KubeGateway
from actions.listing import listing_steps, read_listing
from actions.options import ActionOptions as Options
from actions.options import CacheFacts, DeploymentFacts, PodFacts
from actions.paths import PathRefused, model_location
from actions.plan import ActionPlan, ActionResult
from actions.rbac import AccessChecker, forbidden_reason
from actions.sightings import CacheSightings
from actions.targets import TargetError, cache_container, parse_target, pods_sharing_cache
from actions.verifications import VerificationStore
from collectors.cluster import Cluster
from collectors.logstream import container_runs
from collectors.model import ClusterSnapshot, ContainerInfo, PodInfo, VerificationResult
from collectors.redact import redact_text

EXECUTORS: dict[str, Callable[[ActionPlan, ActionContext], ActionResult]] = {
    registry.PREWARM: prewarm.execute,
    registry.VERIFY: verify.execute,
    registry.PURGE: purge.execute,
    registry.RESTART_POD: restart.execute,
    registry.ROLLOUT_RESTART: restart.execute,
    registry.FIX: fix.execute,
    registry.SWITCH: switch.execute,
}
READ_ONLY = "read-only mode: every action is off"
MAX_INIT_LOGS = 4  # init containers whose logs a fix reads (two requests each)


class ActionService:
    def __init__(
        self,
        cluster: Cluster,
        *,
        read_only: bool = False,
        audit: AuditLog | None = None,
        verifications: VerificationStore | None = None,
    ) -> None:
        self.cluster = cluster
        self.kube = KubeGateway(cluster)
        self.read_only = read_only
        self.audit = audit or AuditLog()
        self.access = AccessChecker(self.kube)
        self.verifications = verifications or VerificationStore()
        # What a fix's look saw through a helper pod, for the eviction planned right after.
        self.sightings = CacheSightings()
        # Told of every verify outcome (pod name, result): e.g. the live feed's
        # ``record_verification``, so a mismatch shows the pod as corrupt at once.
        self.verification_listeners: list[Callable[[str, VerificationResult], None]] = []

    # -- permissions ------------------------------------------------------------------------

    def forbidden(self, action_id: str, namespace: str | None = None) -> str | None:
        """None when allowed, else what is missing (SelfSubjectAccessReview)."""
        if self.read_only:
            return READ_ONLY
        ns = namespace or self.cluster.namespace
        return forbidden_reason(self.access.missing(registry.spec(action_id).permissions(ns)))

    def permissions(self, namespace: str | None = None) -> dict[str, str | None]:
        return {s.id: self.forbidden(s.id, namespace) for s in registry.SPECS}

    # -- planning ---------------------------------------------------------------------------

    def plan(
        self, action_id: str, snapshot: ClusterSnapshot, target: str | None, options: Options
    ) -> ActionPlan:
        """Read what the plan needs (read-only), then build it. Never raises for bad input."""
        # The kept verify results, even when the caller's snapshot predates the last verify:
        # purge must see that a model was just verified as matching.
        snapshot = self.verifications.apply(snapshot)
        ns = snapshot.namespace
        try:
            if action_id == registry.PREWARM:
                name = prewarm.prewarm_deployment(snapshot, target)
                return prewarm.plan_prewarm(snapshot, target, options, self._deployment(ns, name))
            if action_id == registry.SWITCH:
                api = self._deployment(ns, options.api_server)
                return switch.plan_switch(snapshot, target, options, api)
            if action_id in (registry.RESTART_POD, registry.ROLLOUT_RESTART):
                opts = dataclasses.replace(
                    options, rollout=options.rollout or action_id == registry.ROLLOUT_RESTART
                )
                return restart.plan_restart(snapshot, target, opts)
            pod = self._target_pod(snapshot, target)
            obj = self.kube.pod_object(ns, pod.name) if pod is not None else None
            facts = PodFacts.from_object(obj, pod.cache_volume) if pod is not None and obj else None
            if action_id == registry.VERIFY:
                return verify.plan_verify(snapshot, target, options, facts)
            if action_id == registry.PURGE:
                plan = purge.plan_purge(snapshot, target, options, facts)
                if pod is None or not plan.runnable or options.path is not None:
                    return plan
                # The model failed its checksum right after it was downloaded: say that a new
                # download will most likely fail the same way (as fix does); a log did report
                # the mismatch, so not "not known to be corrupt".
                said = fix.purge_warnings(snapshot, pod, self._recent_logs(ns, pod, obj))
                rest = tuple(w for w in plan.warnings if not said or w != purge.NOT_KNOWN_CORRUPT)
                return dataclasses.replace(plan, warnings=(*said, *rest))
            if action_id == registry.FIX:
                cache = None
                log = self._recent_logs(ns, pod, obj) if pod is not None else ()
                d = fix.diagnose(snapshot, pod, log) if pod is not None else None
                # A volume too small for the model needs no look inside: only growing helps.
                if (
                    pod is not None
                    and d is not None
                    and d.kind == fix.DISK_FULL
                    and not fix.volume_too_small(snapshot, pod, d.why)
                ):
                    cache = self.cache_facts(snapshot, pod, options, facts)
                    if cache is None:
                        cache = self.seen_cache(ns, pod)
                expands = self._expands(snapshot, pod) if d and d.kind == fix.DISK_FULL else None
                elsewhere = d is not None and d.kind in (fix.NODE_LOST, fix.NODE_NOT_READY)
                ready_nodes = self.kube.ready_nodes() if elsewhere else None
                plan = fix.plan_fix(
                    snapshot, target, options, facts, cache, log, d, expands, ready_nodes
                )
                if plan.looks_only and self.read_only:
                    # Even a look creates a pod: read-only mode refuses it at once.
                    plan = dataclasses.replace(
                        plan, refused=f"{READ_ONLY} (looking at the cache needs a helper pod)."
                    )
                return plan
        except (TargetError, ActionFailed, PathRefused) as exc:
            from actions.common import refused

            return refused(action_id, target or "no target", ns, str(exc))
        raise KeyError(f"no action with id {action_id!r}")

    def _expands(self, snapshot: ClusterSnapshot, pod: PodInfo | None) -> bool | None:
        """Whether the pod's cache claim may grow (its StorageClass's allowVolumeExpansion)."""
        vol = snapshot.claim_of(pod) if pod is not None else None
        if vol is None or not vol.storage_class:
            return None
        return self.kube.volume_expansion(vol.storage_class)

    def _target_pod(self, snapshot: ClusterSnapshot, target: str | None) -> PodInfo | None:
        try:
            t = parse_target(snapshot, target)
        except TargetError:
            return None
        return snapshot.pod(t.name) if t.kind == "pod" else None

    def _recent_logs(
        self, namespace: str, pod: PodInfo, obj: Mapping[str, Any] | None
    ) -> tuple[evidence.ContainerLog, ...]:
        """The last lines of the unfinished init containers (the init-container strategy
        downloads there) and of the cache container, each with its previous run's, apart.

        While a container tries again after a failure, its current run has said nothing of it
        yet (and while an init container does, the main container has not started): only the
        previous run says why. One that completed is skipped: its earlier failures are history.
        ``obj``, the pod as read just now, says how many restarts and how the last run ended."""
        names = [c.name for c in pod.containers if c.init and not _completed(c)][:MAX_INIT_LOGS]
        main = cache_container(pod)
        if main is not None:
            names.append(main)
        runs = container_runs(obj) if obj else {}
        infos = {c.name: c for c in pod.containers}
        logs = []
        for container in names:
            info, run = infos.get(container), runs.get(container)
            previous = self._log_tail(namespace, pod, container, previous=True)
            current = self._log_tail(namespace, pod, container, previous=False)
            # While a container waits out its back-off, the kubelet answers the plain log and
            # ``previous`` alike from the instance that just crashed: that run is the latest
            # attempt, not two runs. (Unless a new instance started between the reads: then
            # the texts differ, and the new one is the current run.)
            between_runs = run is not None and run.started_at is None and run.exited is not None
            if between_runs and previous == current:
                previous = ""
            logs.append(
                evidence.ContainerLog(
                    container,
                    previous=previous,
                    current=current,
                    restarts=run.restarts if run else info.restarts if info else 0,
                    init=info.init if info else False,
                    exited=run.exited if run else None,
                )
            )
        return tuple(logs)

    def _log_tail(self, namespace: str, pod: PodInfo, container: str, previous: bool) -> str:
        """One run's last lines, redacted; '' when there is none (or it cannot be read)."""
        with contextlib.suppress(ActionFailed):
            return redact_text(self.kube.log_tail(namespace, pod.name, container, 40, previous))
        return ""

    def _deployment(self, namespace: str, name: str) -> DeploymentFacts | None:
        obj = self.kube.deployment(namespace, name)
        return DeploymentFacts.from_object(obj) if obj else None

    def cache_facts(
        self, snapshot: ClusterSnapshot, pod: PodInfo, options: Options, facts: PodFacts | None
    ) -> CacheFacts | None:
        """Read the cache manifest and free space in a running pod that sees the cache.

        Planning only reads: it never starts a helper pod, even one that only looks (a plan
        that is cancelled must leave the cluster as it was). None when no running pod sees
        the cache at the same paths; the fix then looks first, as a step of its own.
        """
        try:
            location = model_location(pod.model)
        except PathRefused:
            return None
        host = self._reader(snapshot, pod, options, location.root)
        if host is None:
            return None
        ctx = ActionContext(self.kube)
        steps = listing_steps(host.pod, snapshot.namespace, host.container, location.root)
        where = f"read in pod {host.pod}, which shares the volume" if host.pod != pod.name else ""
        return read_listing(self.kube, steps, location.root, timeout=ctx.exec_timeout, where=where)

    def seen_cache(self, namespace: str, pod: PodInfo) -> CacheFacts | None:
        """What a look through a helper pod saw of ``pod``'s cache a moment ago, if anything."""
        try:
            root = model_location(pod.model).root
        except PathRefused:
            return None
        if pod.cache_kind != "pvc" or not pod.cache_claim:
            return None
        return self.sightings.get(namespace, pod.cache_claim, root)

    @staticmethod
    def _reader(
        snapshot: ClusterSnapshot, pod: PodInfo, options: Options, root: str
    ) -> ExecHost | None:
        """A running container that sees ``root`` of ``pod``'s cache: the pod, a sibling, or
        any pod on the same volume with the same cache root (never a helper pod)."""
        others = dataclasses.replace(options, container=None)
        candidates = [(pod, options)] + [
            (o, others) for o in pods_sharing_cache(snapshot, pod) if o.name != pod.name
        ]
        for candidate, opts in candidates:
            try:
                if candidate is not pod and model_location(candidate.model).root != root:
                    continue
                # Without the pod's facts, exec_host never falls back to a helper pod.
                host = exec_host(snapshot, candidate, opts, None)
            except (PathRefused, NoExecHost):
                continue
            if not host.helper:
                return host
        return None

    # -- executing --------------------------------------------------------------------------

    def execute(self, plan: ActionPlan, ctx: ActionContext) -> ActionResult:
        """Run a confirmed plan; every outcome, including refusals, comes back as a result."""
        if self.read_only:
            return ActionResult(plan, False, f"Not run: {READ_ONLY}.", details={"refused": True})
        if plan.refused:
            return ActionResult(plan, False, plan.refusal, details={"refused": True})
        missing = self.access.missing(plan.permissions)
        if missing:
            why = forbidden_reason(missing)
            return ActionResult(
                plan,
                False,
                f"Forbidden: {why}.",
                details={"forbidden": [p.describe() for p in missing]},
            )
        started = time.time()
        try:
            result = EXECUTORS[plan.action](plan, ctx)
        except PathRefused as exc:
            result = ActionResult(
                plan, False, f"Refused: {exc}", dry_run=ctx.dry_run, details={"refused": True}
            )
        except ActionFailed as exc:
            result = ActionResult(plan, False, str(exc), dry_run=ctx.dry_run)
        except Cancelled:
            result = ActionResult(
                plan, False, "Cancelled.", dry_run=ctx.dry_run, details={"cancelled": True}
            )
        if plan.action == registry.VERIFY and not ctx.dry_run:
            self._keep_verification(plan, result)
        if plan.action == registry.FIX and not ctx.dry_run:
            self._keep_sighting(plan, result)
        if ctx.dry_run:
            return result  # nothing changed: no Event, no audit line
        return self._record(result, started)

    def _keep_verification(self, plan: ActionPlan, result: ActionResult) -> None:
        data = result.details.get("verification")
        if not isinstance(data, Mapping):
            return
        name = plan.target.partition("/")[2]
        verification = VerificationResult(**dict(data))
        pod = self.kube.pod_object(plan.namespace, name)
        uid = ((pod or {}).get("metadata") or {}).get("uid")
        if uid:
            self.verifications.put(str(uid), verification)
        for listener in list(self.verification_listeners):
            with contextlib.suppress(Exception):
                listener(name, verification)

    def _keep_sighting(self, plan: ActionPlan, result: ActionResult) -> None:
        """Keep what a look saw for the eviction planned next; any other fix that ran may have
        removed files, so what was seen in its namespace is forgotten."""
        seen = result.details.get("cache_seen")
        claim = result.details.get("claim")
        if plan.decision == fix.LOOK and result.ok and isinstance(seen, Mapping) and claim:
            self.sightings.put(plan.namespace, str(claim), CacheFacts.from_record(seen))
        elif plan.decision != fix.LOOK and plan.steps:
            self.sightings.forget(plan.namespace)

    def who(self) -> dict[str, Any]:
        return {"kube_user": self.cluster.user, "os_user": os_user()}

    def _record(self, result: ActionResult, started: float) -> ActionResult:
        plan = result.plan
        who = self.who()
        event_name: str | None = None
        details = dict(result.details)
        kind, _, name = plan.target.partition("/")
        uid = None
        try:
            obj = (
                self.kube.pod_object(plan.namespace, name)
                if kind == "pod"
                else self.kube.deployment(plan.namespace, name)
                if kind == "deployment"
                else None
            )
            uid = ((obj or {}).get("metadata") or {}).get("uid")
        except ActionFailed:
            uid = None
        body = event_body(result, str(who.get("kube_user") or who["os_user"]), time.time(), uid)
        try:
            created = self.kube.create_event(plan.namespace, body)
            event_name = (created.get("metadata") or {}).get("name") or body["metadata"]["name"]
            details["event"] = event_name
        except ActionFailed as exc:
            details["event_error"] = str(exc)
        try:
            self.audit.write(
                who=who,
                context=self.cluster.context,
                namespace=plan.namespace,
                server=self.cluster.server,
                result=dataclasses.replace(result, details=details),
                started=started,
                event=event_name,
            )
            details["audit_log"] = str(self.audit.path)
        except OSError as exc:
            details["audit_error"] = f"could not write the audit log {self.audit.path}: {exc}"
        return dataclasses.replace(result, details=details)


def container_for(pod: PodInfo) -> str | None:
    return cache_container(pod)


def _completed(container: ContainerInfo) -> bool:
    return container.state == "terminated" and container.exit_code == 0
