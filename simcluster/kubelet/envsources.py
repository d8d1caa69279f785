"""A container's environment from its spec, resolved as the kubelet's makeEnvironmentVariables.

`envFrom` sources first, in order (every key of a ConfigMap's `data` or a Secret's decoded
`data`, with `prefix`), then `env` in order: `value` (with `$(VAR)` references to what is
already defined), or `valueFrom` a `fieldRef`, a `configMapKeyRef` or a `secretKeyRef`.

A ConfigMap, Secret or key that does not exist, and is not `optional: true`, is a
`ConfigError` whose text is the kubelet's (`secret "hf-token" not found`, `couldn't find key
token in Secret smallest/hf-token`, `configmap "x" not found`): the pod worker shows it as
the container's `CreateContainerConfigError` and tries again later. An optional one that is
missing leaves its variables out.
"""

from __future__ import annotations

import re
from typing import Any

from simcluster.kubelet.objvolumes import decode_data

_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ConfigError(Exception):
    """The container cannot be configured yet; str() is the kubelet's message."""


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) references in env values, command and args."""
    return _VAR_REF.sub(lambda m: env.get(m.group(1), m.group(0)), text)


class _Sources:
    """The ConfigMaps and Secrets one container's env reads, each looked up once."""

    def __init__(self, store: Any, namespace: str) -> None:
        self.store = store
        self.namespace = namespace
        self._seen: dict[tuple[str, str], dict[str, str] | None] = {}

    def data(self, kind: str, name: str, optional: bool) -> dict[str, str] | None:
        """The object's values by key; None when it is missing and optional."""
        key = (kind, name)
        if key not in self._seen:
            plural = "secrets" if kind == "secret" else "configmaps"
            obj = self.store.peek(plural, self.namespace, name)
            self._seen[key] = None if obj is None else _values(kind, obj)
        found = self._seen[key]
        if found is None and not optional:
            raise ConfigError(f'{kind} "{name}" not found')
        return found

    def value(self, kind: str, ref: dict[str, Any]) -> str | None:
        """One key of a ConfigMap or Secret (`configMapKeyRef` / `secretKeyRef`)."""
        name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
        optional = bool(ref.get("optional"))
        data = self.data(kind, name, optional)
        if data is None:
            return None
        if key not in data:
            if optional:
                return None
            title = "Secret" if kind == "secret" else "ConfigMap"
            raise ConfigError(f"couldn't find key {key} in {title} {self.namespace}/{name}")
        return data[key]


def _values(kind: str, obj: dict[str, Any]) -> dict[str, str]:
    data = obj.get("data") or {}
    if kind != "secret":
        return {str(k): str(v) for k, v in data.items()}
    return {k: raw.decode("utf-8", "surrogateescape") for k, raw in decode_data(data).items()}


def container_env(
    store: Any,
    namespace: str,
    spec: dict[str, Any],
    base: dict[str, str],
    fields: dict[str, str],
) -> dict[str, str]:
    """The container's environment: `base` (PATH, HOSTNAME, ...) then what its spec says.

    `fields` are the values `fieldRef` can name (`metadata.name`, `status.podIP`, ...).
    Raises ConfigError when a source it needs is missing.
    """
    env = dict(base)
    sources = _Sources(store, namespace)
    for src in spec.get("envFrom") or []:
        prefix = str(src.get("prefix") or "")
        for kind, ref in (("configmap", src.get("configMapRef")), ("secret", src.get("secretRef"))):
            if ref is None:
                continue
            data = sources.data(kind, str(ref.get("name") or ""), bool(ref.get("optional")))
            for k, v in (data or {}).items():
                env[prefix + k] = v
    for item in spec.get("env") or []:
        name = item.get("name")
        if not name:
            continue
        value_from = item.get("valueFrom") or {}
        if item.get("value") or not value_from:
            env[name] = expand(str(item.get("value") or ""), env)
            continue
        value: str | None = None
        if "fieldRef" in value_from:
            value = fields.get(str((value_from["fieldRef"] or {}).get("fieldPath", "")))
        elif "configMapKeyRef" in value_from:
            value = sources.value("configmap", value_from["configMapKeyRef"] or {})
        elif "secretKeyRef" in value_from:
            value = sources.value("secret", value_from["secretKeyRef"] or {})
        if value is not None:
            env[name] = value
    return env
