"""The Secrets and ConfigMaps a pod reads, and which of their keys, from its spec: what a
command that creates a missing one must name.

Keys come from ``secretKeyRef`` / ``configMapKeyRef`` in the environment, and from a volume's
``items``; a volume without ``items`` mounts every key, so its keys are the files under its
mount path that the pod's environment names (``HF_TOKEN_FILE=/var/run/secrets/hf/token`` reads
key ``token``). ``envFrom`` reads every key: none is known.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SECRET = "Secret"  # noqa: S105  (a kind of object, not a password)
CONFIG_MAP = "ConfigMap"


@dataclass(frozen=True)
class SourceRef:
    """One Secret or ConfigMap a pod reads."""

    kind: str  # Secret | ConfigMap
    name: str
    keys: tuple[str, ...] = ()  # the keys it reads, when the spec names them


def sources_of(spec: Mapping[str, Any]) -> tuple[SourceRef, ...]:
    """Every Secret and ConfigMap ``spec`` (a pod spec, as JSON) reads, in the order met."""
    found: dict[tuple[str, str], list[str]] = {}

    def add(kind: str, name: object, keys: Iterable[object] = ()) -> None:
        if isinstance(name, str) and name:
            known = found.setdefault((kind, name), [])
            known.extend(k for k in keys if isinstance(k, str) and k and k not in known)

    containers = [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
    literals = [str(e["value"]) for c in containers for e in c.get("env") or () if e.get("value")]
    for c in containers:
        for e in c.get("env") or ():
            ref = e.get("valueFrom") or {}
            for kind, key in ((SECRET, "secretKeyRef"), (CONFIG_MAP, "configMapKeyRef")):
                if key in ref:
                    add(kind, ref[key].get("name"), [ref[key].get("key")])
        for e in c.get("envFrom") or ():
            add(SECRET, (e.get("secretRef") or {}).get("name"))
            add(CONFIG_MAP, (e.get("configMapRef") or {}).get("name"))
    for v in spec.get("volumes") or ():
        for kind, key, name_key in (
            (SECRET, "secret", "secretName"),
            (CONFIG_MAP, "configMap", "name"),
        ):
            if key not in v:
                continue
            items = [i.get("key") for i in v[key].get("items") or ()]
            paths = _mount_paths(containers, v.get("name"))
            add(kind, v[key].get(name_key), items or _files_named(literals, paths))
    return tuple(SourceRef(kind, name, tuple(keys)) for (kind, name), keys in found.items())


def _mount_paths(containers: list[Mapping[str, Any]], volume: object) -> list[str]:
    return [
        str(m["mountPath"]).rstrip("/")
        for c in containers
        for m in c.get("volumeMounts") or ()
        if m.get("name") == volume and m.get("mountPath")
    ]


def _files_named(literals: list[str], paths: list[str]) -> list[str]:
    """The file names directly under ``paths`` that an env value names."""
    return [
        posixpath.basename(value)
        for value in literals
        for path in paths
        if posixpath.dirname(value.rstrip("/")) == path
    ]
