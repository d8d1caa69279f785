"""Hand-built snapshots for plan tests: the shapes the collectors produce, no cluster needed."""

from __future__ import annotations

from typing import Any

from collectors.model import (
    ClusterSnapshot,
    ContainerInfo,
    DownloadPhase,
    DownloadProgress,
    EventInfo,
    ModelSettings,
    ModelState,
    PodInfo,
    RolloutInfo,
    VerificationResult,
    VolumeInfo,
)

NS = "smallest"
CHECKSUM = "sha256:" + "ab" * 32
URL = "http://models.example/v1/model.bin?X-Amz-Signature=secret"


def settings(**kw: Any) -> ModelSettings:
    base: dict[str, Any] = {
        "url": "http://models.example/v1/model.bin",
        "cache_dir": "/app/models",
        "checksum": CHECKSUM,
    }
    base.update(kw)
    return ModelSettings(**base)


def pod(
    name: str,
    *,
    release: str = "lightning-asr",
    state: ModelState = ModelState.READY,
    running: bool = True,
    ready: bool | None = None,
    claim: str | None = "models-aws-efs-pvc",
    kind: str = "pvc",
    model: ModelSettings | None = None,
    evidence: tuple[str, ...] = (),
    progress: DownloadProgress | None = None,
    owner: str | None = "ReplicaSet/lightning-asr-7d9f",
    container_reason: str | None = None,
    exit_code: int | None = None,
    verification: VerificationResult | None = None,
) -> PodInfo:
    ready = (state == ModelState.READY and running) if ready is None else ready
    container = ContainerInfo(
        name="lightning-asr",
        init=False,
        image="smallest/lightning-asr:1",
        state="running" if running else "waiting",
        ready=ready,
        reason=container_reason,
        exit_code=exit_code,
    )
    return PodInfo(
        name=name,
        namespace=NS,
        uid=f"uid-{name}",
        node="node-1",
        phase="Running" if running else "Pending",
        ready=ready,
        restarts=0,
        created_at=1000.0,
        owner=owner,
        release=release,
        containers=(container,),
        model=model or settings(),
        cache_volume="models" if kind == "pvc" else "cache",
        cache_claim=claim if kind == "pvc" else None,
        cache_kind=kind,
        model_state=state,
        evidence=evidence,
        progress=progress,
        verification=verification,
    )


def rollout(
    name: str,
    desired: int = 2,
    ready: int | None = None,
    updated: int | None = None,
    serving: bool | None = None,
) -> RolloutInfo:
    ready = desired if ready is None else ready
    updated = desired if updated is None else updated
    return RolloutInfo(
        name=name, desired=desired, updated=updated, ready=ready, available=ready, serving=serving
    )


def snapshot(
    *pods: PodInfo,
    rollouts: tuple[RolloutInfo, ...] = (),
    volumes: tuple[VolumeInfo, ...] = (),
    events: tuple[EventInfo, ...] = (),
    taken_at: float = 1_700_000_000.0,
) -> ClusterSnapshot:
    if not rollouts:
        names = sorted({p.release for p in pods if p.release})
        rollouts = tuple(rollout(n, sum(1 for p in pods if p.release == n)) for n in names)
    return ClusterSnapshot(
        context="test",
        namespace=NS,
        server="https://k8s.test",
        taken_at=taken_at,
        pods=pods,
        rollouts=rollouts,
        volumes=volumes,
        events=events,
    )


def stalled(
    done: int = 40 * 2**20, total: int = 100 * 2**20, message: str | None = None
) -> DownloadProgress:
    return DownloadProgress(
        phase=DownloadPhase.STALLED,
        source="bundled",
        bytes_done=done,
        bytes_total=total,
        message=message,
    )


def deployment_object(
    name: str = "lightning-asr",
    env: list[dict[str, Any]] | None = None,
    volume: dict[str, Any] | None = None,
    mount_path: str = "/app/models",
) -> dict[str, Any]:
    env = (
        env
        if env is not None
        else [
            {"name": "MODEL_URL", "value": URL},
            {"name": "MODEL_CACHE_DIR", "value": "/app/models"},
            {"name": "MODEL_VERSION", "value": "v1"},
            {"name": "MODEL_CHECKSUM", "value": CHECKSUM},
            {"name": "MODEL_DOWNLOAD_WORKERS", "value": "4"},
            {"name": "HF_HOME", "value": "/tmp/hf"},
        ]
    )
    volume = volume or {
        "name": "models",
        "persistentVolumeClaim": {"claimName": "models-aws-efs-pvc"},
    }
    return {
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "annotations": {}},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "lightning-asr",
                            "image": "smallest/lightning-asr:1",
                            "env": env,
                            "volumeMounts": [{"name": volume["name"], "mountPath": mount_path}],
                        }
                    ],
                    "volumes": [volume],
                }
            },
        },
    }


def api_server_object(
    url: str | None = "http://lightning-asr:2269",
    annotations: dict[str, str] | None = None,
    value_from: bool = False,
) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{"name": "LOG_LEVEL", "value": "info"}]
    if url is not None:
        if value_from:
            env.append(
                {
                    "name": "LIGHTNING_ASR_BASE_URL",
                    "valueFrom": {"configMapKeyRef": {"name": "api", "key": "url"}},
                }
            )
        else:
            env.append({"name": "LIGHTNING_ASR_BASE_URL", "value": url})
    return {
        "metadata": {
            "name": "api-server",
            "namespace": NS,
            "uid": "uid-api",
            "annotations": annotations or {},
        },
        "spec": {
            "replicas": 1,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "api-server", "image": "smallest/api-server:1", "env": env}
                    ]
                }
            },
        },
    }
