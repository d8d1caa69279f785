"""Read the bundled downloader's JSON progress lines into short status lines for the user.

Only the bundled format (``"v": 1`` objects, see the progress contract) is read here: that is
what pre-warm Jobs and ``verify`` print. Other formats are the collectors' business.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from collectors.units import format_bytes


@dataclass(frozen=True)
class ProgressEvent:
    event: str
    data: dict[str, Any]

    def summary(self) -> str:
        d = self.data
        name = d.get("file") or "model"
        if self.event in ("progress", "verify"):
            done, total = _int(d.get("done")), _int(d.get("total"))
            verb = "downloading" if self.event == "progress" else "verifying"
            text = f"{verb} {name}"
            if done is not None and total:
                text += f" {100 * done // total}% {format_bytes(done)}/{format_bytes(total)}"
            elif done is not None:
                text += f" {format_bytes(done)}"
            rate = d.get("rate")
            if isinstance(rate, (int, float)) and rate > 0:
                text += f" {format_bytes(int(rate))}/s"
            return text
        if self.event == "start":
            resumed = _int(d.get("resumed_from")) or 0
            return f"started {name}" + (
                f", resuming from {format_bytes(resumed)}" if resumed else ""
            )
        if self.event == "wait":
            return f"waiting for the lock on {name} held by {d.get('holder') or 'another process'}"
        if self.event == "retry":
            return f"retry {d.get('attempt')}/{d.get('of')}: {d.get('reason')}"
        if self.event == "stall":
            return f"stalled at {format_bytes(_int(d.get('done')) or 0)}"
        if self.event == "done":
            return f"done {name}" + (" (already cached)" if d.get("cached") else "")
        if self.event == "error":
            return f"error {d.get('code')}: {d.get('message')}"
        if self.event == "evict":
            return f"evicted {d.get('path')}"
        return self.event


def parse_line(line: str) -> ProgressEvent | None:
    """One JSON progress object, or None for anything else."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # a few KiB of "[[[[" is too deep for json
        return None
    if not isinstance(obj, dict) or obj.get("v") != 1 or not isinstance(obj.get("event"), str):
        return None
    return ProgressEvent(obj["event"], obj)


def last_event(text: str) -> ProgressEvent | None:
    """The last progress object in a chunk of log text."""
    for line in reversed(text.splitlines()):
        event = parse_line(line)
        if event is not None:
            return event
    return None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) else None
