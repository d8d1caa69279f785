"""Per-cluster kubelet state: the node agents, their shared volumes and images.

Kept here (keyed weakly by the cluster object) so the HTTP routes can find the kubelet that
runs a pod without the cluster having to know the kubelet's internals.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simcluster.kubelet.images import ImageRegistry
from simcluster.kubelet.volumes import VolumeManager

if TYPE_CHECKING:
    from simcluster.kubelet.node import Kubelet


@dataclass
class KubeletSettings:
    """Kubelet timings and program settings shared by a cluster's nodes; tests may change them.

    `mount_timeout` is the volume manager's podAttachAndMountTimeout (2m3s). Kubelets since
    1.28 record nothing when it runs out (the wait's timeout is an "interrupted" error they
    keep quiet about); older ones recorded `FailedMount` "Unable to attach or mount volumes:
    ...: timed out waiting for the condition" each time: `mount_timeout_event` turns that
    older behaviour on. `eviction_interval` is how often the eviction manager looks at
    emptyDir usage (a real kubelet: every 10 s; 2 s here so a demo's eviction is prompt).
    `load_memory_factor` is the memory the Lightning ASR stand-in takes to load its model, as
    a multiple of the model file's size (a scenario's `load_memory_factor`); past the
    container's memory limit it is OOMKilled.
    """

    mount_timeout: float = 123.0
    mount_timeout_event: bool = False
    eviction_interval: float = 2.0
    load_memory_factor: float = 1.0
    health: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass
class ClusterAgents:
    root: Path
    volumes: VolumeManager
    images: ImageRegistry
    kubelets: dict[str, Kubelet] = field(default_factory=dict)
    settings: KubeletSettings = field(default_factory=KubeletSettings)


_AGENTS: weakref.WeakKeyDictionary[Any, ClusterAgents] = weakref.WeakKeyDictionary()


def cluster_root(cluster: Any) -> Path:
    return Path(cluster.root_dir)


def agents(cluster: Any) -> ClusterAgents:
    """The cluster's shared kubelet state, created on first use."""
    state = _AGENTS.get(cluster)
    if state is None:
        root = cluster_root(cluster)
        images = getattr(cluster, "images", None)
        if not isinstance(images, ImageRegistry):
            images = ImageRegistry(root)
        state = ClusterAgents(root, VolumeManager(root), images)
        _AGENTS[cluster] = state
    return state


def images_for(cluster: Any) -> ImageRegistry:
    """What SimCluster.register_image should call `.register(ref, files)` on."""
    return agents(cluster).images
