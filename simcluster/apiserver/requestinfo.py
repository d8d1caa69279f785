"""What a request is about: resource, namespace, name, subresource and verb, from its path.

Parsed the way kube-apiserver's RequestInfoFactory does, so authorization and routing agree
for every route, the kubelet's (log, exec, node proxy) included.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True)
class RequestInfo:
    is_resource: bool
    path: str
    verb: str
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""
    rest: tuple[str, ...] = ()  # path parts after the subresource (node proxy paths)

    @property
    def has_gv(self) -> bool:
        return bool(self.version)


_METHOD_VERBS = {
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
    "GET": "get",
    "HEAD": "get",
}


def parse(method: str, path: str, query: dict[str, str] | None = None) -> RequestInfo:
    """Describe a request; paths outside /api and /apis are non-resource requests."""
    query = query or {}
    raw_parts = [p for p in path.strip("/").split("/") if p]
    parts = [unquote(p) for p in raw_parts]
    verb = _METHOD_VERBS.get(method.upper(), method.lower())
    if not parts or parts[0] not in ("api", "apis"):
        return RequestInfo(False, path, verb)
    if parts[0] == "api":
        if len(parts) < 2:
            return RequestInfo(False, path, verb)
        group, version, cur = "", parts[1], parts[2:]
    else:
        if len(parts) < 3:
            return RequestInfo(False, path, verb, group=parts[1] if len(parts) > 1 else "")
        group, version, cur = parts[1], parts[2], parts[3:]
    if not cur:
        return RequestInfo(False, path, verb, group=group, version=version)
    watch_prefix = False
    if cur[0] == "watch":
        watch_prefix, cur = True, cur[1:]
    namespace = ""
    if len(cur) > 1 and cur[0] == "namespaces":
        namespace = cur[1]
        if len(cur) > 2 and cur[2] not in _NAMESPACE_SUBRESOURCES:
            cur = cur[2:]
    resource = cur[0] if cur else ""
    name = cur[1] if len(cur) > 1 else ""
    subresource = cur[2] if len(cur) > 2 else ""
    rest = tuple(cur[3:])
    if resource == "namespaces" and name and not namespace:
        namespace = name
    if watch_prefix:
        verb = "watch"
    elif verb == "get" and not name:
        verb = "watch" if query.get("watch") in ("1", "true", "True") else "list"
    elif verb == "delete" and not name:
        verb = "deletecollection"
    if subresource == "exec":
        verb = "create"  # a WebSocket exec is a GET that needs create on pods/exec
    return RequestInfo(
        True, path, verb, group, version, namespace, resource, name, subresource, rest
    )
