"""A node that stops answering: read from the Node object, said in the pod's evidence and
row, and fixed by a replacement on a node that answers (never by a force delete of ours)."""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

from kubernetes.client.exceptions import ApiException

from actions.fix import NODE_LOST, diagnose, plan_fix
from actions.options import ActionOptions
from collectors import kube
from collectors.model import ModelState, PodInfo, VolumeInfo
from collectors.nodes import NodeReader, node_health, node_lost
from collectors.state import model_state
from tests.actions.builders import pod, snapshot
from tui.format import cause_cell

LOST_AT = "2026-11-28T03:00:00Z"
T0 = kube.timestamp(LOST_AT) or 0.0
UNKNOWN = {
    "type": "Ready",
    "status": "Unknown",
    "reason": "NodeStatusUnknown",
    "message": "Kubelet stopped posting node status.",
    "lastTransitionTime": LOST_AT,
}
LOST_NODE = {
    "metadata": {"name": "node-2"},
    "spec": {
        "taints": [
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        ]
    },
    "status": {"conditions": [{"type": "MemoryPressure", "status": "Unknown"}, UNKNOWN]},
}


def test_a_node_whose_kubelet_stopped_reporting_is_lost() -> None:
    health = node_health(LOST_NODE)
    assert health.lost and health.unreachable and health.ready == "Unknown"
    lost = node_lost(health, T0 + 90)
    assert lost.said == (
        "node node-2 is unreachable for 90 s (Kubelet stopped posting node status): what the "
        "API shows of this pod is its last report"
    )
    ready = {
        "metadata": {"name": "node-1"},
        "status": {"conditions": [{**UNKNOWN, "status": "True"}]},
    }
    assert not node_health(ready).lost
    # A kubelet that reports NotReady itself (it answers) is not lost.
    not_ready = {**ready, "status": {"conditions": [{**UNKNOWN, "status": "False"}]}}
    assert not node_health(not_ready).lost


def _on_lost_node(**changes: Any) -> PodInfo:
    p = pod("asr-a", state=ModelState.DOWNLOADING, ready=False, claim="models-ebs-pvc")
    p = dataclasses.replace(p, node="node-2", node_lost=node_lost(node_health(LOST_NODE), T0 + 90))
    return dataclasses.replace(p, **changes)


def test_its_pods_download_went_with_it() -> None:
    p = _on_lost_node()
    verdict = model_state(p, None, None, T0 + 90, 60.0)
    assert verdict.state is ModelState.FAILED
    assert verdict.evidence[0].startswith("node node-2 is unreachable for 90 s")
    shown = cause_cell(dataclasses.replace(p, model_state=ModelState.FAILED), 60)
    assert shown is not None and shown.plain == "node node-2 unreachable: its download went with it"


def test_fix_replaces_it_and_leaves_the_force_delete_to_a_person() -> None:
    ebs = VolumeInfo("models-ebs-pvc", "pvc", access_modes=("ReadWriteOnce",))
    p = dataclasses.replace(_on_lost_node(), model_state=ModelState.FAILED)
    snap = snapshot(p, volumes=(ebs,))
    assert diagnose(snap, p).kind == NODE_LOST
    plan = plan_fix(snap, "asr-a", ActionOptions())
    assert plan.decision == NODE_LOST and plan.runnable, plan.describe()
    assert [s.describe().split(" (")[0] for s in plan.steps][:1] == ["DELETE pods/asr-a"]
    assert any("stays Terminating until it comes back" in w for w in plan.warnings)
    assert any("ReadWriteOnce" in w and "Multi-Attach" in w for w in plan.warnings)
    (force,) = plan.commands
    assert shlex.split(force) == [
        "kubectl",
        "-n",
        snap.namespace,
        "delete",
        "pod",
        "asr-a",
        "--grace-period=0",
        "--force",
    ]
    # Already being deleted: replaced already; only the force delete is left, by hand.
    going = dataclasses.replace(p, deleting=True)
    refused = plan_fix(snapshot(going, volumes=(ebs,)), "asr-a", ActionOptions())
    assert not refused.runnable and "already being deleted" in (refused.refused or "")
    assert refused.commands == plan.commands


class _Forbidden:
    """A cluster whose role may not read nodes (a namespaced Role cannot give it)."""

    def __init__(self) -> None:
        self.asked = 0
        self.core = self

    def read_node(self, name: str) -> None:  # only its identity is used
        raise AssertionError("called through get_json")

    def get_json(self, method: object, name: str) -> object:
        self.asked += 1
        raise ApiException(status=403, reason="Forbidden")

    def describe_error(self, exc: BaseException, verb: str, resource: str, namespaced: bool) -> str:
        return f"permission denied: may not {verb} {resource} (403 Forbidden)."


def test_a_role_that_may_not_read_nodes_is_asked_once_and_told() -> None:
    cluster = _Forbidden()
    reader = NodeReader(cluster)  # type: ignore[arg-type]
    assert reader.read({"node-1", "node-2"}) == {}
    assert reader.read({"node-1"}) == {}
    assert cluster.asked == 1, "a 403 is final: the view goes on without nodes"
    assert reader.forbidden == "permission denied: may not get nodes (403 Forbidden)."
