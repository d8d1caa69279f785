"""The API server as the official `kubernetes` client sees it: CRUD, errors, selectors,
paging, watch (reconnect, 410 then relist, selector transitions, bookmarks), patch kinds,
scale, auth (401, viewer 403, SelfSubjectAccessReview) and the test faults."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import urllib3
from kubernetes import client, watch

from collectors.watch import retry_delay
from simcluster.cluster import SimCluster
from tests.simcluster.conftest import NS, api_client


def pod(name: str, labels: dict[str, str] | None = None, command: list[str] | None = None) -> dict:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "containers": [
                {"name": "main", "image": "busybox:1.36", "command": command or ["sleep", "3600"]}
            ]
        },
    }


def deployment(name: str, replicas: int = 1, containers: list[dict] | None = None) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": containers
                    or [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}]
                },
            },
        },
    }


def wait_until(fn: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.02)


def status_of(exc: client.ApiException) -> dict:
    return json.loads(exc.body)


def test_crud_and_error_statuses(sim_client: client.ApiClient) -> None:
    v1 = client.CoreV1Api(sim_client)
    created = v1.create_namespaced_pod(NS, pod("p1", {"app": "a"}))
    assert created.metadata.uid and int(created.metadata.resource_version) > 0
    assert created.status.phase == "Pending" and created.spec.restart_policy == "Always"
    got = v1.read_namespaced_pod("p1", NS)
    assert got.metadata.uid == created.metadata.uid
    with pytest.raises(client.ApiException) as exc:
        v1.create_namespaced_pod(NS, pod("p1"))
    assert exc.value.status == 409 and status_of(exc.value)["reason"] == "AlreadyExists"
    with pytest.raises(client.ApiException) as exc:
        v1.read_namespaced_pod("missing", NS)
    body = status_of(exc.value)
    assert exc.value.status == 404 and body["reason"] == "NotFound"
    assert body["message"] == 'pods "missing" not found' and body["kind"] == "Status"
    bad = pod("p2")
    bad["spec"]["containers"][0].pop("image")
    with pytest.raises(client.ApiException) as exc:
        v1.create_namespaced_pod(NS, bad)
    body = status_of(exc.value)
    assert exc.value.status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "spec.containers[0].image"
    with pytest.raises(client.ApiException) as exc:
        v1.list_namespaced_pod(NS, label_selector="app in (a")
    assert exc.value.status == 400 and status_of(exc.value)["reason"] == "BadRequest"
    with pytest.raises(client.ApiException) as exc:
        client.BatchV1Api(sim_client).read_namespaced_job("nope", NS)
    assert status_of(exc.value)["message"] == 'jobs.batch "nope" not found'


def test_missing_content_type_means_json(sim: SimCluster) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "raw"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                }
            }
        },
    }
    url = f"{sim.url}/apis/batch/v1/namespaces/{NS}/jobs"
    headers = {"Authorization": f"Bearer {sim.admin_token}"}
    r = httpx.post(url, content=json.dumps(job).encode(), headers=headers, timeout=5)
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"]
    r = httpx.post(url, content=b"{not json", headers=headers, timeout=5)
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    headers["Content-Type"] = "application/vnd.kubernetes.protobuf"
    r = httpx.post(url, content=b"k8s\x00", headers=headers, timeout=5)
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"


def test_selectors_limit_and_continue(sim_client: client.ApiClient) -> None:
    v1 = client.CoreV1Api(sim_client)
    for i in range(5):
        v1.create_namespaced_pod(NS, pod(f"p{i}", {"app": "a" if i % 2 else "b", "idx": str(i)}))
    names = lambda items: sorted(p.metadata.name for p in items)  # noqa: E731
    assert names(v1.list_namespaced_pod(NS, label_selector="app=a").items) == ["p1", "p3"]
    assert names(
        v1.list_namespaced_pod(NS, label_selector="app in (a,b),idx notin (0,1)").items
    ) == [
        "p2",
        "p3",
        "p4",
    ]
    assert names(v1.list_namespaced_pod(NS, label_selector="!missing,idx").items) == [
        f"p{i}" for i in range(5)
    ]
    assert names(v1.list_namespaced_pod(NS, field_selector="metadata.name=p2").items) == ["p2"]
    assert (
        names(v1.list_pod_for_all_namespaces(field_selector="metadata.namespace=default").items)
        == []
    )
    page = v1.list_namespaced_pod(NS, limit=2)
    assert len(page.items) == 2 and page.metadata._continue
    rest = v1.list_namespaced_pod(NS, limit=10, _continue=page.metadata._continue)
    assert names(page.items + rest.items) == [f"p{i}" for i in range(5)]
    assert rest.metadata._continue is None
    # Once scheduled (one node), spec.nodeName selects them.
    wait_until(
        lambda: len(v1.list_namespaced_pod(NS, field_selector="spec.nodeName=node-1").items) == 5
    )


def _collect(stream: Any, out: list, stop_after: int) -> None:
    for ev in stream:
        out.append((ev["type"], ev["object"].metadata.name, ev["object"].metadata.resource_version))
        if len(out) >= stop_after:
            break


def test_watch_resumes_after_a_dropped_stream(
    sim: SimCluster, sim_client: client.ApiClient
) -> None:
    v1 = client.CoreV1Api(sim_client)
    rv = v1.list_namespaced_config_map(NS).metadata.resource_version
    w = watch.Watch()
    seen: list = []
    stream = w.stream(v1.list_namespaced_config_map, NS, resource_version=rv, _request_timeout=30)
    t = threading.Thread(target=_collect, args=(stream, seen, 6), daemon=True)
    t.start()
    for i in range(3):
        v1.create_namespaced_config_map(NS, {"metadata": {"name": f"c{i}"}})
    wait_until(lambda: len(seen) >= 3, what="first three events")
    assert sim.drop_watches() >= 1
    for i in range(3, 6):
        v1.create_namespaced_config_map(NS, {"metadata": {"name": f"c{i}"}})
    t.join(10)
    w.stop()
    assert [name for _, name, _ in seen] == [f"c{i}" for i in range(6)]  # nothing lost, no dup
    assert all(t == "ADDED" for t, _, _ in seen)


def test_expired_resource_version_gets_410_then_relist_works(make_sim: Any, tmp_path: Path) -> None:
    sim = make_sim(history=10)
    api = api_client(sim, tmp_path)
    v1 = client.CoreV1Api(api)
    old_rv = v1.list_namespaced_config_map(NS).metadata.resource_version
    for i in range(15):
        v1.create_namespaced_config_map(NS, {"metadata": {"name": f"c{i}"}})
    with pytest.raises(client.ApiException) as exc:
        for _ in watch.Watch().stream(
            v1.list_namespaced_config_map, NS, resource_version=old_rv, timeout_seconds=2
        ):
            pass
    assert exc.value.status == 410 and "Expired" in exc.value.reason
    # The raw stream is a 200 with one ERROR event carrying the Status.
    r = httpx.get(
        f"{sim.url}/api/v1/namespaces/{NS}/configmaps",
        params={"watch": "true", "resourceVersion": old_rv},
        headers={"Authorization": f"Bearer {sim.admin_token}"},
        timeout=5,
    )
    event = json.loads(r.text.splitlines()[0])
    assert r.status_code == 200 and event["type"] == "ERROR"
    assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
    relist = v1.list_namespaced_config_map(NS)
    assert len(relist.items) == 15
    seen: list = []
    stream = watch.Watch().stream(
        v1.list_namespaced_config_map,
        NS,
        resource_version=relist.metadata.resource_version,
        timeout_seconds=5,
    )
    t = threading.Thread(target=_collect, args=(stream, seen, 1), daemon=True)
    t.start()
    time.sleep(0.2)
    v1.create_namespaced_config_map(NS, {"metadata": {"name": "after"}})
    t.join(10)
    assert seen and seen[0][:2] == ("ADDED", "after")
    api.close()


def _raw_watch(
    sim: SimCluster, path: str, params: dict[str, str], events: list, stop: threading.Event
) -> None:
    with httpx.stream(
        "GET",
        f"{sim.url}{path}",
        params={"watch": "true", **params},
        headers={"Authorization": f"Bearer {sim.admin_token}"},
        timeout=httpx.Timeout(10, read=10),
    ) as r:
        for line in r.iter_lines():
            if line:
                events.append(json.loads(line))
            if stop.is_set():
                return


def test_watch_with_selector_sees_objects_leave_and_enter(
    sim: SimCluster, sim_client: client.ApiClient
) -> None:
    v1 = client.CoreV1Api(sim_client)
    v1.create_namespaced_config_map(NS, {"metadata": {"name": "x", "labels": {"tier": "hot"}}})
    events: list = []
    stop = threading.Event()
    t = threading.Thread(
        target=_raw_watch,
        args=(
            sim,
            f"/api/v1/namespaces/{NS}/configmaps",
            {"labelSelector": "tier=hot", "timeoutSeconds": "1"},
            events,
            stop,
        ),
        daemon=True,
    )
    t.start()
    wait_until(lambda: events, what="initial ADDED")
    v1.patch_namespaced_config_map("x", NS, {"metadata": {"labels": {"tier": "cold"}}})
    v1.create_namespaced_config_map(NS, {"metadata": {"name": "y", "labels": {"tier": "cold"}}})
    v1.patch_namespaced_config_map("x", NS, {"metadata": {"labels": {"tier": "hot"}}})
    wait_until(lambda: len(events) >= 3, what="three events")
    stop.set()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events[:3]] == [
        ("ADDED", "x"),
        ("DELETED", "x"),
        ("ADDED", "x"),
    ]
    assert events[0]["object"]["kind"] == "ConfigMap" and events[0]["object"]["apiVersion"] == "v1"
    t.join(10)


def test_bookmarks_and_timeout(make_sim: Any) -> None:
    sim = make_sim(bookmark_interval=0.2)
    events: list = []
    start = time.monotonic()
    _raw_watch(
        sim,
        f"/api/v1/namespaces/{NS}/pods",
        {"allowWatchBookmarks": "true", "timeoutSeconds": "1", "resourceVersion": "1"},
        events,
        threading.Event(),
    )
    assert 0.9 <= time.monotonic() - start < 5  # the server ends the stream at timeoutSeconds
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert len(bookmarks) >= 2
    assert bookmarks[0]["object"]["kind"] == "Pod"
    assert int(bookmarks[-1]["object"]["metadata"]["resourceVersion"]) > 1


def test_patch_kinds_and_scale(sim_client: client.ApiClient) -> None:
    apps = client.AppsV1Api(sim_client)
    containers: list[dict[str, Any]] = [
        {
            "name": "a",
            "image": "busybox:1",
            "command": ["sleep", "9"],
            "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
        },
        {"name": "b", "image": "busybox:1", "command": ["sleep", "9"]},
    ]
    apps.create_namespaced_deployment(NS, deployment("d", containers=containers))
    smp = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "a",
                            "env": [{"name": "Y", "value": "3"}, {"name": "X", "$patch": "delete"}],
                        }
                    ]
                }
            }
        }
    }
    out = apps.patch_namespaced_deployment("d", NS, smp)  # the client's default: strategic merge
    cs = out.spec.template.spec.containers
    assert [c.name for c in cs] == ["a", "b"]
    assert [(e.name, e.value) for e in cs[0].env] == [("Y", "3")]
    assert out.metadata.generation == 2
    merge = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "a", "image": "busybox:2", "command": ["sleep", "9"]}]
                }
            }
        }
    }
    out = apps.patch_namespaced_deployment(
        "d", NS, merge, _content_type="application/merge-patch+json"
    )
    assert [c.name for c in out.spec.template.spec.containers] == [
        "a"
    ]  # merge patch replaces lists
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 2},
    ]
    out = apps.patch_namespaced_deployment(
        "d", NS, ops, _content_type="application/json-patch+json"
    )
    assert out.spec.replicas == 2
    with pytest.raises(client.ApiException) as exc:
        apps.patch_namespaced_deployment(
            "d",
            NS,
            [{"op": "test", "path": "/spec/replicas", "value": 9}],
            _content_type="application/json-patch+json",
        )
    assert exc.value.status == 422
    scale = apps.read_namespaced_deployment_scale("d", NS)
    assert scale.spec.replicas == 2 and scale.status.selector.startswith("app=d")
    apps.patch_namespaced_deployment_scale("d", NS, {"spec": {"replicas": 3}})
    assert apps.read_namespaced_deployment("d", NS).spec.replicas == 3
    # A stale resourceVersion on replace is a Conflict.
    current = apps.read_namespaced_deployment("d", NS)
    current.metadata.resource_version = "1"
    with pytest.raises(client.ApiException) as exc:
        apps.replace_namespaced_deployment("d", NS, current)
    assert exc.value.status == 409 and status_of(exc.value)["reason"] == "Conflict"


def test_viewer_may_read_but_not_write(
    sim: SimCluster, sim_client: client.ApiClient, viewer_client: client.ApiClient
) -> None:
    client.CoreV1Api(sim_client).create_namespaced_pod(NS, pod("p"))
    viewer = client.CoreV1Api(viewer_client)
    assert [p.metadata.name for p in viewer.list_namespaced_pod(NS).items] == ["p"]
    attempts = [
        lambda: viewer.create_namespaced_pod(NS, pod("q")),
        lambda: viewer.patch_namespaced_pod("p", NS, {"metadata": {"labels": {"x": "y"}}}),
        lambda: viewer.delete_namespaced_pod("p", NS),
        lambda: client.AppsV1Api(viewer_client).create_namespaced_deployment(NS, deployment("d")),
    ]
    for attempt in attempts:
        with pytest.raises(client.ApiException) as exc:
            attempt()
        body = status_of(exc.value)
        assert exc.value.status == 403 and body["reason"] == "Forbidden"
        assert 'User "sim-viewer" cannot' in body["message"]
    # Exec is a WebSocket GET that needs "create" on pods/exec.
    r = httpx.get(
        f"{sim.url}/api/v1/namespaces/{NS}/pods/p/exec",
        params={"command": "ls", "stdout": "true"},
        headers={
            "Authorization": f"Bearer {sim.viewer_token}",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Protocol": "v5.channel.k8s.io",
        },
        timeout=5,
    )
    assert r.status_code == 403
    assert 'cannot create resource "pods/exec"' in r.json()["message"]


@pytest.mark.parametrize(
    ("user", "verb", "resource", "subresource", "allowed"),
    [
        ("admin", "delete", "pods", "", True),
        ("admin", "create", "pods", "exec", True),
        ("viewer", "list", "pods", "", True),
        ("viewer", "get", "pods", "log", True),
        ("viewer", "get", "nodes", "proxy", True),
        ("viewer", "delete", "pods", "", False),
        ("viewer", "create", "pods", "exec", False),
        ("viewer", "patch", "deployments", "", False),
    ],
)
def test_self_subject_access_review_matches_enforcement(
    sim: SimCluster,
    tmp_path: Path,
    user: str,
    verb: str,
    resource: str,
    subresource: str,
    allowed: bool,
) -> None:
    api = api_client(sim, tmp_path, user=user)
    review = client.AuthorizationV1Api(api).create_self_subject_access_review(
        {
            "spec": {
                "resourceAttributes": {
                    "namespace": NS,
                    "verb": verb,
                    "resource": resource,
                    "subresource": subresource,
                }
            }
        }
    )
    assert review.status.allowed is allowed
    api.close()


def test_tokens_are_required(sim: SimCluster) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {sim.admin_token}"},
    ):
        r = httpx.get(f"{sim.url}/api/v1/namespaces/{NS}/pods", headers=headers, timeout=5)
        assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"
    r = httpx.get(f"{sim.url}/version", timeout=5)  # public, as on a real cluster
    assert r.status_code == 200 and (r.json()["major"], r.json()["minor"]) == ("1", "32")
    assert httpx.get(f"{sim.url}/healthz", timeout=5).text == "ok"


def test_discovery_aggregated_and_legacy(sim: SimCluster, sim_client: client.ApiClient) -> None:
    auth = {"Authorization": f"Bearer {sim.admin_token}"}
    accept = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
        "application/json"
    )
    r = httpx.get(f"{sim.url}/apis", headers={**auth, "Accept": accept}, timeout=5)
    assert (
        r.headers["Content-Type"]
        == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    )
    groups = {g["metadata"]["name"]: g for g in r.json()["items"]}
    assert set(groups) == {"apps", "batch", "authorization.k8s.io", "storage.k8s.io"}
    deploy = next(
        x for x in groups["apps"]["versions"][0]["resources"] if x["resource"] == "deployments"
    )
    assert deploy["scope"] == "Namespaced" and deploy["shortNames"] == ["deploy"]
    assert {s["subresource"] for s in deploy["subresources"]} == {"scale", "status"}
    core = httpx.get(f"{sim.url}/api", headers={**auth, "Accept": accept}, timeout=5).json()
    pods = next(x for x in core["items"][0]["versions"][0]["resources"] if x["resource"] == "pods")
    assert {s["subresource"] for s in pods["subresources"]} >= {"log", "exec"}
    assert client.CoreApi(sim_client).get_api_versions().versions == ["v1"]
    legacy = client.ApisApi(sim_client).get_api_versions()
    assert {g.name for g in legacy.groups} == {
        "apps",
        "batch",
        "authorization.k8s.io",
        "storage.k8s.io",
    }
    resources = client.AppsV1Api(sim_client).get_api_resources()
    assert {"deployments", "deployments/scale", "replicasets"} <= {
        x.name for x in resources.resources
    }


def test_table_for_kubectl_get(sim: SimCluster, sim_client: client.ApiClient) -> None:
    client.CoreV1Api(sim_client).create_namespaced_pod(NS, pod("p"))
    accept = (
        "application/json;as=Table;v=v1;g=meta.k8s.io,"
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
    )
    r = httpx.get(
        f"{sim.url}/api/v1/namespaces/{NS}/pods",
        params={"limit": "500"},
        headers={"Authorization": f"Bearer {sim.admin_token}", "Accept": accept},
        timeout=5,
    )
    table = r.json()
    assert r.headers["Content-Type"].startswith("application/json;as=Table;v=v1;g=meta.k8s.io")
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    row = table["rows"][0]
    assert row["cells"][0] == "p" and row["cells"][1] in ("0/1", "1/1")
    assert row["object"]["kind"] == "PartialObjectMetadata"


def test_a_throttled_request_is_told_when_to_come_back(sim: SimCluster, tmp_path: Path) -> None:
    """API Priority and Fairness rejects with 429 and Retry-After; the watchers honour it.
    (urllib3 under the official client already retries such an answer 3 times, a second
    apart as told: the outage outlasts that.)"""
    api = api_client(sim, tmp_path)
    sim.set_api_outage(30, status=429)
    with pytest.raises(client.ApiException) as exc:
        client.CoreV1Api(api).list_namespaced_pod(NS)
    status = status_of(exc.value)
    assert exc.value.status == 429 and status["reason"] == "TooManyRequests"
    assert status["message"] == "Too many requests, please try again later."
    assert exc.value.headers["Retry-After"] == "1"
    # What the collectors' watchers wait before asking again: never less than it says.
    assert retry_delay(exc.value, 0.5) == 1.0 and retry_delay(exc.value, 4.0) == 4.0
    sim.set_api_outage(0)
    api.close()


def test_outage_drop_and_listener_restart(sim: SimCluster, tmp_path: Path) -> None:
    api = api_client(sim, tmp_path)
    api.configuration.retries = False
    v1 = client.CoreV1Api(api)
    # Long enough that the first request surely falls inside it on a loaded machine.
    sim.set_api_outage(1.5, status=503)
    with pytest.raises(client.ApiException) as exc:
        v1.list_namespaced_pod(NS)
    assert exc.value.status == 503 and status_of(exc.value)["reason"] == "ServiceUnavailable"

    def served() -> bool:
        try:
            v1.list_namespaced_pod(NS)
        except client.ApiException as e:
            assert e.status == 503, e
            return False
        return True

    wait_until(served, what="the outage to end on its own")
    port = sim.port
    sim.run(sim.stop_api())
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        v1.list_namespaced_pod(NS, _request_timeout=2)
    sim.run(sim.start_api())
    assert sim.port == port
    assert v1.list_namespaced_pod(NS).items == []
    api.close()


def test_graceful_pod_delete_and_job_orphan_default(
    sim: SimCluster, sim_client: client.ApiClient
) -> None:
    v1 = client.CoreV1Api(sim_client)
    v1.create_namespaced_pod(NS, pod("p"))
    wait_until(
        lambda: v1.read_namespaced_pod("p", NS).status.phase == "Running", what="pod running"
    )
    deleted = v1.delete_namespaced_pod("p", NS)
    assert deleted.metadata.deletion_timestamp is not None  # the kubelet finishes it
    wait_until(
        lambda: not v1.list_namespaced_pod(NS, field_selector="metadata.name=p").items,
        what="pod gone",
    )
    batch = client.BatchV1Api(sim_client)
    job = {
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "30"]}],
                }
            }
        },
    }
    batch.create_namespaced_job(NS, job)
    wait_until(
        lambda: v1.list_namespaced_pod(NS, label_selector="job-name=j").items, what="job pod"
    )
    status = batch.delete_namespaced_job("j", NS)  # no propagationPolicy: Orphan, as upstream
    assert (status["status"] if isinstance(status, dict) else status.status) == "Success"
    time.sleep(0.3)
    pods = v1.list_namespaced_pod(NS, label_selector="job-name=j").items
    assert len(pods) == 1 and pods[0].metadata.owner_references is None
    batch.create_namespaced_job(NS, job)
    wait_until(
        lambda: len(v1.list_namespaced_pod(NS, label_selector="job-name=j").items) == 2,
        what="second pod",
    )
    batch.delete_namespaced_job("j", NS, propagation_policy="Background")
    wait_until(
        lambda: len(v1.list_namespaced_pod(NS, label_selector="job-name=j").items) == 1,
        what="cascade",
    )


def test_dry_run_and_delete_collection(sim_client: client.ApiClient) -> None:
    v1 = client.CoreV1Api(sim_client)
    v1.create_namespaced_config_map(NS, {"metadata": {"name": "dry"}}, dry_run="All")
    assert v1.list_namespaced_config_map(NS).items == []
    for i in range(4):
        v1.create_namespaced_config_map(
            NS, {"metadata": {"name": f"c{i}", "labels": {"keep": str(i % 2)}}}
        )
    v1.delete_collection_namespaced_config_map(NS, label_selector="keep=0")
    assert sorted(c.metadata.name for c in v1.list_namespaced_config_map(NS).items) == ["c1", "c3"]


def test_tls_with_the_generated_certificate(tls_sim: SimCluster, tmp_path: Path) -> None:
    assert tls_sim.url.startswith("https://127.0.0.1:")
    api = api_client(tls_sim, tmp_path)  # verifies the server against the kubeconfig's CA data
    assert [n.metadata.name for n in client.CoreV1Api(api).list_node().items] == ["node-1"]
    api.close()
    with pytest.raises(httpx.ConnectError):  # an unknown CA is refused, so the check is real
        httpx.get(f"{tls_sim.url}/version", timeout=5)


async def test_cluster_on_the_tests_own_loop(async_sim: SimCluster) -> None:
    """The async fixture: the store is touched directly, the API over loopback."""
    async_sim.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": NS}}
    )
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {async_sim.admin_token}"}
    ) as http:
        r = await http.get(f"{async_sim.url}/api/v1/namespaces/{NS}/configmaps/c", timeout=5)
    assert r.status_code == 200 and r.json()["metadata"]["uid"]
    node = await async_sim.wait_for(
        lambda: async_sim.store.peek("nodes", None, "node-1"), what="node"
    )
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.32.0"


@pytest.mark.parametrize("subresource", ["scale", "status"])
def test_a_patch_never_conflicts_with_a_write_made_while_its_body_arrived(
    sim: SimCluster, sim_client: client.ApiClient, monkeypatch: pytest.MonkeyPatch, subresource: str
) -> None:
    """A controller that writes the object while a patch's body is still being read must not
    turn the patch (which names no resourceVersion) into a 409: the API server retries those."""
    from simcluster.apiserver import rest

    apps = client.AppsV1Api(sim_client)
    apps.create_namespaced_deployment(NS, deployment("racy"))
    original = rest.read_body

    async def read_while_a_controller_writes(request: Any, *args: Any, **kwargs: Any) -> Any:
        body = await original(request, *args, **kwargs)
        if request.method == "PATCH":
            obj = sim.store.get("deployments", NS, "racy")
            obj["metadata"].setdefault("annotations", {})["bumped"] = str(time.monotonic())
            sim.store.update("deployments", obj)  # a new resourceVersion, mid-request
        return body

    monkeypatch.setattr(rest, "read_body", read_while_a_controller_writes)
    if subresource == "scale":
        out = apps.patch_namespaced_deployment_scale("racy", NS, {"spec": {"replicas": 2}})
        assert out.spec.replicas == 2
    else:
        out = apps.patch_namespaced_deployment_status(
            "racy", NS, {"status": {"observedGeneration": 7}}
        )
        assert out.status.observed_generation == 7
    assert apps.read_namespaced_deployment("racy", NS).metadata.annotations["bumped"]
