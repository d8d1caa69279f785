"""A rollout that does not progress says why: with no pod to show, its conditions are all."""

from __future__ import annotations

from collectors.model import ClusterSnapshot
from collectors.report import attention
from collectors.rollouts import rollout_info


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
