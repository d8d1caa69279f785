"""A node losing power, and getting it back.

`power_off`: the kubelet stops at once and says nothing more — no heartbeat, no node
status, no pod status, no events. Its containers are gone with the machine. The Node and
its pods stay in the API as last posted, until the node lifecycle controller notices.

`power_on`, as a kubelet coming back after a reboot does it:
- it posts its node status: the four kubelet conditions healthy again (Ready False while its
  container network is still not ready, see `network.py`), a new boot id, and the events
  `Starting` ("Starting kubelet."), Warning `Rebooted` ("Node NAME has been rebooted, boot
  id: ID") and `NodeReady` ("Node NAME status is now: NodeReady", or `NodeNotReady`);
- a pod marked for deletion while it was down is removed (its containers are already gone);
- every other pod gets a new sandbox (Normal `SandboxChanged` "Pod sandbox changed, it will
  be killed and re-created.", a new pod IP) and its containers are started again: each
  container's restartCount goes up by one and its lastState is `terminated`, reason
  `Unknown`, exit code 255, as a runtime reports a container it lost in a reboot.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from simcluster.errors import ApiError
from simcluster.kubelet.nodestatus import post_node_status, record_node_event, record_ready_change
from simcluster.kubelet.pod import PodWorker
from simcluster.store import now_rfc3339

if TYPE_CHECKING:
    from simcluster.kubelet.node import Kubelet

LOST_EXIT_CODE = 255
LOST_REASON = "Unknown"
SANDBOX_CHANGED = "Pod sandbox changed, it will be killed and re-created."


async def power_off(kubelet: Kubelet) -> None:
    """Cut the power: silence first, so nothing the dying pods do reaches the API."""
    kubelet.powered = False
    await kubelet.halt()
    kubelet.pods.clear()


async def power_on(kubelet: Kubelet) -> None:
    """Boot the node again (see the module docstring)."""
    kubelet.powered = True
    node = post_node_status(kubelet, reboot=True)
    boot = node["status"]["nodeInfo"]["bootID"]
    record_node_event(kubelet, "Starting", "Starting kubelet.")
    rebooted = f"Node {kubelet.node_name} has been rebooted, boot id: {boot}"
    record_node_event(kubelet, "Rebooted", rebooted, "Warning")
    record_ready_change(kubelet, kubelet.network_error is None)
    pods, _ = kubelet.store.list("pods", field_selector=f"spec.nodeName={kubelet.node_name}")
    kubelet.resume()
    for pod in pods:
        meta = pod["metadata"]
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        if meta.get("deletionTimestamp"):
            await kubelet.volumes.remove_pod(meta["uid"])
            with contextlib.suppress(ApiError):
                kubelet.store.remove("pods", meta["namespace"], meta["name"])
            continue
        worker = PodWorker(kubelet, pod, kubelet._allocate_ip())
        seed_after_reboot(worker, pod)
        kubelet.pods[meta["uid"]] = worker
        worker.event("SandboxChanged", SANDBOX_CHANGED)
        worker.start()
    await asyncio.sleep(0)


def seed_after_reboot(worker: PodWorker, pod: dict[str, Any]) -> None:
    """Carry each container's restart count over, its last instance lost with the machine."""
    status = pod.get("status") or {}
    worker.start_time = status.get("startTime") or worker.start_time
    now = now_rfc3339()
    for st in status.get("containerStatuses") or []:
        run = worker.containers.get(st.get("name", ""))
        if run is None or run.init or not st.get("containerID"):
            continue
        running = (st.get("state") or {}).get("running") or {}
        run.restart_count = int(st.get("restartCount", 0))
        run.started = True  # the next start is a restart
        run.container_id = str(st["containerID"])
        lost = {
            "terminated": {
                "exitCode": LOST_EXIT_CODE,
                "reason": LOST_REASON,
                "startedAt": running.get("startedAt", now),
                "finishedAt": now,
                "containerID": run.container_id,
            }
        }
        run.state = lost
        run.last_state = dict(lost)
