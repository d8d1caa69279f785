"""Cluster health in one line: how many pods are ready and what needs attention."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from collectors.model import ClusterSnapshot, ModelState


@dataclass(frozen=True)
class Health:
    level: str  # ok | busy | bad | stale | unknown
    text: str


def health(snapshot: ClusterSnapshot | None) -> Health:
    """``bad`` when any pod needs attention, ``busy`` while models move, ``ok`` when all ready."""
    if snapshot is None:
        return Health("unknown", "connecting…")
    pods = snapshot.pods
    if not pods:
        level = "stale" if snapshot.stale else "unknown"
        return Health(level, "no pods match")
    counts = Counter(p.model_state for p in pods)
    ready = sum(1 for p in pods if p.ready)
    parts = [f"{ready}/{len(pods)} ready"]
    for state in ModelState:
        if state is not ModelState.READY and counts.get(state):
            parts.append(f"{counts[state]} {state.value}")
    if snapshot.stale:
        level = "stale"
    elif any(s.needs_attention for s in counts):
        level = "bad"
    elif ready < len(pods):
        level = "busy"
    else:
        level = "ok"
    return Health(level, " · ".join(parts))
