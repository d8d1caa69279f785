"""The context names of a kubeconfig, for the ``c`` picker.

Reading names is all this does (no client is built here: collectors.cluster does that). It
follows kubectl's order: ``--kubeconfig``, else every file in ``$KUBECONFIG``, else
``~/.kube/config``.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

DEFAULT_KUBECONFIG = "~/.kube/config"


class ContextsError(Exception):
    """The kubeconfig cannot be read; ``str()`` is one sentence naming the file."""


def kubeconfig_paths(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG", "")
    if env.strip():
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    return [Path(DEFAULT_KUBECONFIG).expanduser()]


def list_contexts(explicit: str | None) -> list[str]:
    """Context names in file order, first definition wins (as kubectl merges)."""
    names: list[str] = []
    for path in kubeconfig_paths(explicit):
        if not path.is_file():
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ContextsError(f"kubeconfig {path} cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise ContextsError(f"kubeconfig {path} is not a kubeconfig mapping")
        for item in data.get("contexts") or []:
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and name not in names:
                names.append(name)
    if not names:
        shown = ", ".join(str(p) for p in kubeconfig_paths(explicit))
        raise ContextsError(f"no contexts found in {shown}")
    return names
