"""The store, selectors and events: the ground the API server and the kubelets stand on."""

from __future__ import annotations

import asyncio

import pytest

from simcluster.errors import ApiError
from simcluster.events import record_event
from simcluster.selectors import parse_field_selector, parse_label_selector, selector_from_spec
from simcluster.store import Store


def _ns(store: Store, name: str = "smallest") -> None:
    store.create("namespaces", {"metadata": {"name": name}})


def _pod(name: str, labels: dict[str, str] | None = None, node: str | None = None) -> dict:
    spec: dict = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {
        "metadata": {"name": name, "namespace": "smallest", "labels": labels or {}},
        "spec": spec,
        "status": {"phase": "Pending"},
    }


def test_create_sets_server_fields_and_get_returns_a_copy() -> None:
    store = Store()
    _ns(store)
    created = store.create("pods", _pod("a"))
    meta = created["metadata"]
    assert created["kind"] == "Pod" and created["apiVersion"] == "v1"
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) == store.resource_version
    got = store.get("pods", "smallest", "a")
    got["metadata"]["labels"]["x"] = "y"
    assert "x" not in store.get("pods", "smallest", "a")["metadata"]["labels"]


def test_create_errors_are_statuses() -> None:
    store = Store()
    _ns(store)
    store.create("pods", _pod("a"))
    with pytest.raises(ApiError) as exc:
        store.create("pods", _pod("a"))
    assert exc.value.code == 409 and exc.value.reason == "AlreadyExists"
    assert exc.value.to_status()["message"] == 'pods "a" already exists'
    with pytest.raises(ApiError) as exc:
        store.create("pods", _pod("Bad_Name"))
    assert exc.value.code == 422 and exc.value.reason == "Invalid"
    assert exc.value.to_status()["details"]["causes"][0]["field"] == "metadata.name"
    with pytest.raises(ApiError) as exc:
        store.create("pods", {**_pod("b"), "metadata": {"name": "b", "namespace": "nope"}})
    assert exc.value.code == 404 and exc.value.message == 'namespaces "nope" not found'
    with pytest.raises(ApiError) as exc:
        store.get("deployments", "smallest", "x")
    assert exc.value.message == 'deployments.apps "x" not found'


def test_generate_name() -> None:
    store = Store()
    _ns(store)
    obj = store.create("pods", {"metadata": {"generateName": "web-", "namespace": "smallest"}})
    assert obj["metadata"]["name"].startswith("web-") and len(obj["metadata"]["name"]) == 9


def test_list_with_label_and_field_selectors() -> None:
    store = Store()
    _ns(store)
    store.create("pods", _pod("a", {"app": "asr", "tier": "gpu"}, node="n1"))
    store.create("pods", _pod("b", {"app": "asr"}))
    store.create("pods", _pod("c", {"app": "api"}, node="n2"))
    names = lambda items: [i["metadata"]["name"] for i in items]  # noqa: E731
    assert names(store.list("pods", "smallest", "app=asr")[0]) == ["a", "b"]
    assert names(store.list("pods", "smallest", "app!=asr")[0]) == ["c"]
    assert names(store.list("pods", "smallest", "app in (api, asr),tier")[0]) == ["a"]
    assert names(store.list("pods", "smallest", "app notin (asr)")[0]) == ["c"]
    assert names(store.list("pods", "smallest", "!tier")[0]) == ["b", "c"]
    assert names(store.list("pods", None, field_selector="spec.nodeName=")[0]) == ["b"]
    assert names(store.list("pods", None, field_selector="spec.nodeName!=,metadata.name=c")[0]) == [
        "c"
    ]
    items, rv = store.list("pods", "other")
    assert items == [] and rv == store.resource_version
    with pytest.raises(ApiError) as exc:
        store.list("pods", field_selector="spec.bogus=1")
    assert exc.value.code == 400 and "field label not supported" in exc.value.message


@pytest.mark.parametrize("text", ["app in (a", "app=,", "=x", "a b", "app in ()", "!a=b"])
def test_malformed_label_selectors_are_bad_requests(text: str) -> None:
    with pytest.raises(ApiError) as exc:
        parse_label_selector(text)
    assert exc.value.code == 400 and exc.value.reason == "BadRequest"


def test_selector_forms() -> None:
    sel = parse_label_selector("a==1, b != 2 ,c")
    assert sel.matches({"a": "1", "c": ""}) and not sel.matches({"a": "1", "b": "2", "c": "x"})
    assert parse_label_selector("a=").matches({"a": ""})
    spec = selector_from_spec(
        {
            "matchLabels": {"app": "x"},
            "matchExpressions": [{"key": "t", "operator": "DoesNotExist"}],
        }
    )
    assert spec.matches({"app": "x"}) and not spec.matches({"app": "x", "t": "1"})
    ev = {"involvedObject": {"kind": "Pod", "name": "p,q"}}
    assert parse_field_selector(
        r"involvedObject.name=p\,q,involvedObject.kind=Pod", "events"
    ).matches(ev)


