"""A rollout that does not progress says why: with no pod to show, its conditions are all."""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client

from collectors.model import ClusterSnapshot
from collectors.report import attention
from collectors.rollouts import rollout_info
from tests.collectors.conftest import Recorder
from tests.scenarios.conftest import NS, World


def test_a_rollout_that_cannot_create_pods_says_why() -> None:
    dep = {
        "metadata": {"name": "lightning-asr"},
        "spec": {"replicas": 3, "template": {"spec": {"containers": []}}},
        "status": {
            "conditions": [
                {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": 'pods "lightning-asr-7d9f-x" is forbidden: exceeded quota: gpu, '
                    "requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=4, "
                    "limited: requests.nvidia.com/gpu=4",
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "ReplicaSetUpdated",
                    "message": 'ReplicaSet "lightning-asr-7d9f" is progressing.',
                },
            ]
        },
    }
    info = rollout_info(dep, None, False)
    assert info.problem is not None and info.problem.startswith(
        'FailedCreate: pods "lightning-asr-7d9f-x" is forbidden: exceeded quota: gpu'
    )
    snap = ClusterSnapshot("ctx", "smallest", "https://api", 0.0, rollouts=(info,))
    assert attention(snap) == [f"rollout lightning-asr: {info.problem}"]
    conds = dep["status"]["conditions"]  # type: ignore[index]
    conds[1]["status"] = "False"
    conds[2] |= {
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "lightning-asr-7d9f" has timed out progressing.',
    }
    assert rollout_info(dep, None, False).problem == (
        'ProgressDeadlineExceeded: ReplicaSet "lightning-asr-7d9f" has timed out progressing.'
    )
    conds[2] |= {"status": "True", "reason": "NewReplicaSetAvailable"}
    assert rollout_info(dep, None, False).problem is None


def test_a_rollout_the_quota_refuses_is_stuck_with_the_api_servers_words(
    start: Callable[..., World], start_feed: Callable[..., tuple[object, Recorder]]
) -> None:
    """quota-exceeded: no v2 pod exists at all; only the Deployment's condition says why, and
    the v1 pods serve on. Raising the quota lets the rollout go on."""
    w = start("quota-exceeded", speed=16 * 2**20)
    _feed, rec = start_feed(w.cluster, refresh=1)
    snap = rec.wait(
        lambda s: any(r.problem for r in s.rollouts), 40, "the rollout stuck on the quota"
    )
    (stuck,) = [r for r in snap.rollouts if r.problem]
    assert stuck.name == "lightning-asr" and stuck.problem is not None
    assert stuck.problem.startswith('FailedCreate: pods "lightning-asr-'), stuck.problem
    assert "is forbidden: exceeded quota: compute, requested: requests.memory=128Mi" in (
        stuck.problem
    )
    assert f"rollout lightning-asr: {stuck.problem}" in attention(snap)
    asr = [p for p in snap.pods if p.release == "lightning-asr"]
    assert len(asr) == 2 and all(p.ready for p in asr), "v1 serves; no v2 pod exists"
    client.CoreV1Api(w.api).patch_namespaced_resource_quota(
        "compute", NS, {"spec": {"hard": {"requests.memory": "1Gi"}}}
    )
    rec.wait(
        lambda s: (
            not any(r.problem for r in s.rollouts) and any(p.model.version == "v2" for p in s.pods)
        ),
        30,
        "the rollout going on once the quota has room",
    )
