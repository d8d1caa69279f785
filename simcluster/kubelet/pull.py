"""The kubelet's image pulls: ErrImagePull, ImagePullBackOff and their events, as 1.32 makes them.

A container's image is "ensured" before the container is created (kubelet `imageManager.
EnsureImageExists`). An image the nodes have gives `Pulled` (`Container image "X" already
present on machine`). Otherwise the kubelet pulls it, unless the pod's last pull of that image
failed less than a back-off ago:

- pull: `Pulling` (Normal, `Pulling image "X"`), then either `Pulled` (`Successfully pulled
  image "X" in 812ms (812ms including waiting). Image size: N bytes.`) or `Failed` (Warning,
  `Failed to pull image "X": <runtime error>`); the container waits with reason
  `ErrImagePull` and the runtime's error (containerd's wording) as its message;
- in back-off: `BackOff` (Normal, `Back-off pulling image "X"`); the container waits with
  reason `ImagePullBackOff` and the message `Back-off pulling image "X": ErrImagePull: <the
  last error>` (1.32 adds the last error).

The caller (the pod worker) adds `Failed` (Warning, `Error: ErrImagePull` / `Error:
ImagePullBackOff`), as kuberuntime's startContainer does. The back-off is client-go's
`flowcontrol.Backoff` keyed by pod UID and image: 10 s, doubling up to 300 s, forgotten after
twice that without a failure. The pod worker retries a failed sync after 10 s (the kubelet's
`backOffPeriod`), and the first failure of a pod's image is looked at again after 1 s (the
sandbox the first sync started wakes the pod worker), so ErrImagePull turns into
ImagePullBackOff at once, then every retry inside the back-off repeats `BackOff` and every
retry after it pulls again. `Kubelet.retry` scales all of these (10 s on a real node).

An "unauthorized" image is served once the pod names, in `imagePullSecrets`, a Secret of
type `kubernetes.io/dockerconfigjson` (or `dockercfg`) with credentials for its registry;
a pull secret that does not exist gives `FailedToRetrieveImagePullSecret` on the pod.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simcluster.kubelet.images import DOCKER_HUB, ImageRegistry, parse_image, registry_host

KUBELET_RETRY = 10.0  # the kubelet's backOffPeriod: a failed pod sync is tried again after it
# Real kubelet values (pkg/kubelet: MaxContainerBackOff, the first look), in units of retry.
BACKOFF_CAP_FACTOR = 30  # 300 s when the retry is 10 s
FIRST_LOOK_FACTOR = 0.1  # 1 s: the sandbox's start wakes the pod worker after a first failure

Report = Callable[[str, str, str], None]  # (reason, message, type) -> records a pod event


def runtime_error(image_ref: str, why: str) -> str:
    """containerd's answer to a refused pull, as the kubelet passes it on (gRPC status text)."""
    name = parse_image(image_ref)
    head = f'failed to pull and unpack image "{name}": failed to resolve reference "{name}"'
    if why == "not-found":
        return f"rpc error: code = NotFound desc = {head}: {name}: not found"
    if name.domain == DOCKER_HUB:
        detail = (
            "pull access denied, repository does not exist or may require authorization: "
            "server message: insufficient_scope: authorization failed"
        )
    else:
        ref = name.digest or name.tag
        detail = (
            f"unexpected status from HEAD request to https://{name.domain}/v2/{name.path}"
            f"/manifests/{ref}: 401 Unauthorized"
        )
    return f"rpc error: code = Unknown desc = {head}: {detail}"


