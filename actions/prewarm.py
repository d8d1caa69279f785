"""Pre-warm: a Job (and with ``--schedule`` a CronJob) that downloads the model before scaling.

The Job mounts the volume the Deployment keeps its model on, at the same path, and runs the
bundled downloader image with the Deployment's own ``MODEL_*`` environment (kept verbatim, so
values from Secrets stay references), with the version, URL and checksum optionally overridden.
Its progress is read from the Job pod's JSON log lines until it completes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actions import registry
from actions.baked import no_volume
from actions.common import dns_label, refused, short_id
from actions.context import ActionContext
from actions.follow import follow_job
from actions.options import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ActionOptions,
    ContainerFacts,
    DeploymentFacts,
)
from actions.paths import DEFAULT_CACHE_DIR, PathRefused, check_component, check_directory
from actions.plan import ActionPlan, ActionResult, ApiCall
from actions.targets import TargetError, parse_target
from collectors.model import ClusterSnapshot, ModelState
from collectors.redact import redact_url

DEFAULT_DEPLOYMENT = "lightning-asr"
ACTION_LABEL = "asr-cache-tui/action"
VERSION_LABEL = "asr-cache-tui/model-version"
RELEASE_LABEL = "asr-cache-tui/release"
JOB_TTL = 24 * 3600
_CHECKSUM = re.compile(r"^sha256:[0-9a-fA-F]{64}$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")


def prewarm_deployment(snapshot: ClusterSnapshot, target: str | None) -> str:
    """The Deployment a pre-warm is for: the target, a pod's release, else lightning-asr."""
    if not target:
        return DEFAULT_DEPLOYMENT
    t = parse_target(snapshot, target, default_kind="deployment")
    if t.kind == "pod":
        pod = snapshot.pod(t.name)
        if pod is None or not pod.release:
            raise TargetError(f"Pod {t.name} belongs to no Deployment to pre-warm for.")
        return pod.release
    return t.name


def check_schedule(schedule: str) -> str:
    fields = schedule.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ValueError(
            f"The schedule {schedule!r} is not a 5-field cron expression like '0 8 * * *'."
        )
    return " ".join(fields)


def plan_prewarm(
    snapshot: ClusterSnapshot,
    target: str | None,
    options: ActionOptions,
    deployment: DeploymentFacts | None = None,
) -> ActionPlan:
    ns = snapshot.namespace
    try:
        name = prewarm_deployment(snapshot, target)
    except TargetError as exc:
        return refused(registry.PREWARM, target or "no target", ns, str(exc))
    where = f"deployment/{name}"
    if deployment is None:
        return refused(
            registry.PREWARM, where, ns, f"Deployment {name!r} is not in namespace {ns!r}."
        )
    try:
        built = build_objects(snapshot, deployment, options)
    except (ValueError, PathRefused) as exc:
        return refused(registry.PREWARM, where, ns, str(exc))
    job, cron, described = built.job, built.cron, built.described
    job_name = job["metadata"]["name"]
    steps = [
        ApiCall(
            "create", "jobs", ns, job_name, group="batch", body=job, note="download the model now"
        )
    ]
    if cron is not None:
        steps.append(
            ApiCall(
                "create",
                "cronjobs",
                ns,
                cron["metadata"]["name"],
                group="batch",
                body=cron,
                note=f"and again on schedule {options.schedule}",
            )
        )
    if options.follow:
        steps.append(
            ApiCall(
                "get",
                "jobs",
                ns,
                job_name,
                group="batch",
                note="follow the Job to completion, progress from its log",
            )
        )
    spec = registry.spec(registry.PREWARM)
    perms = spec.permissions(ns)
    if cron is not None:
        perms += (registry.permission(registry.CRONJOB_CREATE, ns),)
    return ActionPlan(
        action=registry.PREWARM,
        title=f"Pre-warm the model of {name}"
        + (f" (and schedule {options.schedule})" if cron else ""),
        target=where,
        namespace=ns,
        steps=tuple(steps),
        summary=described,
        warnings=_already_served(snapshot, built.claim, built.version),
        # It creates a Job (and a CronJob) that writes the model into the shared cache.
        destructive=True,
        way_back=_way_back(ns, job_name, cron),
        permissions=perms,
    )


