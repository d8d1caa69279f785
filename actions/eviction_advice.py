"""What to change for a pod the kubelet evicted. Over its emptyDir's ``sizeLimit`` the model does
not fit: a replacement downloads again and is evicted again, so the limit must rise above the
model (or the cache move to a PVC). Any other eviction is over: its ReplicaSet replaced it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from actions.advice import Advice, kubectl, model_size, raised
from actions.targets import deployment_of, owner_name
from collectors.kube import quantity
from collectors.model import ClusterSnapshot, PodInfo
from collectors.units import format_bytes

# The kubelet's words: Usage of EmptyDir volume "models" exceeds the limit "134217728".
_OVER = re.compile(r'EmptyDir volume "([^"]+)" exceeds the limit "([^"]+)"')
HEADROOM = 0.25  # beyond the model's size, for its partial's state and the file system's own


@dataclass(frozen=True)
class Overflow:
    """An eviction over an emptyDir's sizeLimit."""

    volume: str
    limit: int  # bytes
    written: str  # the limit as the kubelet wrote it: "134217728", "128Mi"


def evicted_why(pod: PodInfo) -> str:
    """The evidence, the limit in words beside the kubelet's quantity (``"134217728" (128.0
    MiB)``)."""
    message = pod.status_message or "no message"
    over = _over(pod)
    if over is not None:
        written = f'"{over.written}"'
        message = message.replace(written, f"{written} ({format_bytes(over.limit)})", 1)
    return f"the pod was evicted: {message}"


def eviction_advice(snapshot: ClusterSnapshot, pod: PodInfo) -> Advice:
    if pod.cache_kind != "emptyDir" or "EmptyDir" not in (pod.status_message or ""):
        return Advice("Its ReplicaSet has started a replacement; deleting this pod only tidies up.")
    over, model = _over(pod), model_size(snapshot, pod)
    limit = f" of {format_bytes(over.limit)}" if over is not None else ""
    size_of = f" (the model is {format_bytes(model)})" if model else ""
    said = (
        f"The model does not fit in the emptyDir's sizeLimit{limit}: a replacement pod "
        f"downloads again and is evicted again. Raise the volume's sizeLimit in {owner_name(pod)} "
        f"above what the model and its partial take{size_of}, or cache the model on a PVC."
    )
    deployment = deployment_of(pod)
    if over is None or deployment is None:
        return Advice(said)
    size, how = raised(over.limit, model, HEADROOM)
    said += (
        f" The command below sets it to {size}, an estimate: {how}, rounded up to whole GiB (the "
        "node must have that much ephemeral storage free). It rolls out every pod of the "
        "Deployment."
    )
    volumes = [{"name": over.volume, "emptyDir": {"sizeLimit": size}}]
    body = {"spec": {"template": {"spec": {"volumes": volumes}}}}
    patch = json.dumps(body, separators=(",", ":"))
    command = kubectl(snapshot.namespace, "patch", "deployment", deployment, "-p", patch)
    return Advice(said, (command,))


def _over(pod: PodInfo) -> Overflow | None:
    found = _OVER.search(pod.status_message or "") if pod.evicted else None
    limit = quantity(found.group(2)) if found is not None else None
    return Overflow(found.group(1), limit, found.group(2)) if found is not None and limit else None
