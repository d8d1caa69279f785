"""The dashboard's port to the actions layer: what the TUI needs from whoever performs actions.

The TUI never builds Kubernetes calls itself. It asks an ``ActionProvider`` for a plan, shows
the plan for confirmation, and hands it back to be executed in a worker thread. The actions
package implements this protocol; tests use a small recording fake.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Protocol

from actions.plan import ActionPlan, ActionResult
from collectors.model import ClusterSnapshot

# The action ids the dashboard offers (the ``ActionPlan.action`` values, one per key).
PREWARM = "prewarm"
VERIFY = "verify"
PURGE = "purge"  # delete a corrupt model
RESTART_POD = "restart-pod"
ROLLOUT_RESTART = "rollout-restart"
FIX = "fix"  # fix the selected stalled download
SWITCH = "switch"  # blue-green switch

ACTION_IDS = (PREWARM, VERIFY, PURGE, RESTART_POD, ROLLOUT_RESTART, FIX, SWITCH)

ProgressCallback = Callable[[str], None]
"""Called from the executing thread with one short line (e.g. ``"hashing 42%"``)."""


class ActionProvider(Protocol):
    """Plans and executes actions. Every method may block: the TUI calls them from threads."""

    def permissions(self) -> Mapping[str, str | None]:
        """Per action id: ``None`` when allowed, else why it is forbidden, naming the missing
        verb and resource (e.g. ``"needs delete pods in smallest"``). Ids left out are allowed."""

    def plan(self, action_id: str, snapshot: ClusterSnapshot, pod_name: str | None) -> ActionPlan:
        """Build the plan for ``action_id`` on the selected pod (``None`` when nothing is
        selected). A plan that must not run comes back with ``refused`` set, not as an error."""

    def execute(
        self,
        plan: ActionPlan,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> ActionResult:
        """Run a confirmed plan to its end and report the outcome. ``progress`` may be called
        with short status lines; ``cancel`` is set when the user quits or cancels."""
