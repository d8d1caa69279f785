"""What the user asked for beyond the target, and facts read from the cluster before planning.

Plans are pure functions of (snapshot, target, options[, facts]); everything a plan needs that a
snapshot does not carry (a Deployment's pod template, the cache directory's listing) is read
first, read-only, into one of the frozen ``*Facts`` values here, so tests can hand-build them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actions.sources import SourceRef, sources_of

DEFAULT_IMAGE = "asr-cache-tui/downloader:latest"
DEFAULT_API_SERVER = "api-server"
DEFAULT_ASR_PORT = 2269
BASE_URL_ENV = "LIGHTNING_ASR_BASE_URL"
PREVIOUS_URL_ANNOTATION = "asr-cache-tui/previous-base-url"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "asr-cache-tui"
FIELD_MANAGER = "asr-cache-tui"


@dataclass(frozen=True)
class ActionOptions:
    """Flags of one action request; every field has a safe default."""

    # restart
    rollout: bool = False  # restart the whole Deployment instead of one pod
    # purge / fix
    path: str | None = None  # a file in the cache dir instead of the model file (purge --path)
    # prewarm
    image: str = DEFAULT_IMAGE
    schedule: str | None = None  # cron schedule: also create a CronJob
    version: str | None = None  # pre-warm this version instead of the deployment's
    url: str | None = None  # pre-warm from this URL instead of the deployment's MODEL_URL
    checksum: str | None = None  # and expect this sha256:<hex>
    # switch
    back: bool = False  # switch back to the URL recorded before the last switch
    switch_url: str | None = None  # point at this URL instead of http://<release>:2269
    api_server: str = DEFAULT_API_SERVER
    # execution
    follow: bool = True  # follow pods / rollouts / jobs until ready or done
    timeout: float = 600.0  # seconds to follow before giving up
    container: str | None = None  # container to exec in (default: the one with the cache)
    dry_run: bool = False  # planning may not start a helper pod to look at the cache


@dataclass(frozen=True)
class ContainerFacts:
    """One container of a pod template, as the API returned it (env kept verbatim)."""

    name: str
    image: str
    env: tuple[Mapping[str, Any], ...] = ()
    env_from: tuple[Mapping[str, Any], ...] = ()
    volume_mounts: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class DeploymentFacts:
    """A Deployment's template, read before planning a pre-warm or a switch."""

    name: str
    namespace: str
    uid: str = ""
    replicas: int = 0
    containers: tuple[ContainerFacts, ...] = ()
    volumes: tuple[Mapping[str, Any], ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    service_account: str | None = None
    image_pull_secrets: tuple[Mapping[str, Any], ...] = ()

    @staticmethod
    def from_object(obj: Mapping[str, Any]) -> DeploymentFacts:
        """Build from a Deployment as JSON (the API's camelCase keys)."""
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        pod_spec = (spec.get("template") or {}).get("spec") or {}
        containers = tuple(
            ContainerFacts(
                name=str(c.get("name", "")),
                image=str(c.get("image", "")),
                env=tuple(c.get("env") or ()),
                env_from=tuple(c.get("envFrom") or ()),
                volume_mounts=tuple(c.get("volumeMounts") or ()),
            )
            for c in pod_spec.get("containers") or ()
        )
        return DeploymentFacts(
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace", "")),
            uid=str(meta.get("uid", "")),
            replicas=int(spec.get("replicas") or 0),
            containers=containers,
            volumes=tuple(pod_spec.get("volumes") or ()),
            annotations=dict(meta.get("annotations") or {}),
            node_selector=dict(pod_spec.get("nodeSelector") or {}),
            tolerations=tuple(pod_spec.get("tolerations") or ()),
            service_account=pod_spec.get("serviceAccountName"),
            image_pull_secrets=tuple(pod_spec.get("imagePullSecrets") or ()),
        )

    def env_value(self, name: str) -> tuple[str, str] | None:
        """(container, literal value) of the first container setting env ``name`` literally."""
        for c in self.containers:
            for e in c.env:
                if e.get("name") == name and "value" in e:
                    return c.name, str(e.get("value") or "")
        return None


@dataclass(frozen=True)
class PodFacts:
    """How a pod mounts its cache (what a helper pod copies to see the same files), and the
    Secrets and ConfigMaps it reads (what a command that creates a missing one names)."""

    name: str
    node: str | None = None
    volume: Mapping[str, Any] | None = None  # the pod's volume definition of the cache
    mounts: tuple[Mapping[str, Any], ...] = ()  # that volume's mounts in the cache container
    sources: tuple[SourceRef, ...] = ()

    @staticmethod
    def from_object(obj: Mapping[str, Any], volume_name: str | None) -> PodFacts:
        """Build from a Pod as JSON, keeping only the cache volume and its mounts."""
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        volume = next((v for v in spec.get("volumes") or () if v.get("name") == volume_name), None)
        mounts: tuple[Mapping[str, Any], ...] = ()
        for c in spec.get("containers") or ():
            found = tuple(m for m in c.get("volumeMounts") or () if m.get("name") == volume_name)
            if found:
                mounts = found
                break
        return PodFacts(
            name=str(meta.get("name", "")),
            node=spec.get("nodeName"),
            volume=volume,
            mounts=mounts,
            sources=sources_of(spec),
        )


@dataclass(frozen=True)
class CacheEntry:
    """One cached model file (from the manifest or a listing), relative to the cache root."""

    path: str
    size: int
    version: str | None = None
    last_used: float = 0.0


@dataclass(frozen=True)
class CacheFacts:
    """The cache root of one pod as seen from inside it, read before planning an eviction."""

    pod: str
    root: str  # resolved cache root in the pod
    entries: tuple[CacheEntry, ...] = ()
    available_bytes: int | None = None
    capacity_bytes: int | None = None
    source: str = "manifest"  # manifest | listing
    read_at: float = 0.0  # time.time() of the reading (0: just now, as planning reads it)

    def record(self) -> dict[str, Any]:
        """As plain JSON, for an action's result (the audit log keeps what a look saw)."""
        return {
            "pod": self.pod,
            "root": self.root,
            "entries": [
                {"path": e.path, "size": e.size, "version": e.version, "last_used": e.last_used}
                for e in self.entries
            ],
            "available_bytes": self.available_bytes,
            "capacity_bytes": self.capacity_bytes,
            "source": self.source,
            "read_at": self.read_at,
        }

    @staticmethod
    def from_record(data: Mapping[str, Any]) -> CacheFacts:
        return CacheFacts(
            pod=str(data["pod"]),
            root=str(data["root"]),
            entries=tuple(
                CacheEntry(
                    path=str(e["path"]),
                    size=int(e["size"]),
                    version=e.get("version"),
                    last_used=float(e.get("last_used") or 0.0),
                )
                for e in data.get("entries") or ()
            ),
            available_bytes=data.get("available_bytes"),
            capacity_bytes=data.get("capacity_bytes"),
            source=str(data.get("source") or "manifest"),
            read_at=float(data.get("read_at") or 0.0),
        )
