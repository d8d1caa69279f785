"""Container resources as the API server keeps them: requests defaulted from limits on Pods
(not on templates), the QoS class the API server sets and the kubelet keeps, bad quantities
refused. Judged by the official client over the cluster's socket."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from simcluster.cluster import SimCluster
from tests.polling import wait_until

NS = "smallest"


def _pod(name: str, resources: dict[str, Any], init: dict[str, Any] | None = None) -> dict:
    spec: dict[str, Any] = {
        "containers": [
            {"name": "main", "image": "busybox", "command": ["sleep", "60"], "resources": resources}
        ]
    }
    if init is not None:
        spec["initContainers"] = [
            {"name": "init", "image": "busybox", "command": ["true"], "resources": init}
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


@pytest.mark.parametrize(
    ("resources", "init", "qos"),
    [
        ({}, None, "BestEffort"),
        ({"limits": {"memory": "128Mi"}}, None, "Burstable"),  # no cpu limit
        ({"limits": {"cpu": "1", "memory": "128Mi"}}, None, "Guaranteed"),
        (
            {"limits": {"cpu": "1", "memory": "128Mi"}, "requests": {"cpu": "1000m"}},
            None,
            "Guaranteed",
        ),
        (
            {"limits": {"cpu": "1", "memory": "128Mi"}, "requests": {"memory": "64Mi"}},
            None,
            "Burstable",
        ),
        ({"limits": {"cpu": "1", "memory": "128Mi"}}, {}, "Burstable"),  # the init container too
        (
            {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}},
            None,
            "BestEffort",
        ),
    ],
)
def test_qos_class_from_requests_and_limits(
    sim: SimCluster, sim_client: client.ApiClient, resources: dict, init: dict | None, qos: str
) -> None:
    core = client.CoreV1Api(sim_client)
    created = core.create_namespaced_pod(NS, _pod("q", resources, init))
    assert created.status.qos_class == qos
    wait_until(
        lambda: (core.read_namespaced_pod("q", NS).status.container_statuses or [None])[0],
        timeout=5,
        what="the kubelet's status",
    )
    assert core.read_namespaced_pod("q", NS).status.qos_class == qos  # the kubelet agrees


def test_a_pod_requests_its_limits_but_a_template_does_not(sim_client: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(sim_client), client.AppsV1Api(sim_client)
    pod = core.create_namespaced_pod(
        NS, _pod("lim", {"limits": {"memory": "128Mi"}, "requests": {"cpu": "250m"}})
    )
    res = pod.spec.containers[0].resources
    assert res.limits == {"memory": "128Mi"}
    assert res.requests == {"cpu": "250m", "memory": "128Mi"}
    template = {
        "metadata": {"labels": {"app": "t"}},
        "spec": _pod("t", {"limits": {"memory": "128Mi"}})["spec"],
    }
    deploy = apps.create_namespaced_deployment(
        NS,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "t"},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "t"}},
                "template": template,
            },
        },
    )
    assert deploy.spec.template.spec.containers[0].resources.requests is None


def test_a_bad_quantity_is_refused(sim_client: client.ApiClient) -> None:
    core = client.CoreV1Api(sim_client)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(NS, _pod("bad", {"limits": {"memory": "128MB"}}))
    assert err.value.status == 422
    assert "spec.containers[0].resources.limits[memory]" in err.value.body
