"""A minimal OpenAPI v3 surface: the index and one document per group/version.

`kubectl create -f` (without --validate=false) reads these to learn whether the server
validates fields itself: a PATCH operation carrying `x-kubernetes-group-version-kind` and a
`fieldValidation` parameter says yes, and kubectl then leaves validation to the server.
No schemas are published (kubectl explain has nothing to show).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from simcluster.resources import GROUP_VERSIONS, in_group_version

_QUERY = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def document(group: str, version: str) -> dict[str, Any] | None:
    types = in_group_version(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    for t in types:
        base = "/" + _gv_path(group, version)
        collection = (
            f"{base}/namespaces/{{namespace}}/{t.plural}" if t.namespaced else f"{base}/{t.plural}"
        )
        gvk = {"group": group, "version": version, "kind": t.kind}
        params = [
            {"name": q, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for q in _QUERY
        ]
        paths[collection] = {
            "post": {
                "operationId": f"create{t.kind}",
                "x-kubernetes-action": "post",
                "x-kubernetes-group-version-kind": gvk,
                "parameters": params,
            },
        }
        if "get" in t.verbs:
            paths[f"{collection}/{{name}}"] = {
                "patch": {
                    "operationId": f"patch{t.kind}",
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                    "parameters": params,
                },
            }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _hash(doc: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:128].upper()


def index() -> dict[str, Any]:
    paths = {}
    for group, version in GROUP_VERSIONS:
        doc = document(group, version)
        assert doc is not None
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={_hash(doc)}"}
    return {"paths": paths}


def lookup(path: str) -> dict[str, Any] | None:
    """The document served at /openapi/v3/PATH (None when there is none)."""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        return document("", parts[1])
    if len(parts) == 3 and parts[0] == "apis":
        return document(parts[1], parts[2])
    return None
