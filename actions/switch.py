"""Blue-green switch: point the api-server's LIGHTNING_ASR_BASE_URL at another release.

Refused unless the release is fully rolled out and Ready and its model is verified (a kept
verify result, or pods Ready with MODEL_CHECKSUM set, which the downloader checked before the
file was put in place). The patch is a strategic merge on the container's env (merged by name)
that also records the previous URL in an annotation, so ``switch --back`` knows the way back.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from actions import registry
from actions.common import refused
from actions.context import ActionContext
from actions.follow import follow_rollout
from actions.options import (
    BASE_URL_ENV,
    DEFAULT_ASR_PORT,
    PREVIOUS_URL_ANNOTATION,
    ActionOptions,
    DeploymentFacts,
)
from actions.plan import ActionPlan, ActionResult, ApiCall
from actions.targets import TargetError, find_rollout, parse_target, release_pods
from collectors.model import ClusterSnapshot, ModelState
from collectors.redact import redact_url


def release_url(release: str, port: int = DEFAULT_ASR_PORT) -> str:
    return f"http://{release}:{port}"


def release_of_url(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def readiness(snapshot: ClusterSnapshot, release: str) -> str | None:
    """None when ``release`` may take traffic, else why not (one sentence)."""
    rollout = find_rollout(snapshot, release)
    if rollout is None:
        return f"Deployment {release!r} is not in namespace {snapshot.namespace!r}."
    if rollout.desired <= 0:
        return f"Deployment {release} is scaled to zero."
    pods = release_pods(snapshot, release)
    downloading = [
        p.name
        for p in pods
        if p.model_state
        in (
            ModelState.DOWNLOADING,
            ModelState.WAITING,
            ModelState.VERIFYING,
            ModelState.STALLED,
            ModelState.PENDING,
        )
    ]
    if downloading:
        return (
            f"{release} is not ready: {len(downloading)} pod(s) still getting the model "
            f"({', '.join(sorted(downloading)[:3])})."
        )
    stuck = [p for p in pods if p.model_state is ModelState.BLOCKED]
    if stuck:
        names = ", ".join(sorted(p.name for p in stuck)[:3])
        cause = stuck[0].blocker.gist if stuck[0].blocker else "see the pod"
        return f"{release} has pods that cannot start: {names} ({cause})."
    bad = [p.name for p in pods if p.model_state in (ModelState.CORRUPT, ModelState.FAILED)]
    if bad:
        return f"{release} has pods with a failed or corrupt model: {', '.join(sorted(bad)[:3])}."
    if rollout.ready < rollout.desired or rollout.updated < rollout.desired:
        return (
            f"{release} is not ready: {rollout.ready}/{rollout.desired} pods Ready, "
            f"{rollout.updated}/{rollout.desired} updated."
        )
    failed = [p.name for p in pods if p.verification is not None and not p.verification.ok]
    if failed:
        return f"The model of {release} failed verification in {', '.join(sorted(failed)[:3])}."
    if any(p.verification is not None and p.verification.ok for p in pods):
        return None
    if pods and all(p.ready and p.model.checksum for p in pods):
        return None
    return (
        f"The model of {release} is not verified: run verify on one of its pods first "
        "(its pods set no MODEL_CHECKSUM the downloader could check)."
    )


def no_second_release(snapshot: ClusterSnapshot, api_name: str) -> str:
    """Why there is nothing to switch to, when no release was named and none stands idle."""
    ns = snapshot.namespace
    live = [r.name for r in snapshot.rollouts if r.serving]
    text = (
        f"There is no second release to switch to in namespace {ns}: blue-green needs two "
        "lightning-asr Deployments (e.g. lightning-asr and lightning-asr-v2), one serving "
        f"through {api_name}'s {BASE_URL_ENV} and one idle"
    )
    if live:
        text += f"; {' and '.join(live)} serves now and no other release stands idle"
    return text + "."


def plan_switch(
    snapshot: ClusterSnapshot,
    target: str | None,
    options: ActionOptions,
    api_server: DeploymentFacts | None = None,
) -> ActionPlan:
    ns = snapshot.namespace
    api_name = options.api_server
    where = f"deployment/{api_name}"
    if api_server is None:
        return refused(
            registry.SWITCH,
            where,
            ns,
            f"The api-server Deployment {api_name!r} is not in namespace {ns!r}.",
        )
    found = api_server.env_value(BASE_URL_ENV)
    if found is None:
        how = (
            "from a ConfigMap or Secret"
            if any(e.get("name") == BASE_URL_ENV for c in api_server.containers for e in c.env)
            else "not at all"
        )
        return refused(
            registry.SWITCH,
            where,
            ns,
            f"Deployment {api_name} sets {BASE_URL_ENV} {how} in its container env; switch it "
            "where it is defined.",
        )
    container, current = found
    warnings: list[str] = []
    if options.back:
        previous = api_server.annotations.get(PREVIOUS_URL_ANNOTATION)
        if not previous:
            return refused(
                registry.SWITCH,
                where,
                ns,
                f"No previous URL is recorded on {api_name} ({PREVIOUS_URL_ANNOTATION}): "
                "there is no switch to go back from.",
            )
        new_url = previous
        release = release_of_url(new_url) or new_url
        why = readiness(snapshot, release) if find_rollout(snapshot, release) else None
        if why:
            warnings.append(f"going back anyway: {why}")
    else:
        if target is None or not target.strip():
            return refused(registry.SWITCH, where, ns, no_second_release(snapshot, api_name))
        try:
            t = parse_target(snapshot, target, default_kind="deployment")
        except TargetError as exc:
            return refused(registry.SWITCH, where, ns, str(exc))
        release = t.name
        if t.kind == "pod":
            pod = snapshot.pod(t.name)
            release = pod.release if pod and pod.release else t.name
        why = readiness(snapshot, release)
        if why:
            return refused(registry.SWITCH, where, ns, why)  # it names the release
        new_url = options.switch_url or release_url(release)
    if new_url == current:
        return refused(
            registry.SWITCH, where, ns, f"{api_name} already points at {redact_url(current)}."
        )
    body = {
        "metadata": {"annotations": {PREVIOUS_URL_ANNOTATION: current}},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": container, "env": [{"name": BASE_URL_ENV, "value": new_url}]}
                    ]
                }
            }
        },
    }
    steps = [
        ApiCall(
            "patch",
            "deployments",
            ns,
            api_name,
            group="apps",
            body=body,
            note="strategic merge: env merged by name, previous URL kept",
        )
    ]
    if options.follow:
        steps.append(
            ApiCall(
                "get",
                "deployments",
                ns,
                api_name,
                group="apps",
                note="follow the api-server rollout until Ready",
            )
        )
    spec = registry.spec(registry.SWITCH)
    return ActionPlan(
        action=registry.SWITCH,
        title=f"Switch {api_name} to {release}" + (" (back)" if options.back else ""),
        target=where,
        namespace=ns,
        steps=tuple(steps),
        summary=(
            f"{BASE_URL_ENV}: {redact_url(current)} -> {redact_url(new_url)} in container "
            f"{container}. Way back: asr-cache-tui switch --back."
        ),
        destructive=True,
        way_back="asr-cache-tui switch --back",
        warnings=tuple(warnings),
        permissions=spec.permissions(ns),
        affected_pods=tuple(p.name for p in release_pods(snapshot, api_name)),
    )


def execute(plan: ActionPlan, ctx: ActionContext) -> ActionResult:
    patch = plan.steps[0]
    assert isinstance(patch, ApiCall) and patch.name and patch.body is not None
    previous = patch.body["metadata"]["annotations"][PREVIOUS_URL_ANNOTATION]
    new_url = patch.body["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"]
    obj = ctx.kube.call(patch, dry_run=ctx.dry_run)
    details = {
        "previous_url": redact_url(previous),
        "url": redact_url(new_url),
        "back": "asr-cache-tui switch --back",
    }
    if ctx.dry_run:
        return ActionResult(
            plan,
            True,
            f"Dry run: the API server accepted pointing {patch.name} at {redact_url(new_url)}.",
            dry_run=True,
            details=details,
        )
    message = (
        f"{patch.name} now points at {redact_url(new_url)} (was {redact_url(previous)}; "
        "way back: asr-cache-tui switch --back)."
    )
    if len(plan.steps) < 2:
        return ActionResult(plan, True, message, details=details)
    generation = int((obj.get("metadata") or {}).get("generation") or 0)
    outcome = follow_rollout(ctx, plan.namespace, patch.name, generation)
    details.update(outcome.details)
    return ActionResult(plan, outcome.ok, f"{message} {outcome.message}", details=details)
