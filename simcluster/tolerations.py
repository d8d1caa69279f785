"""Which of a pod's tolerations tolerates a node taint, as the scheduler and the taint
eviction controller both ask it (core/v1 `Toleration.ToleratesTaint`)."""

from __future__ import annotations

from typing import Any


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return bool(key) and toleration.get("value", "") == taint.get("value", "")


def matching_toleration(
    tolerations: list[dict[str, Any]], taint: dict[str, Any]
) -> dict[str, Any] | None:
    """The first toleration that tolerates `taint`, or None."""
    return next((t for t in tolerations if tolerates(t, taint)), None)
