"""Controllers seen through the official client: Deployment -> ReplicaSet -> Pods (self-healing,
scaling, rolling and Recreate updates, cascade), Jobs (completions, backoffLimit), CronJobs
(schedule and the trigger hook), the scheduler and the volume binder."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from kubernetes import client, watch

from simcluster.cluster import SimCluster
from tests.simcluster.conftest import NS, api_client
from tests.simcluster.test_api_client import deployment, pod, wait_until


def _job(name: str, command: list[str], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            **spec,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox", "command": command}],
                }
            },
        },
    }


def _conditions(obj: Any) -> dict[str, str]:
    return {c.type: c.status for c in (obj.status.conditions or [])}


def _pods(v1: client.CoreV1Api, selector: str) -> list[Any]:
    return [
        p
        for p in v1.list_namespaced_pod(NS, label_selector=selector).items
        if not p.metadata.deletion_timestamp
    ]


def test_deployment_creates_replicaset_pods_and_heals(sim_client: client.ApiClient) -> None:
    apps, v1 = client.AppsV1Api(sim_client), client.CoreV1Api(sim_client)
    apps.create_namespaced_deployment(NS, deployment("web", replicas=3))
    d = wait_until(
        lambda: (
            (x := apps.read_namespaced_deployment("web", NS)).status.available_replicas == 3 and x
        ),
        what="3 available",
    )
    assert d.status.observed_generation == d.metadata.generation == 1
    assert d.status.updated_replicas == d.status.ready_replicas == d.status.replicas == 3
    assert _conditions(d) == {"Available": "True", "Progressing": "True"}
    assert {c.reason for c in d.status.conditions} == {
        "MinimumReplicasAvailable",
        "NewReplicaSetAvailable",
    }
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    (rs,) = apps.list_namespaced_replica_set(NS).items
    h = rs.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"web-{h}" and rs.spec.selector.match_labels == {
        "app": "web",
        "pod-template-hash": h,
    }
    assert rs.metadata.owner_references[0].kind == "Deployment"
    pods = _pods(v1, "app=web")
    assert len(pods) == 3 and all(p.metadata.name.startswith(f"web-{h}-") for p in pods)
    victim = pods[0].metadata.name
    v1.delete_namespaced_pod(victim, NS)
    wait_until(
        lambda: (
            len(ps := _pods(v1, "app=web")) == 3 and victim not in {p.metadata.name for p in ps}
        ),
        what="replacement pod",
    )
    apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 1}})
    wait_until(lambda: len(_pods(v1, "app=web")) == 1, what="scaled down")
    events = v1.list_namespaced_event(
        NS, field_selector="involvedObject.kind=ReplicaSet,reason=SuccessfulCreate"
    )
    assert len(events.items) >= 4
    apps.delete_namespaced_deployment("web", NS)  # Background: RS and pods follow
    wait_until(
        lambda: (
            not apps.list_namespaced_replica_set(NS).items and not v1.list_namespaced_pod(NS).items
        ),
        what="cascade",
    )


def test_rolling_update_respects_surge_and_unavailability(sim_client: client.ApiClient) -> None:
    apps = client.AppsV1Api(sim_client)
    body = deployment("web", replicas=4)
    body["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    apps.create_namespaced_deployment(NS, body)
    wait_until(
        lambda: apps.read_namespaced_deployment("web", NS).status.available_replicas == 4,
        what="ready",
    )
    rv = apps.list_namespaced_replica_set(NS).metadata.resource_version
    seen: list[int] = []
    stop = threading.Event()

    def observe() -> None:
        w = watch.Watch()
        totals: dict[str, int] = {}
        for ev in w.stream(
            apps.list_namespaced_replica_set, NS, resource_version=rv, timeout_seconds=20
        ):
            totals[ev["object"].metadata.name] = ev["object"].spec.replicas or 0
            seen.append(sum(totals.values()))
            if stop.is_set():
                w.stop()

    rs_before = apps.list_namespaced_replica_set(NS).items[0]
    t = threading.Thread(target=observe, daemon=True)
    t.start()
    apps.patch_namespaced_deployment(
        "web",
        NS,
        {
            "spec": {
                "template": {
                    "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}
                }
            }
        },
    )
    d = wait_until(
        lambda: (
            (x := apps.read_namespaced_deployment("web", NS)).status.observed_generation == 2
            and x.status.updated_replicas == 4
            and x.status.available_replicas == 4
            and (x.status.replicas or 0) == 4
            and x
        ),
        timeout=20,
        what="rollout done",
    )
    stop.set()
    apps.patch_namespaced_replica_set(
        rs_before.metadata.name, NS, {"metadata": {"annotations": {"poke": "1"}}}
    )
    t.join(10)
    assert not t.is_alive()
    assert max(seen) <= 5  # never more than replicas + maxSurge desired at once
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    by_name = {
        rs.metadata.name: rs.spec.replicas for rs in apps.list_namespaced_replica_set(NS).items
    }
    assert by_name[rs_before.metadata.name] == 0 and sorted(by_name.values()) == [0, 4]


def test_recreate_strategy_stops_old_pods_first(sim_client: client.ApiClient) -> None:
    apps, v1 = client.AppsV1Api(sim_client), client.CoreV1Api(sim_client)
    body = deployment("db", replicas=2)
    body["spec"]["strategy"] = {"type": "Recreate"}
    apps.create_namespaced_deployment(NS, body)
    wait_until(
        lambda: apps.read_namespaced_deployment("db", NS).status.available_replicas == 2,
        what="ready",
    )
    old = {p.metadata.name for p in _pods(v1, "app=db")}
    apps.patch_namespaced_deployment(
        "db", NS, {"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}}
    )
    wait_until(
        lambda: (
            (ps := {p.metadata.name for p in _pods(v1, "app=db,v=2")})
            and len(ps) == 2
            and not ps & old
        ),
        what="recreated",
    )


def test_job_completions_and_status(sim_client: client.ApiClient) -> None:
    batch, v1 = client.BatchV1Api(sim_client), client.CoreV1Api(sim_client)
    batch.create_namespaced_job(
        NS, _job("ok", ["sh", "-c", "exit 0"], completions=3, parallelism=2)
    )
    job = wait_until(
        lambda: (
            _conditions(x := batch.read_namespaced_job("ok", NS)).get("Complete") == "True" and x
        ),
        what="job complete",
    )
    assert job.status.succeeded == 3 and not job.status.failed and not job.status.active
    assert job.status.start_time and job.status.completion_time
    assert _conditions(job)["SuccessCriteriaMet"] == "True"
    assert len(v1.list_namespaced_pod(NS, label_selector="job-name=ok").items) == 3
    events = v1.list_namespaced_event(
        NS, field_selector=f"involvedObject.uid={job.metadata.uid},reason=Completed"
    )
    assert len(events.items) == 1


def test_job_fails_past_backoff_limit(sim_client: client.ApiClient, sim: SimCluster) -> None:
    batch = client.BatchV1Api(sim_client)
    sim.controllers.jobs.backoff_base = 0.05
    batch.create_namespaced_job(NS, _job("bad", ["sh", "-c", "exit 3"], backoffLimit=1))
    job = wait_until(
        lambda: (
            _conditions(x := batch.read_namespaced_job("bad", NS)).get("Failed") == "True" and x
        ),
        timeout=15,
        what="job failed",
    )
    assert job.status.failed == 2 and not job.status.succeeded
    failed = next(c for c in job.status.conditions if c.type == "Failed")
    assert failed.reason == "BackoffLimitExceeded"
    assert _conditions(job)["FailureTarget"] == "True"


def test_cronjob_runs_when_due_and_on_trigger(
    sim: SimCluster, sim_client: client.ApiClient
) -> None:
    batch = client.BatchV1Api(sim_client)
    two_minutes_ago = (datetime.now(timezone.utc) - timedelta(minutes=2)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    cron: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "preload", "namespace": NS},
        "spec": {"schedule": "* * * * *", "jobTemplate": _job("x", ["sh", "-c", "exit 0"])},
        "status": {"lastScheduleTime": two_minutes_ago},
    }
    sim.apply(cron)
    job = wait_until(lambda: batch.list_namespaced_job(NS).items, what="scheduled job")[0]
    minute = int(datetime.now(timezone.utc).timestamp()) // 60
    assert job.metadata.name in {f"preload-{minute}", f"preload-{minute - 1}"}
    assert job.metadata.owner_references[0].kind == "CronJob"
    assert job.metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    cj = wait_until(
        lambda: (
            (x := batch.read_namespaced_cron_job("preload", NS)).status.last_successful_time and x
        )
    )
    assert cj.status.last_schedule_time > datetime.now(timezone.utc) - timedelta(
        minutes=1, seconds=5
    )
    manual = sim.trigger_cronjob("preload")
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    wait_until(lambda: len(batch.list_namespaced_job(NS).items) == 2, what="manual job")
    with pytest.raises(client.ApiException) as exc:
        batch.create_namespaced_cron_job(
            NS,
            {
                **cron,
                "metadata": {"name": "bad"},
                "spec": {**cron["spec"], "schedule": "61 * * * *"},
            },
        )
    assert exc.value.status == 422 and "spec.schedule" in exc.value.body


def test_scheduler_spreads_and_waits_for_a_fitting_node(make_sim: Any, tmp_path: Any) -> None:
    sim = make_sim(nodes=3)
    api = api_client(sim, tmp_path)
    v1 = client.CoreV1Api(api)
    for i in range(6):
        v1.create_namespaced_pod(NS, pod(f"p{i}"))
    wait_until(
        lambda: all(p.spec.node_name for p in v1.list_namespaced_pod(NS).items), what="all bound"
    )
    per_node: dict[str, int] = {}
    for p in v1.list_namespaced_pod(NS).items:
        per_node[p.spec.node_name] = per_node.get(p.spec.node_name, 0) + 1
    assert per_node == {"node-1": 2, "node-2": 2, "node-3": 2}
    gpu = pod("gpu")
    gpu["spec"]["nodeSelector"] = {"accelerator": "a100"}
    v1.create_namespaced_pod(NS, gpu)
    waiting = wait_until(
        lambda: (x := v1.read_namespaced_pod("gpu", NS)).status.conditions and x,
        what="unschedulable",
    )
    cond = waiting.status.conditions[0]
    assert (cond.type, cond.status, cond.reason) == ("PodScheduled", "False", "Unschedulable")
    assert "0/3 nodes are available" in cond.message
    assert v1.list_namespaced_event(
        NS, field_selector="involvedObject.name=gpu,reason=FailedScheduling"
    ).items
    sim.run(sim.add_node("gpu-node", labels={"accelerator": "a100"}))
    wait_until(
        lambda: v1.read_namespaced_pod("gpu", NS).spec.node_name == "gpu-node",
        what="bound to new node",
    )
    api.close()


def test_pvc_is_bound_and_protected_while_used(sim_client: client.ApiClient) -> None:
    v1 = client.CoreV1Api(sim_client)
    v1.create_namespaced_persistent_volume_claim(
        NS,
        {
            "metadata": {"name": "models"},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "models-aws-efs-sc",
                "resources": {"requests": {"storage": "50Gi"}},
            },
        },
    )
    pvc = wait_until(
        lambda: (
            (x := v1.read_namespaced_persistent_volume_claim("models", NS)).status.phase == "Bound"
            and x
        )
    )
    assert pvc.spec.volume_name == f"pvc-{pvc.metadata.uid}" and pvc.status.capacity == {
        "storage": "50Gi"
    }
    pv = v1.read_persistent_volume(pvc.spec.volume_name)
    assert pv.spec.claim_ref.name == "models" and pv.spec.csi.driver == "efs.csi.aws.com"
    user = pod("user")
    user["spec"]["volumes"] = [{"name": "m", "persistentVolumeClaim": {"claimName": "models"}}]
    v1.create_namespaced_pod(NS, user)
    wait_until(
        lambda: v1.read_namespaced_pod("user", NS).status.phase == "Running", what="pod running"
    )
    v1.delete_namespaced_persistent_volume_claim("models", NS)
    held = v1.read_namespaced_persistent_volume_claim("models", NS)
    assert (
        held.metadata.deletion_timestamp
        and "kubernetes.io/pvc-protection" in held.metadata.finalizers
    )
    v1.delete_namespaced_pod("user", NS, grace_period_seconds=0)
    wait_until(
        lambda: not v1.list_namespaced_persistent_volume_claim(NS).items, what="pvc released"
    )
    wait_until(lambda: not v1.list_persistent_volume().items, what="pv reclaimed")
