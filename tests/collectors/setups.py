"""Small cluster setups built with ``cluster.apply`` (until the scenarios land), in the shapes
the chart and the model-storage guide describe."""

from __future__ import annotations

from typing import Any

NS = "smallest"
MiB = 1024**2


def pvc(name: str = "models-aws-efs-pvc", size: str = "5Gi", sc: str = "models-aws-efs-sc") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": sc,
            "resources": {"requests": {"storage": size}},
        },
    }


def asr_env(url: str, sha256: str | None = None, **extra: str) -> list[dict[str, str]]:
    env = {"MODEL_URL": url, "MODEL_CACHE_DIR": "/app/models", **extra}
    if sha256:
        env["MODEL_CHECKSUM"] = f"sha256:{sha256}"
    return [{"name": k, "value": v} for k, v in env.items()]


def asr_deployment(
    url: str,
    sha256: str | None,
    *,
    name: str = "lightning-asr",
    replicas: int = 3,
    claim: str | None = "models-aws-efs-pvc",
    app: str = "lightning-asr",
    **env: str,
) -> dict:
    volume: dict[str, Any] = (
        {"name": "models", "persistentVolumeClaim": {"claimName": claim}}
        if claim
        else {"name": "models", "emptyDir": {}}
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app, "release": name}},
            "template": {
                "metadata": {"labels": {"app": app, "release": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "lightning-asr",
                            "image": "smallest/lightning-asr:1.0",
                            "ports": [{"containerPort": 2269}],
                            "env": asr_env(url, sha256, **env),
                            "volumeMounts": [{"name": "models", "mountPath": "/app/models"}],
                        }
                    ],
                    "volumes": [volume],
                },
            },
        },
    }


def api_server(base_url: str) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api-server", "namespace": NS, "labels": {"app": "api-server"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "api-server"}},
            "template": {
                "metadata": {"labels": {"app": "api-server"}},
                "spec": {
                    "containers": [
                        {
                            "name": "api-server",
                            "image": "smallest/api-server:1.0",
                            "env": [{"name": "LIGHTNING_ASR_BASE_URL", "value": base_url}],
                        }
                    ]
                },
            },
        },
    }


def service(name: str, selector: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": selector, "ports": [{"port": 2269}]},
    }


def job(
    name: str,
    command: list[str],
    env: dict[str, str] | None = None,
    claim: str | None = None,
    backoff_limit: int = 0,
) -> dict:
    volume: dict[str, Any] = (
        {"name": "models", "persistentVolumeClaim": {"claimName": claim}}
        if claim
        else {"name": "models", "emptyDir": {}}
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "metadata": {"labels": {"job-name": name}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "preload",
                            "image": "busybox",
                            "command": command,
                            "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                            "volumeMounts": [{"name": "models", "mountPath": "/app/models"}],
                        }
                    ],
                    "volumes": [volume],
                },
            },
        },
    }
