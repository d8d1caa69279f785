"""How fast a container's last run downloaded, and how much: read from that run's own log.

Advice sized by the download (a startup probe that allows it) must not depend on when it is
asked. Between two runs, or in the first seconds of a new one, the pod's progress shows no
rate, while the run before logged one: its rate and size stand in for the current run's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from actions.evidence import ContainerLog
from collectors.progress import parse_segment

_SEGMENTS = re.compile(r"[\r\n]+")


@dataclass(frozen=True)
class Pace:
    """What one run's log said of its download, as it last said it."""

    rate: float | None = None  # bytes/s, the last positive rate
    total: int | None = None  # the file's size, when the log gave it


def pace_of(text: str) -> Pace:
    """The last positive rate and the last size in ``text`` (one run's log)."""
    rate: float | None = None
    total: int | None = None
    for segment in _SEGMENTS.split(text):
        update = parse_segment(segment)
        if update is None:
            continue
        rate = update.rate if update.rate and update.rate > 0 else rate
        total = update.total or total
    return Pace(rate, total)


def last_run(logs: str | Sequence[ContainerLog], container: str) -> Pace:
    """The pace of ``container``'s run before its last restart: its previous log, or, while it
    waits between runs (when the kubelet answers both from the run that ended), its log."""
    if isinstance(logs, str):
        return Pace()
    log = next((c for c in logs if c.container == container), None)
    return pace_of(log.previous or log.current) if log is not None else Pace()
