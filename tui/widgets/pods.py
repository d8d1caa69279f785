"""The pods table: what needs attention first (model state urgency, then name), by state colour."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import BindingType

from collectors.model import DownloadPhase, ModelState, PodInfo
from tui import commands
from tui.format import STATE_STYLE, format_age, progress_cell, state_cell
from tui.widgets.keyed_table import KeyedTable

_AT_REST = (DownloadPhase.DONE, DownloadPhase.FAILED)


def pod_order(pod: PodInfo) -> tuple[int, str]:
    return (pod.model_state.urgency, pod.name)


def matches(pod: PodInfo, needle: str) -> bool:
    """The ``/`` filter: a case-insensitive substring of name, node, phase, state or version."""
    if not needle:
        return True
    hay = " ".join(
        (pod.name, pod.node or "", pod.phase, pod.model_state.value, pod.model.version or "")
    ).lower()
    return needle.lower() in hay


def ready_text(pod: PodInfo) -> str:
    main = [c for c in pod.containers if not c.init]
    if not main:
        return pod.phase + (" ✓" if pod.ready else "")
    ready = sum(1 for c in main if c.ready)
    phase = "Terminating" if pod.deleting else pod.phase
    return f"{phase} {ready}/{len(main)}"


class PodsTable(KeyedTable):
    """One row per pod, keyed by pod name."""

    BINDINGS: ClassVar[list[BindingType]] = list(commands.bindings("table"))

    COLUMNS = (
        ("name", "POD", 32),
        ("node", "NODE", 10),
        ("status", "STATUS", 11),
        ("restarts", "RST", 3),
        ("version", "MODEL", 7),
        ("state", "STATE", 13),
        ("progress", "PROGRESS", 49),
        ("age", "AGE", 5),
    )

    def show(self, pods: Sequence[PodInfo], now: float, needle: str = "") -> bool:
        """Show the pods that match the filter, most urgent first; True when something changed."""
        shown = sorted((p for p in pods if matches(p, needle)), key=pod_order)
        rows = [(p.name, (p, format_age(now - p.created_at))) for p in shown]
        return self.sync(rows, _cells)


def _cells(source: Any) -> tuple[Any, ...]:
    pod, age = source
    state: ModelState = pod.model_state
    name_style = "strike grey50" if pod.deleting else ""
    restarts = Text(str(pod.restarts), style="bold red" if pod.restarts >= 3 else "")
    progress = progress_cell(pod.progress, state, width=8)
    # A verify result the user asked for beats a download that is not moving ("?% failed"
    # for a crash-looping pod would hide the mismatch); a live download still shows itself.
    if pod.verification is not None and (not pod.progress or pod.progress.phase in _AT_REST):
        ok = pod.verification.ok
        progress = Text(
            "✓ checksum verified" if ok else "✗ checksum mismatch",
            style="green" if ok else STATE_STYLE[ModelState.CORRUPT],
        )
    return (
        Text(pod.name, style=name_style),
        pod.node or "-",
        ready_text(pod),
        restarts,
        pod.model.version or "-",
        state_cell(state),
        progress,
        age,
    )
