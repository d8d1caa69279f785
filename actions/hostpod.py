"""Bringing a helper pod up before exec steps and always taking it down after them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from actions.common import ExecHost
from actions.context import ActionContext, ActionFailed
from actions.follow import pod_state
from actions.plan import ApiCall

T = TypeVar("T")
HELPER_START_TIMEOUT = 120.0


def with_host(ctx: ActionContext, host: ExecHost, work: Callable[[], T]) -> T:
    """Run ``work`` with the helper pod (if any) running; delete the helper afterwards."""
    if not host.helper:
        return work()
    create = next(s for s in host.setup if s.verb == "create")
    try:
        ctx.kube.call(create)
        _wait_running(ctx, create)
        return work()
    finally:
        for call in host.teardown:
            try:
                ctx.kube.call(call)
            except ActionFailed as exc:
                ctx.say(f"could not remove helper pod {call.name}: {exc}")


def _wait_running(ctx: ActionContext, create: ApiCall) -> None:
    assert create.name
    deadline = time.monotonic() + min(ctx.timeout, HELPER_START_TIMEOUT)
    while True:
        pod = ctx.kube.pod_object(create.namespace, create.name)
        phase = ((pod or {}).get("status") or {}).get("phase")
        statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or ()
        if phase == "Running" and any((c.get("state") or {}).get("running") for c in statuses):
            return
        if phase in ("Failed", "Succeeded"):
            raise ActionFailed(f"Helper pod {create.name} ended ({phase}) before it could be used.")
        if time.monotonic() > deadline:
            state = pod_state(pod) if pod else "not created"
            raise ActionFailed(
                f"Helper pod {create.name} was not running after {HELPER_START_TIMEOUT:.0f} s "
                f"({state})."
            )
        ctx.say(f"waiting for helper pod {create.name}: {pod_state(pod) if pod else 'creating'}")
        ctx.wait()
