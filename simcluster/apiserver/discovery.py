"""Discovery documents: /version, aggregated discovery (v2) and the legacy group/resource lists.

kubectl asks for `APIGroupDiscoveryList` first; answering it saves one request per group.
Clients that do not ask for it get the legacy `APIVersions`, `APIGroupList` and
`APIResourceList` shapes. All of them come from the one table in `simcluster.resources`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from simcluster.resources import GROUP_VERSIONS, ResourceType, in_group_version

AGGREGATED_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-simcluster",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# Subresource -> (response kind as group, version, kind; verbs).
_SUBRESOURCES: dict[tuple[str, str], tuple[tuple[str, str, str], tuple[str, ...]]] = {
    ("pods", "log"): (("", "v1", "Pod"), ("get",)),
    ("pods", "exec"): (("", "v1", "PodExecOptions"), ("create", "get")),
    ("nodes", "proxy"): (
        ("", "v1", "NodeProxyOptions"),
        ("create", "delete", "get", "patch", "update"),
    ),
    ("deployments", "scale"): (("autoscaling", "v1", "Scale"), ("get", "patch", "update")),
    ("replicasets", "scale"): (("autoscaling", "v1", "Scale"), ("get", "patch", "update")),
}


def wants_aggregated(accept: str) -> bool:
    """True when the first acceptable type the client lists is aggregated discovery v2."""
    for part in accept.split(","):
        params = {
            p.split("=", 1)[0].strip(): p.split("=", 1)[-1].strip()
            for p in part.split(";")[1:]
            if "=" in p
        }
        if params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") == "v2" and params.get("g") == "apidiscovery.k8s.io":
                return True
            continue
        return False
    return False


def _sub(t: ResourceType, sub: str) -> dict[str, Any]:
    (g, v, k), verbs = _SUBRESOURCES.get(
        (t.plural, sub), ((t.group, t.version, t.kind), ("get", "patch", "update"))
    )
    return {
        "subresource": sub,
        "responseKind": {"group": g, "version": v, "kind": k},
        "verbs": list(verbs),
    }


def _resource_v2(t: ResourceType) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resource": t.plural,
        "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
        "scope": "Namespaced" if t.namespaced else "Cluster",
        "singularResource": t.singular,
        "verbs": list(t.verbs),
    }
    if t.short_names:
        out["shortNames"] = list(t.short_names)
    if t.categories:
        out["categories"] = list(t.categories)
    if t.subresources:
        out["subresources"] = [_sub(t, s) for s in t.subresources]
    return out


def _group_v2(group: str) -> dict[str, Any]:
    versions = [
        {
            "version": v,
            "resources": [_resource_v2(t) for t in in_group_version(g, v)],
            "freshness": "Current",
        }
        for g, v in GROUP_VERSIONS
        if g == group
    ]
    meta: dict[str, Any] = {"creationTimestamp": None}
    if group:
        meta["name"] = group
    return {"metadata": meta, "versions": versions}


def aggregated(core: bool) -> dict[str, Any]:
    """The APIGroupDiscoveryList for /api (core=True) or /apis."""
    groups = [""] if core else sorted({g for g, _ in GROUP_VERSIONS if g}, key=_group_order)
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [_group_v2(g) for g in groups],
    }


def _group_order(group: str) -> int:
    order = [g for g, _ in GROUP_VERSIONS]
    return order.index(group)


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_legacy(group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{g}/{v}", "version": v} for g, v in GROUP_VERSIONS if g == group]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list() -> dict[str, Any]:
    groups = sorted({g for g, _ in GROUP_VERSIONS if g}, key=_group_order)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_legacy(g) for g in groups],
    }


def api_group(group: str) -> dict[str, Any] | None:
    if group not in {g for g, _ in GROUP_VERSIONS if g}:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_legacy(group)}


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    types = in_group_version(group, version)
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for t in types:
        entry: dict[str, Any] = {
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": list(t.verbs),
        }
        if t.short_names:
            entry["shortNames"] = list(t.short_names)
        if t.categories:
            entry["categories"] = list(t.categories)
        entry["storageVersionHash"] = hashlib.sha256(
            f"{t.group}/{t.version}/{t.kind}".encode()
        ).hexdigest()[:11]
        resources.append(entry)
        for sub in t.subresources:
            s = _sub(t, sub)
            kind = s["responseKind"]
            item: dict[str, Any] = {
                "name": f"{t.plural}/{sub}",
                "singularName": "",
                "namespaced": t.namespaced,
            }
            if (kind["group"], kind["version"]) != (t.group, t.version):
                item["group"], item["version"] = kind["group"], kind["version"]
            item["kind"], item["verbs"] = kind["kind"], s["verbs"]
            resources.append(item)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
