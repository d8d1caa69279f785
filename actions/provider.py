"""The dashboard's ActionProvider (``tui/actions_port.py``), backed by ``ActionService``.

Keys act on the selected pod; the provider turns that into each action's target (its
Deployment for a rollout restart and a pre-warm, the release not serving now for a switch).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from actions import registry
from actions.context import ActionContext
from actions.options import ActionOptions
from actions.plan import ActionPlan, ActionResult
from actions.service import ActionService
from collectors.model import ClusterSnapshot


class ServiceActionProvider:
    """Satisfies ``tui.actions_port.ActionProvider``; every method may block (call from threads)."""

    def __init__(self, service: ActionService, options: ActionOptions | None = None) -> None:
        self.service = service
        self.options = options or ActionOptions()

    def permissions(self) -> Mapping[str, str | None]:
        return self.service.permissions()

    def plan(self, action_id: str, snapshot: ClusterSnapshot, pod_name: str | None) -> ActionPlan:
        target = self.target_for(action_id, snapshot, pod_name)
        return self.service.plan(action_id, snapshot, target, self.options)

    def execute(
        self,
        plan: ActionPlan,
        progress: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ActionResult:
        ctx = ActionContext(
            self.service.kube,
            cancel=cancel or threading.Event(),
            progress=progress or (lambda _line: None),
            timeout=self.options.timeout,
        )
        return self.service.execute(plan, ctx)

    def with_verifications(self, snapshot: ClusterSnapshot) -> ClusterSnapshot:
        """The snapshot with kept verify results filled in (for the pods table)."""
        return self.service.verifications.apply(snapshot)

    @staticmethod
    def target_for(action_id: str, snapshot: ClusterSnapshot, pod_name: str | None) -> str | None:
        pod = snapshot.pod(pod_name) if pod_name else None
        if action_id == registry.ROLLOUT_RESTART:
            return f"deployment/{pod.release}" if pod and pod.release else pod_name
        if action_id == registry.PREWARM:
            return f"deployment/{pod.release}" if pod and pod.release else None
        if action_id == registry.SWITCH:
            if pod is not None and pod.release and not _serving(snapshot, pod.release):
                return f"deployment/{pod.release}"
            idle = [r.name for r in snapshot.rollouts if r.serving is False]
            return f"deployment/{idle[0]}" if idle else None
        return pod_name


def _serving(snapshot: ClusterSnapshot, release: str) -> bool:
    return any(r.name == release and r.serving for r in snapshot.rollouts)
