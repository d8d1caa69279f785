"""Verify checksum: hash the model file in a pod that sees it and compare with MODEL_CHECKSUM.

The bundled downloader's ``verify`` is tried first (it reports progress as JSON lines); an image
without it answers 127 and ``sha256sum`` runs instead. Hashing 25 GB takes minutes, so this runs
in the background with progress, honours cancel, and its ``VerificationResult`` is kept.
"""

from __future__ import annotations

import dataclasses
import re
import time

from actions import registry
from actions.common import ExecHost, NoExecHost, exec_host, refused
from actions.context import ActionContext, ActionFailed
from actions.hostpod import with_host
from actions.options import ActionOptions, PodFacts
from actions.paths import PathRefused, model_location
from actions.plan import ActionPlan, ActionResult, ExecStep, Step
from actions.progresslines import parse_line
from actions.targets import TargetError, target_pod
from collectors.model import ClusterSnapshot, VerificationResult

_CHECKSUM = re.compile(r"^sha256:([0-9a-fA-F]{64})$")
_HEX = re.compile(r"\b[0-9a-f]{64}\b")
NOT_FOUND = 127
USAGE = 2
MISMATCH = 5


def plan_verify(
    snapshot: ClusterSnapshot,
    target: str | None,
    options: ActionOptions,
    facts: PodFacts | None = None,
) -> ActionPlan:
    ns = snapshot.namespace
    try:
        pod = target_pod(snapshot, target, "Verify")
    except TargetError as exc:
        return refused(registry.VERIFY, target or "no target", ns, str(exc))
    where = f"pod/{pod.name}"
    checksum = pod.model.checksum
    if not checksum or not _CHECKSUM.match(checksum):
        return refused(
            registry.VERIFY,
            where,
            ns,
            f"Pod {pod.name} has no MODEL_CHECKSUM of the form sha256:<64 hex>, so there is "
            "nothing to compare the file with.",
        )
    try:
        location = model_location(pod.model)
        host = exec_host(snapshot, pod, options, facts)
    except (PathRefused, NoExecHost) as exc:
        return refused(registry.VERIFY, where, ns, str(exc))
    file = location.file
    steps: tuple[Step, ...] = (
        *host.setup,
        ExecStep(
            host.pod,
            ns,
            ("asr-cache-download", "verify", file, "--checksum", checksum, "--progress", "json"),
            host.container,
            note="the bundled downloader, when the image has it",
        ),
        ExecStep(
            host.pod,
            ns,
            ("sha256sum", file),
            host.container,
            note="otherwise (exit 127): plain sha256sum, no progress",
        ),
        *host.teardown,
    )
    spec = registry.spec(registry.VERIFY)
    return ActionPlan(
        action=registry.VERIFY,
        title=f"Verify the model of pod {pod.name}",
        target=where,
        namespace=ns,
        steps=steps,
        summary=f"Hash {file} and compare with {checksum}."
        + (f" ({host.note})" if host.note else ""),
        destructive=False,
        permissions=spec.permissions(ns) + host.permissions,
        affected_pods=(pod.name,),
    )


def execute(plan: ActionPlan, ctx: ActionContext) -> ActionResult:
    execs = [s for s in plan.steps if isinstance(s, ExecStep)]
    bundled, fallback = execs[0], execs[1]
    file = bundled.argv[2]
    expected = bundled.argv[4]
    if ctx.dry_run:
        return ActionResult(
            plan, True, f"Dry run: would hash {file} in pod {bundled.pod}.", dry_run=True
        )
    started = time.time()
    host = ExecHost.of_plan(plan)
    result = with_host(ctx, host, lambda: _hash(ctx, bundled, fallback, file, expected))
    verification = dataclasses.replace(result, checked_at=time.time())
    details = {
        "verification": dataclasses.asdict(verification),
        "seconds": round(time.time() - started, 3),
    }
    return ActionResult(plan, verification.ok, verification.message, details=details)


def _hash(
    ctx: ActionContext, bundled: ExecStep, fallback: ExecStep, file: str, expected: str
) -> VerificationResult:
    seen: dict[str, str] = {}

    def on_line(line: str) -> None:
        event = parse_line(line)
        if event is None:
            return
        if event.event == "verify":
            ctx.say(event.summary())
        if event.event in ("done", "error", "verify") and isinstance(event.data.get("sha256"), str):
            seen["sha256"] = event.data["sha256"]
        if event.event == "error":
            seen["error"] = str(event.data.get("message") or "")

    ctx.say(f"hashing {file} with the bundled downloader")
    out = ctx.kube.exec(bundled, timeout=ctx.verify_timeout, on_line=on_line, cancel=ctx.cancel)
    if out.cancelled:
        raise ActionFailed(f"Verification of {file} cancelled.")
    if out.timed_out:
        raise ActionFailed(
            f"Verification of {file} did not finish within {ctx.verify_timeout:.0f} s."
        )
    want = expected.split(":", 1)[1].lower()
    if out.exit_code == 0:
        return _result(
            file, expected, seen.get("sha256") or want, True, "checksum matches MODEL_CHECKSUM"
        )
    if out.exit_code == MISMATCH:
        message = seen.get("error") or out.stderr.strip() or "checksum mismatch"
        got = next((h for h in _HEX.findall(message) if h != want), None)
        return _result(file, expected, got, False, f"checksum mismatch: {message}")
    if out.exit_code == USAGE and _missing(seen.get("error", "")):
        return _result(file, expected, None, False, _MISSING.format(file=file))
    if out.exit_code not in (NOT_FOUND, USAGE, None):
        message = seen.get("error") or out.stderr.strip()[:300] or f"exit {out.exit_code}"
        return _result(
            file, expected, None, False, f"the bundled downloader could not verify: {message}"
        )
    ctx.say(f"hashing {file} with sha256sum (no progress available)")
    out = ctx.kube.exec(fallback, timeout=ctx.verify_timeout, cancel=ctx.cancel)
    if out.cancelled:
        raise ActionFailed(f"Verification of {file} cancelled.")
    if out.timed_out:
        raise ActionFailed(
            f"Verification of {file} did not finish within {ctx.verify_timeout:.0f} s."
        )
    if out.exit_code != 0 and _missing(out.stderr):
        return _result(file, expected, None, False, _MISSING.format(file=file))
    if out.exit_code != 0:
        why = out.stderr.strip()[:300] or f"exit {out.exit_code}"
        return _result(file, expected, None, False, f"sha256sum failed: {why}")
    actual = out.stdout.split()[0].lower() if out.stdout.split() else ""
    if actual == want:
        return _result(file, expected, actual, True, "checksum matches MODEL_CHECKSUM (sha256sum)")
    return _result(
        file,
        expected,
        actual,
        False,
        f"checksum mismatch: expected {want}, got {actual or 'nothing'} (sha256sum)",
    )


# A downloader that found the cached copy wrong removes it; then there is nothing to hash.
_MISSING = "{file} does not exist: there is no model file to verify"


def _missing(message: str) -> bool:
    """The downloader's "does not exist", or sha256sum's "No such file or directory"."""
    return "does not exist" in message or "No such file or directory" in message


def _result(
    path: str, expected: str, actual: str | None, ok: bool, message: str
) -> VerificationResult:
    return VerificationResult(
        path=path, expected=expected, actual=actual, ok=ok, checked_at=time.time(), message=message
    )
