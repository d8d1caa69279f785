"""The snapshot for scripts: what needs attention (the ``status`` exit code) and a plain,
documented dict for ``-o json`` / ``-o yaml``.

Attention, in the README's words: a stalled, corrupt or failed download; a volume over its
cache quota or more than 90 % full; a crash-looping pod; a failed pre-warm Job.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from collectors.model import ClusterSnapshot, ModelState, PodInfo, VolumeInfo
from collectors.room import too_small
from collectors.state import crash_loop, relapsing
from collectors.units import format_bytes, written_in_decimal

SCHEMA_VERSION = 1
NEARLY_FULL = 0.9
_TIME_FIELDS = frozenset(
    {
        "taken_at",
        "stale_since",
        "created_at",
        "updated_at",
        "measured_at",
        "last_run",
        "last_seen",
        "checked_at",
        "modified_at",
        "unscheduled_since",
        "since",
        "started_at",
        "killed_at",
    }
)


def used_fraction(volume: VolumeInfo) -> float | None:
    if volume.usage is None or volume.usage.used_bytes is None:
        return None
    denominator = volume.denominator
    if not denominator:
        return None
    if denominator == volume.usage.capacity_bytes and volume.usage.fraction_full is not None:
        return volume.usage.fraction_full  # as df counts it (reserved blocks are not free)
    return volume.usage.used_bytes / denominator


def volume_problem(vol: VolumeInfo) -> str | None:
    """Why a cache volume needs on-call, or None: over its cache quota, or more than 90% full
    (the next download, or the next version beside this one, will not fit)."""
    usage = vol.usage
    if usage is None or usage.used_bytes is None:
        return None
    if vol.quota_bytes and usage.used_bytes > vol.quota_bytes:
        decimal = written_in_decimal(vol.quota_bytes)
        return (
            f"{format_bytes(usage.used_bytes, decimal)} used, over the cache quota of "
            f"{format_bytes(vol.quota_bytes, decimal)}"
        )
    if usage.capacity_meaningful and usage.capacity_bytes:
        fraction = usage.fraction_full or 0.0
        if fraction > NEARLY_FULL:
            used, size = format_bytes(usage.used_bytes), format_bytes(usage.capacity_bytes)
            return f"{fraction:.0%} full ({used} of {size})"
    return None


def volume_problems(snapshot: ClusterSnapshot) -> list[tuple[VolumeInfo, str]]:
    # Read on every redraw: the failed pods are sorted by claim once, not per volume.
    failed: dict[str, list[PodInfo]] = {}
    for pod in snapshot.pods:
        if pod.cache_claim and pod.model_state is ModelState.FAILED:
            failed.setdefault(pod.cache_claim, []).append(pod)
    out = []
    for vol in snapshot.volumes:
        problem = too_small_problem(vol, failed.get(vol.name, ())) or volume_problem(vol)
        if problem is not None:
            out.append((vol, problem))
    return out


def too_small_problem(vol: VolumeInfo, failed: Sequence[PodInfo]) -> str | None:
    """A claim that could not hold the model even empty (a download on it, by one of the
    ``failed`` pods that cache on it, failed for room it can never have): its usage looks
    calm, so say it."""
    for pod in failed:
        why = " ".join(
            filter(None, (pod.progress.message if pod.progress else None, *pod.evidence))
        )
        small = too_small(vol, pod, why)
        if small is not None:
            model, capacity = small
            return (
                f"too small for the model: {format_bytes(model)} needed, it holds "
                f"{format_bytes(capacity)} in all"
            )
    return None


def attention(snapshot: ClusterSnapshot) -> list[str]:
    """Every reason for on-call to look, one line each; empty means all is well."""
    out: list[str] = []
    for pod in snapshot.pods:
        if pod.deleting:  # on its way out: its replacement is what needs a look, if anything
            continue
        if pod.model_state.needs_attention:
            why = pod.evidence[0] if pod.evidence else "no evidence recorded"
            out.append(f"pod {pod.name}: {pod.model_state.value}: {why}")
        looping = crash_loop(pod)
        if looping is not None and pod.model_state not in (ModelState.CORRUPT, ModelState.FAILED):
            out.append(
                f"pod {pod.name}: container {looping.name} in CrashLoopBackOff "
                f"({looping.restarts} restarts)"
            )
        elif relapsing(pod):  # between two crashes: the new run has not failed yet
            out.append(
                f"pod {pod.name}: {pod.model_state.value} again after {pod.restarts} "
                f"restart{'s' if pod.restarts != 1 else ''}; {pod.previous_run}"
            )
        if pod.probe_deadline is not None:  # it will fail: its probe ends the run first
            out.append(f"pod {pod.name}: {pod.model_state.value}: {pod.probe_deadline.said}")
        if pod.unready_because:  # loaded, and serving nothing
            out.append(
                f"pod {pod.name}: not Ready: its readiness probe fails: {pod.unready_because}"
            )
        if pod.node_not_ready is not None:  # runs on until evicted, nothing new starts there
            out.append(f"pod {pod.name}: {pod.node_not_ready.said}")
    out.extend(f"volume {vol.name}: {problem}" for vol, problem in volume_problems(snapshot))
    out.extend(f"rollout {r.name}: {r.problem}" for r in snapshot.rollouts if r.problem)
    for job in snapshot.jobs:
        if job.kind == "Job" and job.state == "Failed":
            out.append(f"job {job.name}: Failed ({job.failed} failed pods)")
    return out


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return (
        datetime.fromtimestamp(ts, timezone.utc)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )


def _plain(value: Any, key: str | None = None) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _plain(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if key in _TIME_FIELDS and isinstance(value, (int, float)):
        return iso(value) if value else None
    return value


def snapshot_dict(snapshot: ClusterSnapshot) -> dict[str, Any]:
    """The ``status -o json`` document (shape documented in the README)."""
    doc = _plain(snapshot)
    doc = {"schema": SCHEMA_VERSION, **doc}
    doc["stale"] = snapshot.stale
    doc["attention"] = attention(snapshot)
    for pod_doc, pod in zip(doc["pods"], snapshot.pods, strict=True):
        if pod_doc.get("progress") is not None and pod.progress is not None:
            pod_doc["progress"]["fraction"] = pod.progress.fraction
    for vol_doc, vol in zip(doc["volumes"], snapshot.volumes, strict=True):
        vol_doc["denominator_bytes"] = vol.denominator
        vol_doc["used_fraction"] = used_fraction(vol)
        if vol_doc.get("usage") is not None and vol.usage is not None:
            vol_doc["usage"]["capacity_meaningful"] = vol.usage.capacity_meaningful
    return doc
