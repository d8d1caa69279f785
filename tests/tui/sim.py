"""A small simulated cluster for the dashboard's end-to-end tests (until the scenarios land):
the chart's shape, a 16 MiB model on a shared EFS-like volume, rate-limited so it is seen
downloading."""

from __future__ import annotations

from typing import Any

NS = "smallest"
MiB = 2**20


def chart_objects(url: str, sha256: str, replicas: int = 2) -> list[dict[str, Any]]:
    env = [
        {"name": "MODEL_URL", "value": url},
        {"name": "MODEL_CHECKSUM", "value": f"sha256:{sha256}"},
        {"name": "MODEL_CACHE_DIR", "value": "/app/models"},
        {"name": "MODEL_VERSION", "value": "v1"},
    ]
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "models-aws-efs-pvc", "namespace": NS},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "models-aws-efs-sc",
                "resources": {"requests": {"storage": "5Gi"}},
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "lightning-asr",
                "namespace": NS,
                "labels": {"app": "lightning-asr"},
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "lightning-asr"}},
                "template": {
                    "metadata": {"labels": {"app": "lightning-asr"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "lightning-asr",
                                "image": "smallest/lightning-asr:1.0",
                                "env": env,
                                "volumeMounts": [{"name": "models", "mountPath": "/app/models"}],
                            }
                        ],
                        "volumes": [
                            {
                                "name": "models",
                                "persistentVolumeClaim": {"claimName": "models-aws-efs-pvc"},
                            }
                        ],
                    },
                },
            },
        },
    ]
