"""The resource types the simulator serves: plural, kind, group/version, scope, verbs.

One table feeds the store (which plurals exist and are namespaced), discovery (what kubectl
learns from /api and /apis) and the REST routes, so the three cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from simcluster.errors import ApiError

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    plural: str
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    stored: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, or the plural alone for the core group (as errors print it)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_TYPES = (
    ResourceType(
        "namespaces",
        "namespace",
        "Namespace",
        "",
        "v1",
        False,
        ("ns",),
        ("create", "delete", "get", "list", "patch", "update", "watch"),
        ("status",),
    ),
    ResourceType(
        "nodes", "node", "Node", "", "v1", False, ("no",), subresources=("proxy", "status")
    ),
    ResourceType(
        "pods",
        "pod",
        "Pod",
        "",
        "v1",
        True,
        ("po",),
        subresources=("exec", "log", "status"),
        categories=("all",),
    ),
    ResourceType(
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        "",
        "v1",
        True,
        ("pvc",),
        subresources=("status",),
    ),
    ResourceType(
        "persistentvolumes",
        "persistentvolume",
        "PersistentVolume",
        "",
        "v1",
        False,
        ("pv",),
        subresources=("status",),
    ),
    ResourceType("events", "event", "Event", "", "v1", True, ("ev",)),
    ResourceType(
        "resourcequotas",
        "resourcequota",
        "ResourceQuota",
        "",
        "v1",
        True,
        ("quota",),
        subresources=("status",),
    ),
    ResourceType("configmaps", "configmap", "ConfigMap", "", "v1", True, ("cm",)),
    ResourceType("secrets", "secret", "Secret", "", "v1", True),
    ResourceType(
        "services",
        "service",
        "Service",
        "",
        "v1",
        True,
        ("svc",),
        subresources=("status",),
        categories=("all",),
    ),
    ResourceType(
        "deployments",
        "deployment",
        "Deployment",
        "apps",
        "v1",
        True,
        ("deploy",),
        subresources=("scale", "status"),
        categories=("all",),
    ),
    ResourceType(
        "replicasets",
        "replicaset",
        "ReplicaSet",
        "apps",
        "v1",
        True,
        ("rs",),
        subresources=("scale", "status"),
        categories=("all",),
    ),
    ResourceType(
        "jobs",
        "job",
        "Job",
        "batch",
        "v1",
        True,
        (),
        subresources=("status",),
        categories=("all",),
    ),
    ResourceType(
        "cronjobs",
        "cronjob",
        "CronJob",
        "batch",
        "v1",
        True,
        ("cj",),
        subresources=("status",),
        categories=("all",),
    ),
    ResourceType(
        "storageclasses",
        "storageclass",
        "StorageClass",
        "storage.k8s.io",
        "v1",
        False,
        ("sc",),
    ),
    ResourceType(
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        "authorization.k8s.io",
        "v1",
        False,
        (),
        ("create",),
        stored=False,
    ),
)

RESOURCES: dict[str, ResourceType] = {t.plural: t for t in _TYPES}
STORED_PLURALS: tuple[str, ...] = tuple(t.plural for t in _TYPES if t.stored)
GROUP_VERSIONS: tuple[tuple[str, str], ...] = (
    ("", "v1"),
    ("apps", "v1"),
    ("batch", "v1"),
    ("authorization.k8s.io", "v1"),
    ("storage.k8s.io", "v1"),
)


def resource(plural: str) -> ResourceType:
    """The type for a plural name; an unknown one is a 404 as on a real server."""
    try:
        return RESOURCES[plural]
    except KeyError:
        raise ApiError(
            404, "NotFound", "the server could not find the requested resource"
        ) from None


def lookup(group: str, version: str, plural: str) -> ResourceType:
    """The type served at /api(s)/GROUP/VERSION/PLURAL; 404 if that path serves nothing."""
    t = RESOURCES.get(plural)
    if t is None or t.group != group or t.version != version:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return t


def in_group_version(group: str, version: str) -> list[ResourceType]:
    return [t for t in _TYPES if t.group == group and t.version == version]
