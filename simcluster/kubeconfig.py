"""A kubeconfig for the simulator: one cluster, one user with a Bearer token, one context.

Written with the CA data of the self-signed certificate when the server speaks TLS (or
`insecure-skip-tls-verify` if asked), so kubectl and the Python client use it unchanged.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml


def kubeconfig_dict(
    server: str,
    token: str,
    user: str = "admin",
    namespace: str = "smallest",
    ca_pem: bytes | None = None,
    insecure: bool = False,
    name: str = "simcluster",
) -> dict[str, object]:
    cluster: dict[str, object] = {"server": server}
    if server.startswith("https://"):
        if insecure or ca_pem is None:
            cluster["insecure-skip-tls-verify"] = True
        else:
            cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    context = f"{name}-{user}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": f"{name}-{user}", "user": {"token": token}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": name, "user": f"{name}-{user}", "namespace": namespace},
            }
        ],
        "current-context": context,
    }


def write_kubeconfig(path: Path | str, config: dict[str, object]) -> Path:
    """Write the kubeconfig readable by its owner only (it holds a token)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    return path
