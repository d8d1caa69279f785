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
class ClusterAgents:
    root: Path
    volumes: VolumeManager
    images: ImageRegistry
    kubelets: dict[str, Kubelet] = field(default_factory=dict)


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
