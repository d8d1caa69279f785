"""Layer rules that import-linter cannot express, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENT_BUILDERS = {
    "ApiClient",
    "Configuration",
    "load_kube_config",
    "load_incluster_config",
    "new_client_from_config",
    "KubeConfigLoader",
}


def _python_files(*packages: str) -> list[Path]:
    return [p for pkg in packages for p in (ROOT / pkg).rglob("*.py")]


def test_only_collectors_cluster_builds_kubernetes_clients() -> None:
    offenders = []
    for path in _python_files("tui", "collectors", "actions"):
        if path == ROOT / "collectors" / "cluster.py":
            continue
        source = path.read_text()
        if "kubernetes" not in source:
            continue
        tree = ast.parse(source, filename=str(path))
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.Name):
                name = node.id
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kubernetes"):
                for alias in node.names:
                    if alias.name in CLIENT_BUILDERS:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if name in CLIENT_BUILDERS and isinstance(node, (ast.Attribute, ast.Name)):
                parent_mod = path.relative_to(ROOT)
                offenders.append(f"{parent_mod}:{getattr(node, 'lineno', '?')} {name}")
    assert offenders == [], "only collectors/cluster.py may build API clients: " + ", ".join(
        offenders
    )


def test_downloader_imports_nothing_heavy() -> None:
    """The downloader runs alone in pods: no Kubernetes client, no Textual."""
    heavy = ("kubernetes", "textual", "tui", "simcluster")
    offenders = []
    for path in _python_files("actions/downloader"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            mods: list[str] = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {m}" for m in mods if m.split(".")[0] in heavy
            ]
    assert offenders == []
