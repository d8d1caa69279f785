"""ResourceQuota through the official client (and kubectl): status.used follows the pods,
a pod create over a quota is a 403 worded as the quota admission plugin words it, and the
ReplicaSet and Deployment controllers report the refusal as FailedCreate / ReplicaFailure."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from simcluster.cluster import SimCluster
from tests.polling import wait_until
from tests.simcluster.conftest import NS, Kubectl, SimApi


def _pod(name: str, *containers: dict[str, Any], restart: str = "Always") -> dict[str, Any]:
    return {
        "metadata": {"name": name} if not name.endswith("-") else {"generateName": name},
        "spec": {"restartPolicy": restart, "containers": list(containers)},
    }


def _container(
    name: str = "main",
    command: str = "sleep 3600",
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
) -> dict[str, Any]:
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    return {
        "name": name,
        "image": "busybox:1.36",
        "command": ["sh", "-c", command],
        "resources": resources,
    }


def _quota(name: str, **hard: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"hard": hard}}


def _refusal(fn: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as info:
        fn()
    return info.value.status, json.loads(info.value.body)


def _used(core: client.CoreV1Api, name: str = "compute") -> dict[str, str]:
    return dict(core.read_namespaced_resource_quota(name, NS).status.used or {})


def test_status_used_follows_the_pods_and_terminal_pods_drop_out(sim_api: SimApi) -> None:
    _, api = sim_api()
    core = client.CoreV1Api(api)
    core.create_namespaced_resource_quota(
        NS, _quota("compute", pods="5", **{"requests.memory": "1Gi", "limits.cpu": "2"})
    )
    wait_until(lambda: _used(core) == {"limits.cpu": "0", "pods": "0", "requests.memory": "0"}, 5)
    quota = core.read_namespaced_resource_quota("compute", NS)
    assert quota.status.hard == {"pods": "5", "requests.memory": "1Gi", "limits.cpu": "2"}

    big: dict[str, Any] = {"requests": {"memory": "256Mi"}, "limits": {"cpu": "500m"}}
    core.create_namespaced_pod(NS, _pod("a", _container(**big)))
    core.create_namespaced_pod(NS, _pod("b", _container(**big)))
    one_shot = _container(command="exit 0", **big)
    core.create_namespaced_pod(NS, _pod("done", one_shot, restart="Never"))
    # the finished pod is charged until it is Succeeded, then only a, b count
    wait_until(lambda: core.read_namespaced_pod("done", NS).status.phase == "Succeeded", 10, "done")
    want = {"limits.cpu": "1", "pods": "2", "requests.memory": "512Mi"}
    wait_until(lambda: _used(core) == want, 5, f"used {want}")

    core.delete_namespaced_pod("a", NS, grace_period_seconds=0)
    want = {"limits.cpu": "500m", "pods": "1", "requests.memory": "256Mi"}
    wait_until(lambda: _used(core) == want, 10, f"used {want}")


def test_a_pod_over_the_quota_is_forbidden_with_the_admission_wording(sim_api: SimApi) -> None:
    _, api = sim_api(nodes=0)  # only admission matters here
    core = client.CoreV1Api(api)
    core.create_namespaced_resource_quota(
        NS, _quota("compute", pods="10", **{"requests.memory": "300Mi", "limits.cpu": "1"})
    )
    ok: dict[str, Any] = {"requests": {"memory": "128Mi"}, "limits": {"cpu": "400m"}}
    core.create_namespaced_pod(NS, _pod("a", _container(**ok)))
    core.create_namespaced_pod(NS, _pod("b", _container(**ok)))

    code, status = _refusal(lambda: core.create_namespaced_pod(NS, _pod("c", _container(**ok))))
    assert code == 403 and (status["reason"], status["code"]) == ("Forbidden", 403)
    assert status["details"] == {"name": "c", "kind": "pods"}
    assert status["message"] == (
        'pods "c" is forbidden: exceeded quota: compute, '
        "requested: limits.cpu=400m,requests.memory=128Mi, "
        "used: limits.cpu=800m,requests.memory=256Mi, "
        "limited: limits.cpu=1,requests.memory=300Mi"
    )
    # one resource over: only that one is listed
    small: dict[str, Any] = {"requests": {"memory": "16Mi"}, "limits": {"cpu": "400m"}}
    _, status = _refusal(lambda: core.create_namespaced_pod(NS, _pod("d", _container(**small))))
    assert status["message"] == (
        'pods "d" is forbidden: exceeded quota: compute, requested: limits.cpu=400m, '
        "used: limits.cpu=800m, limited: limits.cpu=1"
    )
    assert [p.metadata.name for p in core.list_namespaced_pod(NS).items] == ["a", "b"]


def test_a_quota_on_cpu_or_memory_makes_every_container_state_it(sim_api: SimApi) -> None:
    _, api = sim_api(nodes=0)
    core = client.CoreV1Api(api)
    core.create_namespaced_resource_quota(
        NS, _quota("compute", **{"requests.memory": "1Gi", "limits.memory": "2Gi"})
    )
    only_limit = _container("app", limits={"memory": "64Mi"})  # requests default from limits
    bare = _container("sidecar")
    code, status = _refusal(
        lambda: core.create_namespaced_pod(NS, _pod("lightning-asr-7d9f8-", only_limit, bare))
    )
    assert code == 403
    name = status["details"]["name"]
    assert name.startswith("lightning-asr-7d9f8-") and len(name) == len("lightning-asr-7d9f8-") + 5
    assert status["message"] == (
        f'pods "{name}" is forbidden: failed quota: compute: must specify '
        "limits.memory for: sidecar; requests.memory for: sidecar"
    )
    created = core.create_namespaced_pod(NS, _pod("fine", only_limit))
    assert created.spec.containers[0].resources.requests == {"memory": "64Mi"}


def test_a_quota_with_an_unparsable_quantity_is_a_bad_request(sim_api: SimApi) -> None:
    _, api = sim_api(nodes=0)
    core = client.CoreV1Api(api)
    code, status = _refusal(
        lambda: core.create_namespaced_resource_quota(NS, _quota("bad", pods="lots"))
    )
    assert code == 400 and status["message"].startswith(
        'ResourceQuota in version "v1" cannot be handled as a ResourceQuota: quantities must match'
    )
    # a client cannot write status on create; values are stored canonical
    body = _quota("q", **{"requests.memory": "1024Mi"})
    body["status"] = {"used": {"requests.memory": "5Gi"}}
    created = core.create_namespaced_resource_quota(NS, body)
    assert created.spec.hard == {"requests.memory": "1Gi"} and not created.status.used


def _replicaset(replicas: int, memory: str = "128Mi") -> dict[str, Any]:
    return {
        "metadata": {"name": "web-5d8f9"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [_container(requests={"memory": memory})]},
            },
        },
    }


def _failure(apps: client.AppsV1Api) -> Any:
    rs = apps.read_namespaced_replica_set("web-5d8f9", NS)
    return next((c for c in rs.status.conditions or [] if c.type == "ReplicaFailure"), None)


def _failed_creates(core: client.CoreV1Api) -> list[Any]:
    return [e for e in core.list_namespaced_event(NS).items if e.reason == "FailedCreate"]


def test_a_refused_replicaset_backs_off_and_recovers_when_the_quota_is_raised(
    sim_api: SimApi,
) -> None:
    sim, api = sim_api(nodes=0)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespaced_resource_quota(NS, _quota("compute", **{"requests.memory": "300Mi"}))
    apps.create_namespaced_replica_set(NS, _replicaset(3))
    cond = wait_until(lambda: _failure(apps), 5, "ReplicaFailure")
    assert (cond.status, cond.reason) == ("True", "FailedCreate")
    pods = sorted(p.metadata.name for p in core.list_namespaced_pod(NS).items)
    assert len(pods) == 2
    assert cond.message.startswith('pods "web-5d8f9-') and cond.message.endswith(
        '" is forbidden: exceeded quota: compute, requested: requests.memory=128Mi, '
        "used: requests.memory=256Mi, limited: requests.memory=300Mi"
    )
    events = wait_until(lambda: _failed_creates(core), 5, "FailedCreate")
    first = events[0]
    assert (first.type, first.involved_object.kind, first.source.component) == (
        "Warning",
        "ReplicaSet",
        "replicaset-controller",
    )
    assert first.message == f"Error creating: {cond.message}"

    # backing off (0.5 s, 1 s, 2 s, ...), not spinning: a handful of attempts in 2.5 s
    started = len(_failed_creates(core))
    time.sleep(2.5)
    attempts = sum(e.count for e in _failed_creates(core)) - started
    assert 1 <= attempts <= 4, attempts

    sim.controllers.replicasets.max_create_backoff = 0.5
    core.patch_namespaced_resource_quota(
        "compute", NS, {"spec": {"hard": {"requests.memory": "1Gi"}}}
    )
    wait_until(lambda: len(core.list_namespaced_pod(NS).items) == 3, 8, "the third pod")
    wait_until(lambda: _failure(apps) is None, 5, "ReplicaFailure cleared")


def test_the_deployment_copies_replica_failure_and_drops_it_after_a_scale_down(
    sim_api: SimApi,
) -> None:
    _, api = sim_api(nodes=0)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespaced_resource_quota(NS, _quota("compute", pods="2"))
    body = _replicaset(3)
    body["metadata"]["name"] = "web"
    apps.create_namespaced_deployment(NS, body)

    def copied() -> Any:
        d = apps.read_namespaced_deployment("web", NS)
        return next((c for c in d.status.conditions or [] if c.type == "ReplicaFailure"), None)

    cond = wait_until(copied, 5, "the Deployment's ReplicaFailure")
    assert (cond.status, cond.reason) == ("True", "FailedCreate")
    assert cond.message.endswith(
        "is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2"
    )
    assert cond.last_update_time == cond.last_transition_time
    apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 2}})
    wait_until(lambda: copied() is None, 5, "ReplicaFailure gone after the scale-down")


@pytest.mark.kubectl
def test_kubectl_creates_gets_and_describes_a_quota(
    make_sim: Any, kubectl: Kubectl, tmp_path: Any
) -> None:
    sim: SimCluster = make_sim(tls=True, nodes=0)

    def ok(*args: str) -> str:
        done = kubectl(sim, "-n", NS, *args)
        assert done.returncode == 0, done.stderr
        return str(done.stdout)

    assert "resourcequota/compute created" in ok(
        "create", "quota", "compute", "--hard=pods=4,requests.memory=300Mi,limits.cpu=2"
    )
    pod = _pod("a", _container(requests={"memory": "200Mi"}, limits={"cpu": "1"}))
    sim.apply(
        {"apiVersion": "v1", "kind": "Pod", **pod, "metadata": {"name": "a", "namespace": NS}}
    )

    def described() -> list[list[str]]:
        return [line.split() for line in ok("describe", "quota", "compute").splitlines()]

    rows = wait_until(lambda: ["pods", "1", "4"] in (r := described()) and r, 5, "used 1 pod")
    assert ["Resource", "Used", "Hard"] in rows
    assert ["limits.cpu", "1", "2"] in rows and ["requests.memory", "200Mi", "300Mi"] in rows
    table = ok("get", "resourcequota").splitlines()
    assert table[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert table[1].split()[0] == "compute"
    assert table[1].endswith("pods: 1/4, requests.memory: 200Mi/300Mi   limits.cpu: 1/2")

    refused = kubectl(sim, "-n", NS, "run", "b", "--image=busybox")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): pods "b" is forbidden: failed quota: compute: '
        "must specify limits.cpu for: b; requests.memory for: b"
    )
