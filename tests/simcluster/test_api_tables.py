"""Server-side printing: the cells kubectl shows, computed as Kubernetes' printers do."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from simcluster.apiserver.tables import human_duration, job_row, pod_row, table

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (0, "0s"),
        (119, "119s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (20 * 86400, "20d"),
        (3 * 365 * 86400, "3y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def _pod(status: dict, deleting: bool = False, init: int = 0) -> dict:
    meta = {"name": "p", "creationTimestamp": "2026-01-01T11:55:00Z"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T11:59:00Z"
    spec = {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "node-1"}
    if init:
        spec["initContainers"] = [{"name": f"i{n}"} for n in range(init)]
    return {"metadata": meta, "spec": spec, "status": status}


def _cs(
    name: str, state: dict, ready: bool = False, restarts: int = 0, last: dict | None = None
) -> dict:
    return {
        "name": name,
        "state": state,
        "ready": ready,
        "restartCount": restarts,
        "lastState": last or {},
    }


RUNNING = {"running": {"startedAt": "2026-01-01T11:56:00Z"}}


def test_pod_rows_match_kubectl() -> None:
    running = _pod(
        {
            "phase": "Running",
            "podIP": "10.1.0.5",
            "containerStatuses": [_cs("a", RUNNING, True), _cs("b", RUNNING, True)],
        }
    )
    assert pod_row(running, NOW)[:6] == ["p", "2/2", "Running", "0", "5m", "10.1.0.5"]
    crash = _pod(
        {
            "phase": "Running",
            "containerStatuses": [
                _cs(
                    "a",
                    {"waiting": {"reason": "CrashLoopBackOff"}},
                    restarts=4,
                    last={"terminated": {"exitCode": 1, "finishedAt": "2026-01-01T11:58:00Z"}},
                ),
                _cs("b", RUNNING, True),
            ],
        }
    )
    assert pod_row(crash, NOW)[1:4] == ["1/2", "CrashLoopBackOff", "4 (2m ago)"]
    init = _pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [
                _cs("i0", {"terminated": {"exitCode": 0}}),
                _cs("i1", RUNNING),
            ],
        },
        init=2,
    )
    assert pod_row(init, NOW)[2] == "Init:1/2"
    init_fail = _pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [
                _cs("i0", {"terminated": {"exitCode": 2, "reason": "Error"}})
            ],
        },
        init=1,
    )
    assert pod_row(init_fail, NOW)[2] == "Init:Error"
    creating = _pod(
        {
            "phase": "Pending",
            "containerStatuses": [
                _cs("a", {"waiting": {"reason": "ContainerCreating"}}),
                _cs("b", {"waiting": {"reason": "ContainerCreating"}}),
            ],
        }
    )
    assert pod_row(creating, NOW)[1:3] == ["0/2", "ContainerCreating"]
    done = _pod(
        {
            "phase": "Succeeded",
            "containerStatuses": [
                _cs("a", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
                _cs("b", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
            ],
        }
    )
    assert pod_row(done, NOW)[2] == "Completed"
    assert pod_row(_pod(running["status"], deleting=True), NOW)[2] == "Terminating"
    assert pod_row(_pod({"phase": "Pending"}), NOW)[5:] == ["<none>", "node-1", "<none>", "<none>"]


def test_job_row_and_table_shape() -> None:
    job = {
        "metadata": {"name": "j", "creationTimestamp": "2026-01-01T11:00:00Z"},
        "spec": {
            "completions": 3,
            "selector": {"matchLabels": {"b": "2", "a": "1"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}},
        },
        "status": {
            "succeeded": 2,
            "startTime": "2026-01-01T11:00:00Z",
            "conditions": [{"type": "Failed", "status": "True"}],
        },
    }
    assert job_row(job, NOW) == ["j", "Failed", "2/3", "60m", "60m", "c", "busybox", "a=1,b=2"]
    t = table("jobs", [job], "7")
    assert t["kind"] == "Table" and t["metadata"]["resourceVersion"] == "7"
    assert [c["name"] for c in t["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Status",
        "Completions",
        "Duration",
        "Age",
    ]
    assert t["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": job["metadata"],
    }
