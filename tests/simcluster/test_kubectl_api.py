"""kubectl v1.32 against the simulator: the columns `get` prints, describe, create, delete,
rollout restart, the node proxy and RBAC answers — as on a real cluster."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from simcluster.cluster import SimCluster
from tests.simcluster.conftest import NS, Kubectl

pytestmark = pytest.mark.kubectl

PVC = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "models-aws-efs-pvc", "namespace": NS},
    "spec": {
        "accessModes": ["ReadWriteMany"],
        "storageClassName": "models-aws-efs-sc",
        "resources": {"requests": {"storage": "50Gi"}},
    },
}


def _deployment(name: str, replicas: int = 2, claim: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}]
    }
    if claim:
        spec["volumes"] = [{"name": "models", "persistentVolumeClaim": {"claimName": claim}}]
        spec["containers"][0]["volumeMounts"] = [{"name": "models", "mountPath": "/app/models"}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }


def _job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 0"]}
                    ],
                }
            }
        },
    }


def _ok(result: Any) -> str:
    assert result.returncode == 0, result.stderr
    return str(result.stdout)


def _header(out: str) -> list[str]:
    return out.splitlines()[0].split()


def _wait(cluster: SimCluster, fn: Any, timeout: float = 15.0, what: str = "") -> Any:
    return cluster.run(cluster.wait_for(lambda: cluster.call(fn), timeout=timeout, what=what))


def _ready_deployment(cluster: SimCluster, name: str) -> bool:
    d = cluster.store.peek("deployments", NS, name)
    if d is None:
        return False
    status = d.get("status") or {}
    want = d["spec"]["replicas"]
    return bool(status.get("availableReplicas") == want == status.get("updatedReplicas"))


def test_get_shows_the_real_columns(tls_sim: SimCluster, kubectl: Kubectl) -> None:
    tls_sim.apply([PVC, _deployment("web", claim="models-aws-efs-pvc"), _job("preload")])
    _wait(tls_sim, lambda: _ready_deployment(tls_sim, "web"), what="deployment ready")
    _wait(
        tls_sim,
        lambda: (
            (tls_sim.store.peek("jobs", NS, "preload") or {}).get("status", {}).get("succeeded")
        ),
        what="job done",
    )
    pods = _ok(kubectl(tls_sim, "get", "pods", "-l", "app=web"))
    assert _header(pods) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = [line.split() for line in pods.splitlines()[1:]]
    assert len(rows) == 2 and all(r[1] == "1/1" and r[2] == "Running" and r[3] == "0" for r in rows)
    wide = _ok(kubectl(tls_sim, "get", "pods", "-l", "app=web", "-o", "wide"))
    assert "NOMINATED NODE" in wide.splitlines()[0] and "node-1" in wide
    pvc = _ok(kubectl(tls_sim, "get", "pvc"))
    assert pvc.splitlines()[0].split() == [
        "NAME",
        "STATUS",
        "VOLUME",
        "CAPACITY",
        "ACCESS",
        "MODES",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "AGE",
    ]
    cells = pvc.splitlines()[1].split()
    assert cells[:2] == ["models-aws-efs-pvc", "Bound"] and cells[3:6] == [
        "50Gi",
        "RWX",
        "models-aws-efs-sc",
    ]
    jobs = _ok(kubectl(tls_sim, "get", "jobs"))
    assert _header(jobs) == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert jobs.splitlines()[1].split()[:3] == ["preload", "Complete", "1/1"]
    deploys = _ok(kubectl(tls_sim, "get", "deployments"))
    assert _header(deploys) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deploys.splitlines()[1].split()[:4] == ["web", "2/2", "2", "2"]
    events = _ok(kubectl(tls_sim, "get", "events"))
    assert _header(events)[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    assert "Scheduled" in events and "ScalingReplicaSet" in events


def test_describe_pvc_lists_users_and_events(tls_sim: SimCluster, kubectl: Kubectl) -> None:
    tls_sim.apply([PVC, _deployment("web", replicas=1, claim="models-aws-efs-pvc")])
    _wait(tls_sim, lambda: _ready_deployment(tls_sim, "web"), what="deployment ready")
    out = _ok(kubectl(tls_sim, "describe", "pvc", "models-aws-efs-pvc"))
    assert "Status:        Bound" in out and "Capacity:      50Gi" in out
    pod = tls_sim.call(lambda: tls_sim.store.list("pods", NS)[0][0]["metadata"]["name"])
    assert f"Used By:       {pod}" in out
    assert "ProvisioningSucceeded" in out


def test_create_from_file_with_and_without_validation(
    tls_sim: SimCluster, kubectl: Kubectl, tmp_path: Path
) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(_job("model-preload")))
    assert "job.batch/model-preload created" in _ok(
        kubectl(tls_sim, "create", "-f", str(path), "--validate=false")
    )
    again = kubectl(tls_sim, "create", "-f", str(path), "--validate=false")
    assert again.returncode == 1 and "AlreadyExists" in again.stderr
    path.write_text(json.dumps(_job("validated")))
    assert "job.batch/validated created" in _ok(kubectl(tls_sim, "create", "-f", str(path)))
    bad = _job("bad")
    bad["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    path.write_text(json.dumps(bad))
    refused = kubectl(tls_sim, "create", "-f", str(path), "--validate=false")
    assert (
        refused.returncode == 1
        and "is invalid" in refused.stderr
        and "restartPolicy" in refused.stderr
    )


def test_delete_pod_returns_once_the_pod_is_gone(tls_sim: SimCluster, kubectl: Kubectl) -> None:
    running = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "busy", "namespace": NS},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]},
    }
    stuck = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "nowhere", "namespace": NS},
        "spec": {
            "nodeSelector": {"zone": "mars"},
            "containers": [{"name": "c", "image": "busybox"}],
        },
    }
    tls_sim.apply([running, stuck])
    _wait(
        tls_sim,
        lambda: (
            (tls_sim.store.peek("pods", NS, "busy") or {}).get("status", {}).get("phase")
            == "Running"
        ),
        what="pod running",
    )
    for name in ("busy", "nowhere"):  # via the kubelet, and never scheduled
        start = time.monotonic()
        out = _ok(kubectl(tls_sim, "delete", "pod", name, timeout=40))
        assert f'pod "{name}" deleted' in out and time.monotonic() - start < 35
        assert tls_sim.call(lambda n=name: tls_sim.store.peek("pods", NS, n)) is None


def test_rollout_restart_rolls_the_deployment(tls_sim: SimCluster, kubectl: Kubectl) -> None:
    tls_sim.apply([_deployment("web", replicas=2)])
    _wait(tls_sim, lambda: _ready_deployment(tls_sim, "web"), what="deployment ready")
    before = {
        p["metadata"]["name"] for p in tls_sim.call(lambda: tls_sim.store.list("pods", NS)[0])
    }
    _ok(kubectl(tls_sim, "rollout", "restart", "deployment/web"))
    status = _ok(
        kubectl(tls_sim, "rollout", "status", "deployment/web", "--timeout=30s", timeout=40)
    )
    assert 'deployment "web" successfully rolled out' in status
    rs = _ok(kubectl(tls_sim, "get", "rs", "-o", "json"))
    counts = sorted(item["spec"]["replicas"] for item in json.loads(rs)["items"])
    assert counts == [0, 2]
    after = {
        p["metadata"]["name"]
        for p in tls_sim.call(
            lambda: tls_sim.store.list("pods", NS, field_selector="status.phase=Running")[0]
        )
    }
    assert len(after) == 2 and not after & before
    history = _ok(kubectl(tls_sim, "rollout", "history", "deployment/web"))
    assert "1 " in history and "2 " in history


def test_node_proxy_stats_summary(tls_sim: SimCluster, kubectl: Kubectl) -> None:
    out = _ok(kubectl(tls_sim, "get", "--raw", "/api/v1/nodes/node-1/proxy/stats/summary"))
    summary = json.loads(out)
    assert summary["node"]["nodeName"] == "node-1" and "pods" in summary


def test_viewer_is_forbidden_and_can_i_agrees(tls_sim: SimCluster, kubectl: Kubectl) -> None:
    tls_sim.apply([_deployment("web", replicas=1)])
    assert _ok(kubectl(tls_sim, "auth", "can-i", "delete", "pods")).strip() == "yes"
    no = kubectl(tls_sim, "auth", "can-i", "delete", "pods", user="viewer")
    assert no.returncode == 1 and no.stdout.strip() == "no"
    assert _ok(kubectl(tls_sim, "auth", "can-i", "list", "pods", user="viewer")).strip() == "yes"
    denied = kubectl(tls_sim, "delete", "deployment", "web", user="viewer")
    assert denied.returncode == 1
    assert 'Error from server (Forbidden): deployments.apps "web" is forbidden' in denied.stderr
    assert _header(_ok(kubectl(tls_sim, "get", "deploy", user="viewer")))[0] == "NAME"


def test_plain_http_with_anonymous_user(make_sim: Any, kubectl: Kubectl) -> None:
    sim = make_sim(anonymous="viewer")
    assert sim.url.startswith("http://")
    assert _header(_ok(kubectl(sim, "get", "nodes")))[:2] == ["NAME", "STATUS"]
    denied = kubectl(sim, "delete", "node", "node-1")
    assert denied.returncode == 1 and "Forbidden" in denied.stderr