def go_duration(seconds: float) -> str:
    """A duration as Go prints a time.Duration truncated to milliseconds (`812ms`, `1.5s`)."""
    ms = int(seconds * 1000)
    if ms < 1000:
        return f"{ms}ms"
    minutes, rest = divmod(ms, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


@dataclass
class BackOff:
    """client-go's flowcontrol.Backoff without jitter: per key, `initial` doubling to `cap`."""

    initial: float
    cap: float
    entries: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (delay, at)

    def next(self, key: str, now: float) -> None:
        entry = self.entries.get(key)
        if entry is None or now - entry[1] > 2 * self.cap:
            self.entries[key] = (self.initial, now)
        else:
            self.entries[key] = (min(entry[0] * 2, self.cap), now)

    def in_backoff(self, key: str, now: float) -> bool:
        entry = self.entries.get(key)
        return entry is not None and now - entry[1] < entry[0]


@dataclass(frozen=True)
class PullResult:
    """What ensuring an image gave: ok, or the container's waiting reason and message."""

    ok: bool
    reason: str = ""
    message: str = ""
    retry_in: float = 0.0  # when the pod worker looks again


class ImagePuller:
    """One node's image manager: pulls through the cluster's registry, with per-pod back-off."""

    def __init__(self, registry: ImageRegistry, retry: float) -> None:
        self.registry = registry
        self.retry = retry
        self.backoff = BackOff(retry, retry * BACKOFF_CAP_FACTOR)
        self._last_error: dict[str, str] = {}

    async def ensure(
        self, pod: dict[str, Any], image: str, report: Report, credentials: set[str]
    ) -> PullResult:
        """Make sure the node has `image` for this pod, reporting events as the kubelet does.

        `credentials`: the registries the pod's pull secrets hold credentials for.
        """
        if self.registry.is_pulled(image):
            report("Pulled", f'Container image "{image}" already present on machine', "Normal")
            return PullResult(True)
        key = f"{pod['metadata']['uid']}_{image}"
        now = time.monotonic()
        if self.backoff.in_backoff(key, now):
            message = f'Back-off pulling image "{image}"'
            report("BackOff", message, "Normal")
            last = self._last_error.get(key)
            return PullResult(
                False, "ImagePullBackOff", f"{message}: {last}" if last else message, self.retry
            )
        self._last_error.pop(key, None)
        report("Pulling", f'Pulling image "{image}"', "Normal")
        why = self.registry.refusal(image)
        if why == "unauthorized" and registry_host(parse_image(image).domain) in credentials:
            why = None
        if why is not None:
            error = runtime_error(image, why)
            report("Failed", f'Failed to pull image "{image}": {error}', "Warning")
            first = key not in self.backoff.entries
            self.backoff.next(key, time.monotonic())
            self._last_error[key] = f"ErrImagePull: {error}"
            look = self.retry * (FIRST_LOOK_FACTOR if first else 1)
            return PullResult(False, "ErrImagePull", error, look)
        started = time.monotonic()
        files = await self.registry.pull(image)
        took = go_duration(time.monotonic() - started)
        size = sum(f.host_path.stat().st_size for f in files) + _base_size(image)
        report(
            "Pulled",
            f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
            f"Image size: {size} bytes.",
            "Normal",
        )
        return PullResult(True)

    def forget(self, pod_uid: str) -> None:
        """A pod is gone: its back-off entries and last errors go too."""
        prefix = f"{pod_uid}_"
        for table in (self.backoff.entries, self._last_error):
            for key in [k for k in table if k.startswith(prefix)]:
                del table[key]


def _base_size(image: str) -> int:
    """A stable, plausible size for an image's base layers (30-230 MB)."""
    return (
        30_000_000
        + int.from_bytes(hashlib.sha256(image.encode()).digest()[:4], "big") % 200_000_000
    )


def pull_credentials(store: Any, pod: dict[str, Any], report: Report) -> set[str]:
    """The registries the pod's imagePullSecrets have credentials for.

    A pull secret that does not exist is reported as the kubelet does (the pull goes on).
    """
    namespace = pod["metadata"].get("namespace", "default")
    hosts: set[str] = set()
    missing: list[str] = []
    for ref in (pod.get("spec") or {}).get("imagePullSecrets") or []:
        name = (ref or {}).get("name") or ""
        if not name:
            continue
        secret = store.peek("secrets", namespace, name)
        if secret is None:
            missing.append(name)
            continue
        hosts |= _secret_registries(secret)
    if missing:
        report(
            "FailedToRetrieveImagePullSecret",
            f"Unable to retrieve some image pull secrets ({', '.join(missing)}); attempting to "
            "pull the image may not succeed.",
            "Warning",
        )
    return hosts


def _secret_registries(secret: dict[str, Any]) -> set[str]:
    kind = secret.get("type")
    key = {
        "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
        "kubernetes.io/dockercfg": ".dockercfg",
    }.get(str(kind))
    raw = (secret.get("data") or {}).get(key or "")
    if not raw:
        return set()
    try:
        doc = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return set()
    if not isinstance(doc, dict):
        return set()
    auths = doc.get("auths", {}) if kind == "kubernetes.io/dockerconfigjson" else doc
    return {registry_host(str(server)) for server in auths} if isinstance(auths, dict) else set()
