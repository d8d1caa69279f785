"""Events as the snapshot reads them, whichever API recorded them: the kubelet's through
core/v1 (count, lastTimestamp), the scheduler's through events.k8s.io (series, eventTime)."""

from __future__ import annotations

from typing import Any

from collectors import kube
from collectors.snapshot import event_infos


def _event(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": "2026-11-28T03:00:00Z"},
        "involvedObject": {"kind": "Pod", "name": "lightning-asr-abc"},
        "type": "Warning",
        "reason": "Unhealthy",
        "message": name,
        **fields,
    }


def test_a_repeated_event_counts_and_dates_from_its_series_when_recorded_that_way() -> None:
    at = kube.timestamp
    events = {
        "kubelet": _event("kubelet", count=7, lastTimestamp="2026-11-28T03:05:00Z"),
        "scheduler": _event(
            "scheduler",
            eventTime="2026-11-28T03:01:00.000000Z",
            series={"count": 12, "lastObservedTime": "2026-11-28T03:09:00.123456Z"},
        ),
        "once": _event("once", eventTime="2026-11-28T03:02:00.000000Z"),
        "bare": _event("bare"),
    }
    infos = event_infos({"events": events})
    assert [(e.message, e.count) for e in infos] == [
        ("scheduler", 12),
        ("kubelet", 7),
        ("once", 1),
        ("bare", 1),
    ], "newest first: the series' last sighting, not its first"
    assert infos[0].last_seen == at("2026-11-28T03:09:00.123456Z")
    assert infos[-1].last_seen == at("2026-11-28T03:00:00Z")