def _way_back(ns: str, job_name: str, cron: dict[str, Any] | None) -> str:
    """How to take the pre-warm back; the model it wrote stays cached (pods use it)."""
    objects = f"job/{job_name}" + (f" cronjob/{cron['metadata']['name']}" if cron else "")
    return f"kubectl -n {ns} delete {objects} (a model it wrote stays in the cache)"


def _model_container(deployment: DeploymentFacts) -> ContainerFacts:
    for c in deployment.containers:
        if any(str(e.get("name", "")) == "MODEL_URL" for e in c.env):
            return c
    for c in deployment.containers:
        if any(str(e.get("name", "")).startswith("MODEL_") for e in c.env):
            return c
    if not deployment.containers:
        raise ValueError(f"Deployment {deployment.name} has no containers.")
    return deployment.containers[0]


def _literal(env: list[dict[str, Any]], name: str) -> str | None:
    for e in env:
        if e.get("name") == name:
            return str(e["value"]) if "value" in e else None
    return None


def _set(env: list[dict[str, Any]], name: str, value: str) -> None:
    for e in env:
        if e.get("name") == name:
            e.clear()
            e.update({"name": name, "value": value})
            return
    env.append({"name": name, "value": value})


@dataclass(frozen=True)
class PrewarmObjects:
    job: dict[str, Any]
    cron: dict[str, Any] | None  # with a schedule
    described: str  # a sentence for the plan's summary
    claim: str  # the PVC it downloads into
    version: str  # MODEL_VERSION, or "model"


def _already_served(snapshot: ClusterSnapshot, claim: str, version: str) -> tuple[str, ...]:
    """A pre-warm of a model that Ready pods already load from the claim is harmless (the Job
    finds it verified and ends at once) but likely not what was meant: say so."""
    serving = sorted(
        p.name
        for p in snapshot.pods
        if p.cache_claim == claim
        and p.ready
        and p.model_state is ModelState.READY
        and (p.model.version or "model") == version
    )
    if not serving:
        return ()
    who = ", ".join(serving[:3]) + (f" and {len(serving) - 3} more" if len(serving) > 3 else "")
    return (
        f"Version {version} is already on PVC {claim}: Ready pods load it ({who}). The Job "
        "will find it verified and end at once.",
    )


