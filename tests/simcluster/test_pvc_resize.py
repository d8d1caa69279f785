"""Volume expansion as a 1.32 cluster with the EBS CSI driver does it, judged by the official
client and kubectl: a bound `gp3` claim grows (the volume, then the file system online, or at
the next mount when no pod has it), and the API server refuses what it refuses (a shrink, a
class that does not allow expansion, another spec change)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from simcluster.cluster import SimCluster
from tests.polling import wait_until
from tests.simcluster.conftest import NS, Kubectl, SimApi
from tests.simcluster.kubelet_helpers import exec_in_pod
from tests.simcluster.volume_helpers import deployment, events_for, pvc_volume, running

MiB = 1024 * 1024
SMALL, BIG = "8Mi", "24Mi"
IMMUTABLE = (
    "spec: Forbidden: spec is immutable after creation except resources.requests and "
    "volumeAttributesClassName for bound claims"
)
BELOW_CAPACITY = (
    "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
)
NOT_EXPANDABLE = (
    "is forbidden: only dynamically provisioned pvc can be resized and the storageclass that "
    "provisions the pvc must support resize"
)


def _claim(name: str, storage_class: str, size: str = SMALL) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": size}},
        },
    }


def _grow(size: str) -> dict[str, Any]:
    return {"spec": {"resources": {"requests": {"storage": size}}}}


def _bound(core: client.CoreV1Api, name: str) -> Any:
    return wait_until(
        lambda: (
            (pvc := core.read_namespaced_persistent_volume_claim(name, NS)).status.phase == "Bound"
            and pvc
        ),
        10,
        f"{name} bound",
    )


def _pod_with(sim: SimCluster, core: client.CoreV1Api, claim: str) -> str:
    sim.apply(deployment("app", pvc_volume(claim)))
    pods = wait_until(lambda: running(core, "app"), 20, "the pod mounting the claim running")
    return str(pods[0].metadata.name)


def _grown(core: client.CoreV1Api, name: str, size: str) -> Any:
    return wait_until(
        lambda: (
            (pvc := core.read_namespaced_persistent_volume_claim(name, NS)).status.capacity
            == {"storage": size}
            and not pvc.status.conditions
            and pvc
        ),
        10,
        f"{name} to have {size}",
    )


def _df_bytes(core: client.CoreV1Api, pod: str) -> int:
    code, out, err = exec_in_pod(core, NS, pod, "df", "-B1", "/data")
    assert code == 0, err
    return int(out.splitlines()[1].split()[1])


def _stats_capacity(core: client.CoreV1Api, pod: str, claim: str) -> int:
    summary = json.loads(
        core.connect_get_node_proxy_with_path(
            "node-1", "stats/summary", _preload_content=False
        ).data
    )
    (entry,) = [p for p in summary["pods"] if p["podRef"]["name"] == pod]
    (vol,) = [v for v in entry["volume"] if (v.get("pvcRef") or {}).get("name") == claim]
    return int(vol["capacityBytes"])


def _condition_story(core: client.CoreV1Api, name: str, rv: str, size: str) -> list[str]:
    """The resize conditions and states the claim goes through, from a watch."""
    seen: list[str] = []
    w = watch.Watch()
    for ev in w.stream(
        core.list_namespaced_persistent_volume_claim,
        NS,
        field_selector=f"metadata.name={name}",
        resource_version=rv,
        timeout_seconds=10,
    ):
        status = ev["object"].status
        states = status.allocated_resource_statuses or {}
        step = ",".join(c.type for c in status.conditions or []) + "/" + states.get("storage", "")
        if not seen or seen[-1] != step:
            seen.append(step)
        if status.capacity == {"storage": size} and not status.conditions:
            w.stop()
    return seen


def test_a_gp3_claim_grows_online_volume_claim_and_file_system(sim_api: SimApi) -> None:
    sim, api = sim_api()
    core = client.CoreV1Api(api)
    sim.apply(_claim("data", "gp3"))
    pod = _pod_with(sim, core, "data")
    assert _df_bytes(core, pod) == 8 * MiB
    rv = core.read_namespaced_persistent_volume_claim("data", NS).metadata.resource_version
    core.patch_namespaced_persistent_volume_claim("data", NS, _grow(BIG))

    story = _condition_story(core, "data", rv, BIG)
    assert story == [
        "/",  # the patch itself
        "Resizing/ControllerResizeInProgress",
        "FileSystemResizePending/NodeResizePending",
        "FileSystemResizePending/NodeResizeInProgress",
        "/",
    ]
    pvc = _grown(core, "data", BIG)
    assert pvc.spec.resources.requests == {"storage": BIG}
    assert pvc.status.allocated_resources == {"storage": BIG}
    pv = core.read_persistent_volume(pvc.spec.volume_name)
    assert pv.spec.capacity == {"storage": BIG}

    volume = pvc.spec.volume_name
    on_claim = {e.reason: e for e in events_for(core, "data")}
    expanding = on_claim["ExternalExpanding"]
    assert (expanding.type, expanding.source.component) == ("Warning", "volume_expand")
    assert expanding.message == "waiting for an external controller to expand this PVC"
    resizing = on_claim["Resizing"]
    assert resizing.source.component == "external-resizer ebs.csi.aws.com"
    assert resizing.message == f"External resizer is resizing volume {volume}"
    required = on_claim["FileSystemResizeRequired"]
    assert required.message == "Require file system resize of volume on node"
    done = f'MountVolume.NodeExpandVolume succeeded for volume "{volume}" node-1'
    assert on_claim["FileSystemResizeSuccessful"].message == done
    (on_pod,) = events_for(core, pod, "FileSystemResizeSuccessful")
    assert (on_pod.message, on_pod.source.component, on_pod.type) == (done, "kubelet", "Normal")

    assert _df_bytes(core, pod) == 24 * MiB
    assert _stats_capacity(core, pod, "data") == 24 * MiB
    assert [p.metadata.name for p in running(core, "app")] == [pod]  # online: no restart


def test_a_claim_no_pod_mounts_finishes_its_expansion_at_the_next_mount(sim_api: SimApi) -> None:
    sim, api = sim_api()
    core = client.CoreV1Api(api)
    sim.apply(_claim("data", "gp3"))
    _bound(core, "data")
    core.patch_namespaced_persistent_volume_claim("data", NS, _grow(BIG))

    def pending() -> Any:
        pvc = core.read_namespaced_persistent_volume_claim("data", NS)
        conds = pvc.status.conditions or []
        return conds and conds[0].type == "FileSystemResizePending" and pvc

    pvc = wait_until(pending, 10, "the claim waiting for a pod")
    (cond,) = pvc.status.conditions
    assert cond.status == "True" and cond.message == (
        "Waiting for user to (re-)start a pod to finish file system resize of volume on node."
    )
    assert pvc.status.capacity == {"storage": SMALL}
    assert pvc.status.allocated_resource_statuses == {"storage": "NodeResizePending"}
    assert core.read_persistent_volume(pvc.spec.volume_name).spec.capacity == {"storage": BIG}
    # RecoverVolumeExpansionFailure: while an expansion is unfinished the request may come
    # down again, but not to the capacity the claim has.
    at_capacity = _refused(
        lambda: core.patch_namespaced_persistent_volume_claim("data", NS, _grow(SMALL))
    )
    assert at_capacity.status == 422 and BELOW_CAPACITY in json.loads(at_capacity.body)["message"]
    core.patch_namespaced_persistent_volume_claim("data", NS, _grow("16Mi"))

    pod = _pod_with(sim, core, "data")
    _grown(core, "data", BIG)
    assert wait_until(lambda: events_for(core, pod, "FileSystemResizeSuccessful"), 5, "event")
    assert _df_bytes(core, pod) == 24 * MiB
    assert _stats_capacity(core, pod, "data") == 24 * MiB


def _refused(call: Any) -> ApiException:
    with pytest.raises(ApiException) as info:
        call()
    return info.value


def test_the_api_server_refuses_what_kube_apiserver_refuses(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=0)
    core = client.CoreV1Api(api)
    sim.apply([_claim("fast", "gp3"), _claim("old", "gp2"), _claim("kind", "standard")])
    for name in ("fast", "old", "kind"):
        _bound(core, name)

    shrink = _refused(
        lambda: core.patch_namespaced_persistent_volume_claim("fast", NS, _grow("4Mi"))
    )
    assert shrink.status == 422
    body = json.loads(shrink.body)
    assert body["reason"] == "Invalid"
    assert body["message"] == f'PersistentVolumeClaim "fast" is invalid: {BELOW_CAPACITY}'
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: field can not be less than status.capacity",
            "field": "spec.resources.requests.storage",
        }
    ]
    # The same size written another way is no change at all.
    core.patch_namespaced_persistent_volume_claim("fast", NS, _grow("8192Ki"))

    for name in ("old", "kind"):
        refused = _refused(
            lambda n=name: core.patch_namespaced_persistent_volume_claim(n, NS, _grow(BIG))
        )
        assert refused.status == 403
        body = json.loads(refused.body)
        assert body["reason"] == "Forbidden"
        assert body["message"] == f'persistentvolumeclaims "{name}" {NOT_EXPANDABLE}'

    modes = _refused(
        lambda: core.patch_namespaced_persistent_volume_claim(
            "fast", NS, {"spec": {"accessModes": ["ReadWriteMany"]}}
        )
    )
    assert modes.status == 422
    message = json.loads(modes.body)["message"]
    assert message.startswith(f'PersistentVolumeClaim "fast" is invalid: {IMMUTABLE}\n')
    assert '- \tAccessModes: ["ReadWriteOnce"],' in message
    assert '+ \tAccessModes: ["ReadWriteMany"],' in message

    # A replace (PUT) is judged the same way.
    pvc = core.read_namespaced_persistent_volume_claim("fast", NS)
    pvc.spec.storage_class_name = "gp2"
    replaced = _refused(lambda: core.replace_namespaced_persistent_volume_claim("fast", NS, pvc))
    assert replaced.status == 422
    assert IMMUTABLE in json.loads(replaced.body)["message"]
    assert core.read_namespaced_persistent_volume_claim("fast", NS).status.capacity == {
        "storage": SMALL
    }


def test_a_pending_claims_request_is_immutable_until_bound(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=0)
    core = client.CoreV1Api(api)
    sim.apply(_claim("waiting", "no-such-class"))
    refused = _refused(
        lambda: core.patch_namespaced_persistent_volume_claim("waiting", NS, _grow(BIG))
    )
    assert refused.status == 422
    message = json.loads(refused.body)["message"]
    assert message.startswith(f'PersistentVolumeClaim "waiting" is invalid: {IMMUTABLE}\n')
    assert "Resources:" in message


def test_kubectl_patches_gets_and_describes_a_resize(make_sim: Any, kubectl: Kubectl) -> None:
    sim = make_sim(tls=True)
    sim.apply(_claim("data", "gp3"))
    patch = json.dumps(_grow(BIG))
    done = kubectl(sim, "-n", NS, "patch", "pvc", "data", "-p", patch)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "persistentvolumeclaim/data patched"
    # No pod mounts it: the volume grows, the claim waits for one.
    wait_until(
        lambda: (
            "FileSystemResizePending" in kubectl(sim, "-n", NS, "describe", "pvc", "data").stdout
        ),
        10,
        "the claim waiting for a pod",
    )
    sim.apply(deployment("app", pvc_volume("data")))

    def capacity() -> str:
        out = kubectl(sim, "-n", NS, "get", "pvc", "data", "--no-headers").stdout.split()
        return out[3] if len(out) > 3 else ""

    wait_until(lambda: capacity() == BIG, 20, "kubectl get pvc to show the new CAPACITY")
    described = kubectl(sim, "-n", NS, "describe", "pvc", "data").stdout
    assert f"Capacity:      {BIG}" in described
    for line in (
        "ExternalExpanding",
        "waiting for an external controller to expand this PVC",
        "external-resizer ebs.csi.aws.com",
        "External resizer is resizing volume pvc-",
        "FileSystemResizeRequired",
        "Require file system resize of volume on node",
        "FileSystemResizeSuccessful",
        "MountVolume.NodeExpandVolume succeeded for volume",
    ):
        assert line in described, described

    shrink = kubectl(sim, "-n", NS, "patch", "pvc", "data", "-p", json.dumps(_grow(SMALL)))
    assert shrink.returncode != 0
    assert shrink.stderr.strip() == (
        f'The PersistentVolumeClaim "data" is invalid: {BELOW_CAPACITY}'
    )
    sim.apply(_claim("old", "gp2"))
    grow_gp2 = kubectl(sim, "-n", NS, "patch", "pvc", "old", "-p", patch)
    assert grow_gp2.returncode != 0
    assert grow_gp2.stderr.strip() == (
        f'Error from server (Forbidden): persistentvolumeclaims "old" {NOT_EXPANDABLE}'
    )
