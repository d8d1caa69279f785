"""Secret and ConfigMap volumes: the files a kubelet writes for them, or why it cannot.

As the kubelet's secret and configmap volume plugins do, a volume gets one file per key
(a Secret's `data` base64-decoded; a ConfigMap's `data`, and its `binaryData` decoded), or
only the keys its `items` name, each at its `path`, with the item's `mode` or the volume's
`defaultMode` (0644 when unset). The object or an item's key missing, on a volume that is
not `optional: true`, is a `MountError` whose text is the plugin's (`secret "hf-token" not
found`, `references non-existent secret key: token`, `configmap "x" not found`, `configmap
references non-existent config key: url`); the pod worker records it as `FailedMount`
"MountVolume.SetUp failed for volume ..." and tries again. A missing optional object gives
an empty directory; a missing optional key is left out.

Not modelled: the atomic writer's `..data` symlink and timestamped directory (the files are
plain files), and the kubelet's later refresh of a mounted volume when the object changes.
"""

from __future__ import annotations

import base64
import binascii
import os
import posixpath
from pathlib import Path
from typing import Any

DEFAULT_MODE = 0o644

# rel path -> (content, mode)
Payload = dict[str, tuple[bytes, int]]


class MountError(Exception):
    """The volume cannot be set up yet; str() is the volume plugin's error."""


def is_object_volume(vol: dict[str, Any]) -> bool:
    return "secret" in vol or "configMap" in vol


def payload(store: Any, namespace: str, vol: dict[str, Any]) -> Payload:
    """The files of a `secret` or `configMap` pod volume, read from the store now."""
    if "secret" in vol:
        src = vol.get("secret") or {}
        kind, name = "secret", str(src.get("secretName") or "")
        obj = store.peek("secrets", namespace, name)
        values = None if obj is None else decode_data(obj.get("data") or {})
        no_key = "references non-existent secret key: {}"
    else:
        src = vol.get("configMap") or {}
        kind, name = "configmap", str(src.get("name") or "")
        obj = store.peek("configmaps", namespace, name)
        values = None
        if obj is not None:
            values = {str(k): str(v).encode() for k, v in (obj.get("data") or {}).items()}
            values.update(decode_data(obj.get("binaryData") or {}))
        no_key = "configmap references non-existent config key: {}"
    optional = bool(src.get("optional"))
    if values is None:
        if optional:
            return {}
        raise MountError(f'{kind} "{name}" not found')
    default_mode = _mode(src.get("defaultMode"), DEFAULT_MODE)
    items = src.get("items")
    if not items:
        return {key: (content, default_mode) for key, content in values.items()}
    out: Payload = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in values:
            if optional:
                continue
            raise MountError(no_key.format(key))
        out[str(item.get("path") or key)] = (values[key], _mode(item.get("mode"), default_mode))
    return out


def write(root: Path, files: Payload) -> None:
    """Write the payload under `root` (made if needed); paths leaving `root` are skipped
    (the API server refuses them anyway)."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, (content, mode) in files.items():
        norm = posixpath.normpath(rel)
        if norm.startswith(("/", "..")) or norm == ".":
            continue
        target = root / norm
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        os.chmod(target, mode)


def decode_data(data: dict[str, Any]) -> dict[str, bytes]:
    """A Secret's ``data`` (or a ConfigMap's ``binaryData``) decoded; a value that is not
    base64 (the API server refuses those; a store written by hand may not) kept as its text."""
    out = {}
    for k, v in data.items():
        try:
            out[str(k)] = base64.b64decode(str(v), validate=True)
        except (binascii.Error, ValueError):
            out[str(k)] = str(v).encode()
    return out


def _mode(value: Any, default: int) -> int:
    return int(value) & 0o777 if isinstance(value, int) else default
