"""The simulated kube-controller-manager and scheduler: reconcile loops over the store."""

from __future__ import annotations

from simcluster.controllers.attach import AttachDetachController
from simcluster.controllers.base import Controller
from simcluster.controllers.cronjob import CronJobController
from simcluster.controllers.deployment import DeploymentController
from simcluster.controllers.job import JobController
from simcluster.controllers.nodelifecycle import DEFAULT_GRACE, NodeLifecycleController
from simcluster.controllers.replicaset import ReplicaSetController
from simcluster.controllers.resize import VolumeResizer
from simcluster.controllers.resourcequota import ResourceQuotaController
from simcluster.controllers.scheduler import Scheduler
from simcluster.controllers.tainteviction import TaintEvictionController
from simcluster.controllers.volumes import VolumeBinder
from simcluster.heartbeats import NodeHeartbeats
from simcluster.store import Store


class ControllerManager:
    """Starts and stops every controller on the running loop."""

    def __init__(
        self,
        store: Store,
        job_backoff: float = 1.0,
        heartbeats: NodeHeartbeats | None = None,
        node_monitor_grace: float = DEFAULT_GRACE,
    ) -> None:
        self.heartbeats = heartbeats if heartbeats is not None else NodeHeartbeats()
        self.nodes = NodeLifecycleController(store, self.heartbeats, node_monitor_grace)
        self.taint_eviction = TaintEvictionController(store)
        self.scheduler = Scheduler(store)
        self.replicasets = ReplicaSetController(store)
        self.deployments = DeploymentController(store)
        self.jobs = JobController(store)
        self.jobs.backoff_base = job_backoff
        self.cronjobs = CronJobController(store)
        self.volumes = VolumeBinder(store)
        self.resizer = VolumeResizer(store)
        self.attach = AttachDetachController(store)
        self.quotas = ResourceQuotaController(store)
        self.all: tuple[Controller, ...] = (
            self.quotas,
            self.nodes,
            self.taint_eviction,
            self.scheduler,
            self.volumes,
            self.resizer,
            self.attach,
            self.replicasets,
            self.deployments,
            self.jobs,
            self.cronjobs,
        )

    def start(self) -> None:
        for c in self.all:
            c.start()

    async def stop(self) -> None:
        for c in self.all:
            await c.stop()


__all__ = ["Controller", "ControllerManager"]