def test_update_conflict_and_generation() -> None:
    store = Store()
    _ns(store)
    dep = store.create(
        "deployments",
        {"metadata": {"name": "d", "namespace": "smallest"}, "spec": {"replicas": 1}},
    )
    assert dep["metadata"]["generation"] == 1
    dep["spec"]["replicas"] = 2
    dep2 = store.update("deployments", dep)
    assert dep2["metadata"]["generation"] == 2
    with pytest.raises(ApiError) as exc:
        store.update("deployments", dep)  # stale resourceVersion
    assert exc.value.code == 409 and exc.value.reason == "Conflict"
    dep3 = store.mutate(
        "deployments", "smallest", "d", lambda o: o.setdefault("status", {}).update(replicas=2)
    )
    assert dep3["metadata"]["generation"] == 2
    rv = store.resource_version
    store.mutate("deployments", "smallest", "d", lambda o: None)
    assert store.resource_version == rv  # no change, no new version


async def test_watch_replays_history_and_expires() -> None:
    store = Store(history=5)
    _ns(store)
    start = store.resource_version
    sub = store.subscribe("pods", "smallest")
    store.create("pods", _pod("a"))
    store.mutate("pods", "smallest", "a", lambda o: o["status"].update(phase="Running"))
    store.delete("pods", "smallest", "a")
    events = [await asyncio.wait_for(sub.__anext__(), 1) for _ in range(3)]
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[2].old is not None and events[2].old["status"]["phase"] == "Running"
    assert int(events[2].object["metadata"]["resourceVersion"]) == events[2].rv
    replay = store.subscribe("pods", "smallest", since_rv=events[0].rv)
    assert [(await replay.__anext__()).type for _ in range(2)] == ["MODIFIED", "DELETED"]
    for i in range(6):
        store.create("configmaps", {"metadata": {"name": f"c{i}", "namespace": "smallest"}})
    with pytest.raises(ApiError) as exc:
        store.subscribe("pods", since_rv=start)
    assert exc.value.code == 410 and exc.value.reason == "Expired"
    assert store.close_subscriptions() == 2
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(sub.__anext__(), 1)


async def test_slow_watcher_is_closed_not_unbounded() -> None:
    store = Store(watch_queue=3)
    _ns(store)
    sub = store.subscribe("configmaps")
    for i in range(5):
        store.create("configmaps", {"metadata": {"name": f"c{i}", "namespace": "smallest"}})
    assert sub.overflowed and sub.closed
    got = [e async for e in sub]
    assert len(got) == 3


def test_graceful_pod_delete_and_cascade() -> None:
    store = Store()
    _ns(store)
    seen: list[tuple[str, str, str]] = []
    store.add_listener(
        lambda plural, ev: seen.append((plural, ev.type, ev.object["metadata"]["name"]))
    )
    rs = store.create(
        "replicasets", {"metadata": {"name": "rs", "namespace": "smallest"}, "spec": {}}
    )
    owner = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "rs",
            "uid": rs["metadata"]["uid"],
            "controller": True,
        }
    ]
    bound = _pod("bound", node="n1")
    bound["metadata"]["ownerReferences"] = owner
    loose = _pod("loose")
    loose["metadata"]["ownerReferences"] = owner
    store.create("pods", bound)
    store.create("pods", loose)
    store.delete("replicasets", "smallest", "rs")
    assert store.peek("replicasets", "smallest", "rs") is None
    assert store.peek("pods", "smallest", "loose") is None  # unscheduled: gone at once
    marked = store.get("pods", "smallest", "bound")
    assert (
        marked["metadata"]["deletionTimestamp"]
        and marked["metadata"]["deletionGracePeriodSeconds"] == 30
    )
    store.remove("pods", "smallest", "bound")  # what the kubelet does once containers stop
    assert ("pods", "DELETED", "bound") in seen
    # Orphan keeps children and strips the reference.
    rs = store.create(
        "replicasets", {"metadata": {"name": "rs2", "namespace": "smallest"}, "spec": {}}
    )
    kid = _pod("kid")
    kid["metadata"]["ownerReferences"] = [dict(owner[0], name="rs2", uid=rs["metadata"]["uid"])]
    store.create("pods", kid)
    store.delete("replicasets", "smallest", "rs2", propagation="Orphan")
    assert "ownerReferences" not in store.get("pods", "smallest", "kid")["metadata"]


def test_namespace_delete_removes_contents() -> None:
    store = Store()
    _ns(store, "tmp")
    store.create("configmaps", {"metadata": {"name": "c", "namespace": "tmp"}})
    store.delete("namespaces", None, "tmp")
    assert store.peek("namespaces", None, "tmp") is None
    assert store.list("configmaps")[0] == []


def test_events_aggregate_and_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import simcluster.events as events

    store = Store()
    _ns(store)
    _ns(store, "default")
    pod = store.create("pods", _pod("p"))
    first = record_event(store, pod, "BackOff", "Back-off restarting failed container", "Warning")
    again = record_event(store, pod, "BackOff", "Back-off restarting failed container", "Warning")
    assert again["metadata"]["name"] == first["metadata"]["name"] and again["count"] == 2
    assert (
        again["involvedObject"]["kind"] == "Pod"
        and again["involvedObject"]["namespace"] == "smallest"
    )
    node = store.create("nodes", {"metadata": {"name": "n1"}})
    assert record_event(store, node, "NodeReady", "ready")["metadata"]["namespace"] == "default"
    monkeypatch.setattr(events, "MAX_EVENTS_PER_NAMESPACE", 3)
    for i in range(5):
        record_event(store, pod, "Pulled", f"image {i}")
    assert len(store.list("events", "smallest")[0]) == 3
    found = store.list(
        "events",
        "smallest",
        field_selector=f"involvedObject.uid={pod['metadata']['uid']},reason=Pulled",
    )[0]
    assert [e["message"] for e in found] == ["image 2", "image 3", "image 4"]
