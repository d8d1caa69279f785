"""What the API server answers when it cannot reach a node's kubelet (the node is down).

kube-apiserver dials the kubelet at the node's InternalIP, port 10250; for a machine that
lost its power or network the dial fails with `connect: no route to host`. Each proxied
path words the failure its own way, as v1.32 does:

- logs (the API server's own GET of /containerLogs): 500, no reason, `Get
  "https://IP:10250/containerLogs/NS/POD/CONTAINER": dial tcp IP:10250: connect: no route
  to host`
- exec (the upgrade-aware proxy): 500, no reason, `error dialing backend: dial tcp ...`
- node proxy (stats/summary): 503 ServiceUnavailable, `error trying to reach service: dial tcp ...`
"""

from __future__ import annotations

from typing import Any

from simcluster.errors import ApiError
from simcluster.kubelet.registry import agents

KUBELET_PORT = 10250
DIAL_FAILURE = "dial tcp {ip}:{port}: connect: no route to host"


def kubelet_down(cluster: Any, node: str | None) -> bool:
    """True when `node` has a kubelet here and its machine is off."""
    kubelet = agents(cluster).kubelets.get(node) if node else None
    return kubelet is not None and not kubelet.powered


def node_ip(cluster: Any, node: str) -> str:
    """The node's InternalIP, which the API server dials."""
    obj = cluster.store.peek("nodes", None, node) or {}
    for addr in (obj.get("status") or {}).get("addresses") or []:
        if addr.get("type") == "InternalIP":
            return str(addr.get("address"))
    kubelet = agents(cluster).kubelets.get(node)
    return str(getattr(kubelet, "host_ip", "127.0.0.1"))


def _dial(cluster: Any, node: str) -> str:
    return DIAL_FAILURE.format(ip=node_ip(cluster, node), port=KUBELET_PORT)


def logs_error(cluster: Any, node: str, namespace: str, pod: str, container: str) -> ApiError:
    ip = node_ip(cluster, node)
    url = f"https://{ip}:{KUBELET_PORT}/containerLogs/{namespace}/{pod}/{container}"
    return ApiError(500, "", f'Get "{url}": {_dial(cluster, node)}')


def exec_error(cluster: Any, node: str) -> ApiError:
    return ApiError(500, "", f"error dialing backend: {_dial(cluster, node)}")


def proxy_error(cluster: Any, node: str) -> ApiError:
    return ApiError(
        503, "ServiceUnavailable", f"error trying to reach service: {_dial(cluster, node)}"
    )
