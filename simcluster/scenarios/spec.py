"""What a checked scenario says, as frozen values (the loader builds them, apply uses them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Size:
    """A byte count, or a percentage of a model's size (`40%`)."""

    bytes: int | None = None
    percent: float | None = None

    def of(self, total: int) -> int:
        if self.percent is not None:
            return int(total * self.percent / 100)
        return int(self.bytes or 0)


@dataclass(frozen=True)
class Repeat:
    """`repeat: {var: n, from: 1, to: 28, format: "02d"}`: one copy per value."""

    var: str
    start: int
    stop: int
    format: str = "d"

    def values(self) -> list[str]:
        return [format(i, self.format) for i in range(self.start, self.stop + 1)]


@dataclass(frozen=True)
class NodeSpec:
    name: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    """A file the model server serves. `size` None means the scenario's model_size."""

    name: str
    path: str
    seed: int = 1
    size: int | None = None


@dataclass(frozen=True)
class FaultSpec:
    """Model server faults for one model; size fields may be percentages of its size.

    `hold`: once a response has stalled, every later request for the file stalls at once
    too, so the download sits still until someone resumes it.
    """

    model: str
    fields: dict[str, Any]
    hold: bool = False
    line: int = 0


@dataclass(frozen=True)
class FlakySpec:
    """Every `every` seconds, arm one dropped connection and/or one error answer."""

    model: str
    every: float
    drop_after: tuple[Size, Size] | None
    fail_status: int | None
    retry_after: float | None
    line: int = 0


@dataclass(frozen=True)
class HealthSpec:
    """What the health endpoint of a pod's (or a Deployment's pods') servers answers HTTP
    probes, from the start: `health: [{deployment: lightning-asr, status: 503}]`."""

    kind: str  # pod | deployment
    name: str
    status: int
    line: int = 0


@dataclass(frozen=True)
class Source:
    """Where a seeded or baked file's bytes come from.

    kind: model (a model's exact content, optionally with one byte flipped), sparse (a file
    of the model's size made of holes), text, host (a file next to the scenario).
    """

    kind: str
    model: str | None = None
    corrupt_at: Size | None = None
    text: str | None = None
    host: Path | None = None


@dataclass(frozen=True)
class ImageSpec:
    """An image the registry serves with files baked in, or (`pull`: "not-found" or
    "unauthorized") one it refuses: a tag that does not exist, a private repository."""

    image: str
    files: tuple[tuple[str, Source], ...]
    line: int = 0
    pull: str = ""


@dataclass(frozen=True)
class VolumeSeed:
    """Files put on a PVC before any pod runs (paths relative to the volume's root)."""

    claim: str
    namespace: str
    files: tuple[tuple[str, Source], ...]
    repeat: Repeat | None = None
    line: int = 0


@dataclass(frozen=True)
class ObjectSpec:
    """One Kubernetes object (placeholders not yet filled), possibly repeated."""

    obj: dict[str, Any]
    repeat: Repeat | None = None
    line: int = 0


@dataclass(frozen=True)
class StepSpec:
    """Something the scenario does by itself once a condition holds.

    Condition: (if given) a Deployment with at least `ready_replicas` ready and/or a Job
    that completed, then `after`
    seconds more (counted from the start when there is no condition). Action: scale a
    Deployment, delete the oldest pods matching a selector, clear a model's faults, patch
    a Deployment (a strategic merge patch, as `kubectl patch deployment NAME -p BODY`), cut a
    node's power, or break its container network (NotReady, while its kubelet answers).
    """

    after: float = 0.0
    ready_deployment: str | None = None
    ready_replicas: int = 0
    complete_job: str | None = None
    scale: tuple[str, int] | None = None
    delete_pods: tuple[str, int] | None = None
    clear_faults: str | None = None
    line: int = 0
    patch: tuple[str, dict[str, Any]] | None = None  # (deployment, body; placeholders unfilled)
    node_down: str | None = None  # cut this node's power (the node-down fault)
    node_not_ready: str | None = None  # break its network (the node-not-ready fault)


@dataclass(frozen=True)
class Scenario:
    """A checked scenario file, ready to apply to a SimCluster."""

    name: str
    description: str
    file: str
    namespace: str = "smallest"
    nodes: tuple[NodeSpec, ...] = ()
    model_size: int = 256 * 1024**2
    speed: int | None = None
    # memory the Lightning ASR stand-in takes to load a model, per byte of it (None: as set)
    load_memory_factor: float | None = None
    models: dict[str, ModelSpec] = field(default_factory=dict)
    faults: tuple[FaultSpec, ...] = ()
    flaky: tuple[FlakySpec, ...] = ()
    health: tuple[HealthSpec, ...] = ()
    images: tuple[ImageSpec, ...] = ()
    volumes: tuple[VolumeSeed, ...] = ()
    objects: tuple[ObjectSpec, ...] = ()
    steps: tuple[StepSpec, ...] = ()
    # How long a silent node stays Ready (kube-controller-manager's node monitor grace);
    # None: the cluster's (50 s, as v1.32).
    node_monitor_grace: float | None = None

    def model_bytes(self, name: str, override: int | None = None) -> int:
        """A model's size: the override (tests, --model-size) wins, then its own, then ours."""
        if override is not None:
            return override
        own = self.models[name].size
        return own if own is not None else self.model_size