def build_objects(
    snapshot: ClusterSnapshot, deployment: DeploymentFacts, options: ActionOptions
) -> PrewarmObjects:
    """The Job, the CronJob (with a schedule), a sentence describing them, and where."""
    container = _model_container(deployment)
    env = [dict(e) for e in container.env if str(e.get("name", "")).startswith("MODEL_")]
    if options.version is not None:
        check_component(options.version, "model version")
        _set(env, "MODEL_VERSION", options.version)
        env = [e for e in env if e.get("name") != "MODEL_PATH"]  # it names the old version's file
    if options.url is not None:
        if not re.match(r"^(https?|file)://", options.url):
            raise ValueError(
                f"The model URL {redact_url(options.url)!r} is not http(s):// or file://."
            )
        _set(env, "MODEL_URL", options.url)
    if options.checksum is not None:
        if not _CHECKSUM.match(options.checksum):
            raise ValueError(f"The checksum {options.checksum!r} is not sha256:<64 hex digits>.")
        _set(env, "MODEL_CHECKSUM", options.checksum)
    if not any(e.get("name") == "MODEL_URL" for e in env):
        raise ValueError(
            f"Deployment {deployment.name} sets no MODEL_URL, so a Job would not know what to "
            "download: give --url."
        )
    cache_dir = check_directory(_literal(env, "MODEL_CACHE_DIR") or DEFAULT_CACHE_DIR)
    mount, volume = _cache_mount(deployment, container, cache_dir)
    claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
    if not claim:
        kind = next((k for k in volume if k != "name"), "unknown")
        raise ValueError(
            f"Deployment {deployment.name} keeps {cache_dir} on a {kind} volume, which a Job "
            "cannot share: pre-warming needs a PersistentVolumeClaim."
        )
    version = _literal(env, "MODEL_VERSION") or "model"
    short = short_id(deployment.uid, version, _literal(env, "MODEL_URL"), snapshot.taken_at)
    job_name = dns_label(f"model-preload-{version}", 63 - 6) + f"-{short}"
    labels = {
        MANAGED_BY_LABEL: MANAGED_BY,
        ACTION_LABEL: "prewarm",
        RELEASE_LABEL: dns_label(deployment.name),
        VERSION_LABEL: dns_label(version),
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [
            {
                "name": "downloader",
                "image": options.image,
                "command": ["asr-cache-download"],
                "args": ["--progress", "json"],
                "env": env,
                "volumeMounts": [
                    {
                        k: mount[k]
                        for k in ("name", "mountPath", "subPath", "subPathExpr")
                        if k in mount
                    }
                ],
            }
        ],
        "volumes": [dict(volume)],
    }
    if container.env_from:
        pod_spec["containers"][0]["envFrom"] = [dict(e) for e in container.env_from]
    if deployment.node_selector:
        pod_spec["nodeSelector"] = dict(deployment.node_selector)
    if deployment.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in deployment.tolerations]
    if deployment.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [dict(s) for s in deployment.image_pull_secrets]
    if deployment.service_account:
        pod_spec["serviceAccountName"] = deployment.service_account
    job_spec = {
        "backoffLimit": 3,
        "ttlSecondsAfterFinished": JOB_TTL,
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
    }
    ns = snapshot.namespace
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name, "namespace": ns, "labels": dict(labels)},
        "spec": job_spec,
    }
    cron = None
    if options.schedule:
        schedule = check_schedule(options.schedule)
        cron = {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {
                "name": dns_label(f"model-preload-{version}", 52),
                "namespace": ns,
                "labels": dict(labels),
            },
            "spec": {
                "schedule": schedule,
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 1,
                "failedJobsHistoryLimit": 1,
                "jobTemplate": {"metadata": {"labels": dict(labels)}, "spec": job_spec},
            },
        }
    url = _literal(env, "MODEL_URL")
    described = (
        f"Download version {version} from "
        + (redact_url(url) if url else "MODEL_URL (from a Secret or ConfigMap)")
        + f" into {cache_dir} on PVC {claim} with image {options.image}, using "
        + f"{deployment.name}'s MODEL_* settings."
    )
    return PrewarmObjects(job, cron, described, claim, version)


def _cache_mount(
    deployment: DeploymentFacts, container: ContainerFacts, cache_dir: str
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The container's mount holding ``cache_dir`` (longest matching mountPath) and its volume."""
    best: Mapping[str, Any] | None = None
    for m in container.volume_mounts:
        path = str(m.get("mountPath", "")).rstrip("/") or "/"
        inside = cache_dir == path or cache_dir.startswith(path.rstrip("/") + "/")
        if inside and (best is None or len(path) > len(str(best.get("mountPath", "")))):
            best = m
    if best is None:
        where = no_volume(cache_dir, f"deployment {deployment.name}")
        raise ValueError(f"{where}: nothing to pre-warm.")
    volume = next((v for v in deployment.volumes if v.get("name") == best.get("name")), None)
    if volume is None:
        raise ValueError(
            f"Deployment {deployment.name} mounts an undefined volume {best.get('name')!r}."
        )
    return best, volume


def execute(plan: ActionPlan, ctx: ActionContext) -> ActionResult:
    creates = [s for s in plan.steps if isinstance(s, ApiCall) and s.verb == "create"]
    created = []
    for call in creates:
        ctx.kube.call(call, dry_run=ctx.dry_run)
        created.append(f"{call.resource}/{call.name}")
    details: dict[str, Any] = {"created": created}
    if ctx.dry_run:
        return ActionResult(
            plan,
            True,
            "Dry run: the API server accepted " + " and ".join(created) + ".",
            dry_run=True,
            details=details,
        )
    follow = next((s for s in plan.steps if isinstance(s, ApiCall) and s.verb == "get"), None)
    if follow is None or not follow.name:
        return ActionResult(plan, True, "Created " + " and ".join(created) + ".", details=details)
    outcome = follow_job(ctx, plan.namespace, follow.name)
    details.update(outcome.details)
    return ActionResult(
        plan,
        outcome.ok,
        "Created " + " and ".join(created) + ". " + outcome.message,
        details=details,
    )
