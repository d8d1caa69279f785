"""The record of what was done: a JSON line per executed action, and a Kubernetes Event.

The log lives in ``$XDG_STATE_HOME/asr-cache-tui/audit.log`` (default
``~/.local/state/asr-cache-tui/audit.log``), one object per line, written with one ``write`` on
an ``O_APPEND`` descriptor so concurrent runs never interleave. The Event goes on the target
object so the rest of the team sees it in ``kubectl describe``.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from actions.plan import ActionPlan, ActionResult
from collectors.redact import redact_text

COMPONENT = "asr-cache-tui"
REASONS = {
    "prewarm": "AsrCacheTuiPrewarm",
    "verify": "AsrCacheTuiVerify",
    "purge": "AsrCacheTuiPurge",
    "restart-pod": "AsrCacheTuiRestart",
    "rollout-restart": "AsrCacheTuiRolloutRestart",
    "fix": "AsrCacheTuiFix",
    "switch": "AsrCacheTuiSwitch",
}
_KINDS = {"pod": ("v1", "Pod"), "deployment": ("apps/v1", "Deployment")}
MAX_MESSAGE = 1000


def audit_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "state"
    return root / "asr-cache-tui" / "audit.log"


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def plan_record(plan: ActionPlan) -> dict[str, Any]:
    """The plan as the audit log and ``-o json`` show it (URLs redacted)."""
    return {
        "action": plan.action,
        "title": redact_text(plan.title),
        "target": plan.target,
        "namespace": plan.namespace,
        "decision": plan.decision or None,
        "summary": redact_text(plan.summary),
        "destructive": plan.destructive,
        "looks_only": plan.looks_only,
        "refused": plan.refused,
        "commands": [redact_text(c) for c in plan.commands],
        "warnings": [redact_text(w) for w in plan.warnings],
        "steps": [s.describe() for s in plan.steps],
        "permissions": [p.describe() for p in plan.permissions],
        "affected_pods": list(plan.affected_pods),
    }


def result_record(result: ActionResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "message": redact_text(result.message),
        "dry_run": result.dry_run,
        "replan": result.replan,
        "details": json.loads(redact_text(json.dumps(dict(result.details), default=str))),
    }


class AuditLog:
    """Appends one JSON line per executed action; safe from many threads and processes."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or audit_path()
        self._lock = threading.Lock()

    def write(
        self,
        *,
        who: Mapping[str, Any],
        context: str,
        namespace: str,
        server: str,
        result: ActionResult,
        started: float,
        event: str | None,
    ) -> dict[str, Any]:
        record = {
            "ts": rfc3339(time.time()),
            "started": rfc3339(started),
            "who": dict(who),
            "context": context,
            "namespace": namespace,
            "server": server,
            "action": result.plan.action,
            "target": result.plan.target,
            "plan": plan_record(result.plan),
            "outcome": result_record(result),
            "event": event,
        }
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        return record


def event_body(
    result: ActionResult, who: str, now: float, uid: str | None = None
) -> dict[str, Any]:
    """A core/v1 Event on the plan's target object, as kubectl describe shows it."""
    plan = result.plan
    kind, _, name = plan.target.partition("/")
    api_version, kind_name = _KINDS.get(kind, ("v1", kind.capitalize()))
    stamp = rfc3339(now).replace(".000Z", "Z")
    outcome = "done" if result.ok else "failed"
    message = redact_text(f"{plan.title} by {who}: {outcome}: {result.message}")[:MAX_MESSAGE]
    involved = {
        "apiVersion": api_version,
        "kind": kind_name,
        "name": name,
        "namespace": plan.namespace,
    }
    if uid:
        involved["uid"] = uid
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{name}.{time.time_ns():x}"[:253],
            "namespace": plan.namespace,
            "labels": {"app.kubernetes.io/managed-by": COMPONENT},
        },
        "involvedObject": involved,
        "reason": REASONS.get(plan.action, "AsrCacheTuiAction"),
        "message": message,
        "type": "Normal" if result.ok else "Warning",
        "source": {"component": COMPONENT, "host": socket.gethostname()[:63]},
        "reportingComponent": COMPONENT,
        "reportingInstance": socket.gethostname()[:128],
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
