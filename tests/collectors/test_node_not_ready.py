"""A node that answers but says NotReady: read from the Node object (and a node that has not
reported yet told apart from a lost one), said in the pod's evidence, row, header and status,
and fixed by a replacement on a Ready node -- never by restarting a pod that still serves."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from actions.fix import NODE_NOT_READY, diagnose, plan_fix
from actions.options import ActionOptions
from collectors import kube
from collectors.model import ModelState, PodInfo, VolumeInfo
from collectors.nodes import NOT_READY_TAINT, node_health, node_not_ready, tolerated_for
from collectors.report import attention
from collectors.state import model_state
from tests.actions.builders import pod, snapshot
from tests.tui.fakes import progress
from tui.format import cause_cell
from tui.health import health

SINCE = "2026-11-28T03:00:00Z"
T0 = kube.timestamp(SINCE) or 0.0
WHY = "container runtime is down"
NOT_READY_NODE = {
    "metadata": {"name": "node-2"},
    "spec": {
        "taints": [
            {"key": NOT_READY_TAINT, "effect": "NoExecute", "timeAdded": SINCE},
            {"key": NOT_READY_TAINT, "effect": "NoSchedule", "timeAdded": SINCE},
        ]
    },
    "status": {
        "conditions": [
            {"type": "MemoryPressure", "status": "False"},
            {
                "type": "Ready",
                "status": "False",
                "reason": "KubeletNotReady",
                "message": WHY,
                "lastTransitionTime": SINCE,
            },
        ]
    },
}
DEFAULT = {"key": NOT_READY_TAINT, "operator": "Exists", "effect": "NoExecute"}


def test_a_node_whose_kubelet_says_not_ready_is_not_ready_not_lost() -> None:
    h = node_health(NOT_READY_NODE)
    assert (h.ready, h.not_ready, h.lost, h.takes_pods) == ("False", True, False, False)
    assert h.not_ready_tainted_at == T0
    said = node_not_ready(h, 300.0, T0 + 40)
    assert said.said == (
        f"node node-2 is NotReady for 40 s ({WHY}): this pod is evicted in 4 min unless the "
        "node recovers"
    )
    assert (said.node, said.why, said.evicted_in) == ("node-2", WHY, 260.0)
    assert node_not_ready(h, None, T0 + 40).evicted_in is None
    gone = node_not_ready(h, 30.0, T0 + 40)
    assert gone.evicted_in == 0.0 and gone.said.endswith(
        "toleration has run out: it is being evicted"
    )


def test_a_node_with_no_ready_condition_has_not_reported_and_is_not_lost() -> None:
    fresh = {"metadata": {"name": "node-3"}, "status": {"conditions": []}}
    h = node_health(fresh)
    assert (h.ready, h.lost, h.not_ready, h.takes_pods) == ("", False, False, False)
    # What only the node controller says still means lost: its Unknown, or the taint.
    unknown = {"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready"}]}}
    assert node_health(unknown).lost
    tainted = {**fresh, "spec": {"taints": [{"key": "node.kubernetes.io/unreachable"}]}}
    assert node_health(tainted).lost


@pytest.mark.parametrize(
    ("tolerations", "seconds"),
    [
        ([{**DEFAULT, "tolerationSeconds": 300}], 300.0),
        ([{**DEFAULT, "tolerationSeconds": 60}, {"operator": "Exists"}], 60.0),
        ([{"operator": "Exists"}], None),  # tolerates every taint, for ever
        ([{**DEFAULT, "effect": "NoSchedule", "tolerationSeconds": 9}], 0.0),
        ([{**DEFAULT, "key": "node.kubernetes.io/unreachable", "tolerationSeconds": 9}], 0.0),
        ([{"key": NOT_READY_TAINT, "operator": "Equal", "value": "x"}], 0.0),
        ([], 0.0),
    ],
)
def test_how_long_a_pod_tolerates_the_not_ready_taint(
    tolerations: list[dict[str, Any]], seconds: float | None
) -> None:
    obj = {"spec": {"tolerations": tolerations}}
    assert tolerated_for(obj, NOT_READY_TAINT) == seconds


def _on_not_ready_node(state: ModelState, ready: bool, **changes: Any) -> PodInfo:
    p = pod("asr-a", state=state, ready=ready, claim="models-ebs-pvc")
    nr = node_not_ready(node_health(NOT_READY_NODE), 300.0, T0 + 40)
    return dataclasses.replace(p, node="node-2", node_not_ready=nr, **changes)


def test_its_download_goes_on_and_the_row_and_header_say_where_it_stands() -> None:
    moving = progress(2**30, 4 * 2**30, 50 * 2**20)
    p = _on_not_ready_node(ModelState.DOWNLOADING, False, progress=moving)
    verdict = model_state(p, None, None, T0 + 40, 60.0)
    assert verdict.state is not ModelState.FAILED
    assert p.node_not_ready is not None and p.node_not_ready.said in verdict.evidence
    shown = cause_cell(dataclasses.replace(p, model_state=ModelState.DOWNLOADING), 60)
    assert shown is not None
    assert shown.plain.endswith(" 25% ⚠ node node-2 NotReady: evicted in 4 min"), shown.plain
    narrow = cause_cell(dataclasses.replace(p, model_state=ModelState.DOWNLOADING), 30)
    assert narrow is not None and narrow.plain == "⚠ NotReady: evicted in 4 min"
    serving = _on_not_ready_node(ModelState.READY, True)
    shown = cause_cell(serving, 60)
    assert shown is not None and shown.plain == "node node-2 NotReady: serving; evicted in 4 min"

    snap = snapshot(dataclasses.replace(p, model_state=ModelState.DOWNLOADING), serving)
    h = health(snap)
    assert "· 2 on a NotReady node" in h.text and h.level == "bad", h
    assert f"pod asr-a: {p.node_not_ready.said}" in attention(snap)


def test_fix_replaces_a_pod_on_its_way_up_on_a_ready_node() -> None:
    ebs = VolumeInfo("models-ebs-pvc", "pvc", access_modes=("ReadWriteOnce",))
    p = _on_not_ready_node(ModelState.DOWNLOADING, False)
    snap = snapshot(p, volumes=(ebs,))
    assert p.node_not_ready is not None and diagnose(snap, p).kind == NODE_NOT_READY
    plan = plan_fix(snap, "asr-a", ActionOptions(), ready_nodes=("node-1", "node-2"))
    assert plan.decision == NODE_NOT_READY and plan.runnable, plan.describe()
    assert [s.describe().split(" (")[0] for s in plan.steps][:1] == ["DELETE pods/asr-a"]
    assert plan.summary.startswith(f"Evidence: {p.node_not_ready.said}."), plan.summary
    assert any("scheduled on a Ready node" in w for w in plan.warnings), plan.warnings
    assert any("ReadWriteOnce" in w and "detached" in w for w in plan.warnings)
    assert plan.commands == ()  # its kubelet answers: no force delete to hand out

    # No other node takes pods: the replacement would stay Pending.
    alone = plan_fix(snap, "asr-a", ActionOptions(), ready_nodes=())
    assert not alone.runnable and alone.decision == NODE_NOT_READY
    assert (alone.refused or "").startswith("No other node is Ready: the replacement would stay")
    assert alone.warnings == (
        "no other node is Ready: the replacement would stay Pending (node node-2 is tainted "
        "node.kubernetes.io/not-ready:NoSchedule)",
    )
    # Being deleted already: its kubelet answers, so it goes by itself.
    going = plan_fix(snapshot(dataclasses.replace(p, deleting=True)), "asr-a", ActionOptions())
    assert not going.runnable and "already being deleted" in (going.refused or "")


def test_fix_leaves_a_pod_that_still_serves() -> None:
    serving = _on_not_ready_node(ModelState.READY, True)
    plan = plan_fix(snapshot(serving), "asr-a", ActionOptions(), ready_nodes=("node-1",))
    assert plan.decision == NODE_NOT_READY and not plan.runnable
    assert (plan.refused or "").startswith(
        f"Pod asr-a is Ready: its server still serves on node node-2, which is NotReady ({WHY})."
    ), plan.refused
    assert "evicts it in 4 min unless the node recovers" in (plan.refused or "")
