"""Read a YAML file that must hold a mapping (a kubeconfig, the chart's values.yaml).

A file a person wrote by hand is wrong in a few common ways: missing, unreadable, bad
syntax, or the wrong shape. Each becomes one sentence that names the file (and, for bad
syntax, the line and column), raised as the caller's own error class so each caller keeps
its error type.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


def load_mapping(
    path: Path,
    label: str,
    error: Callable[[str], Exception],
    *,
    expected: str,
    missing: str | None = None,
) -> dict[str, Any]:
    """The file's top-level mapping (``{}`` for an empty file).

    ``label`` names the kind of file ("kubeconfig"), ``expected`` finishes "... is not "
    when the document is not a mapping, and ``missing``, when given, explains where the path
    came from if the file does not exist (otherwise that is an ordinary read error).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if missing is None:
            raise error(f"{label} {path} cannot be read: {exc.strerror or exc}.") from None
        raise error(f"{label} {path} does not exist ({missing}).") from None
    except OSError as exc:
        raise error(f"{label} {path} cannot be read: {exc.strerror or exc}.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "a syntax error"
        raise error(f"{label} {path} is not valid YAML{where}: {problem}.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{label} {path} is not {expected}.")
    return data
