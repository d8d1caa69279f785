"""The pods table: what needs attention first (model state urgency, then name), by state colour."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import BindingType

from collectors.model import DownloadPhase, ModelState, PodInfo
from collectors.state import relapsing
from tui import commands
from tui.format import (
    PROGRESS_FULL,
    STATE_STYLE,
    ColumnFit,
    cause_cell,
    format_age,
    progress_fit,
    shorten_middle,
    state_cell,
)
from tui.widgets.fitted_table import FittedTable, fitted

_AT_REST = (DownloadPhase.DONE, DownloadPhase.FAILED)


def pod_order(pod: PodInfo) -> tuple[int, str]:
    return (pod.model_state.urgency, pod.name)


def matches(pod: PodInfo, needle: str) -> bool:
    """The ``/`` filter: a case-insensitive substring of name, node, phase, kubectl's status
    (``/crashloop``), state or version."""
    if not needle:
        return True
    hay = " ".join(
        (
            pod.name,
            pod.node or "",
            pod.phase,
            pod.kubectl_status,
            pod.model_state.value,
            pod.model.version or "",
        )
    ).lower()
    return needle.lower() in hay


def ready_text(pod: PodInfo, room: int = 0) -> str:
    """kubectl's STATUS and READY (``CrashLoopBackOff 0/1``, ``Init:0/1 0/1``); the count gives
    way first when ``room`` is short. A pod not read from the API has its phase."""
    status = pod.kubectl_status or ("Terminating" if pod.deleting else pod.phase)
    main = [c for c in pod.containers if not c.init]
    if not main:
        return status + (" ✓" if pod.ready else "")
    said = f"{status} {sum(1 for c in main if c.ready)}/{len(main)}"
    return status if room and len(said) > room else said


class PodsTable(FittedTable):
    """One row per pod, keyed by pod name."""

    # The footer's order is the registry's (commands.FOOTER_FIRST), whoever binds the key.
    BINDINGS: ClassVar[list[BindingType]] = list(commands.bindings("table"))

    COLUMNS = (
        ("key", "", 0),
        ("name", "POD", 32),
        ("node", "NODE", 10),
        ("status", "STATUS", 11),
        ("restarts", "RST", 3),
        ("version", "MODEL", 7),
        ("state", "STATE", 13),
        ("progress", "PROGRESS", PROGRESS_FULL),
        ("age", "AGE", 5),
    )

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("follow_top", True)  # `f` at start acts on the most urgent pod
        super().__init__(**kwargs)
        # The longest name, node, version and status among the pods shown.
        self._wants: tuple[int, int, int, int] = (20, 10, 5, 15)
        self._last: tuple[Sequence[PodInfo], float, str] = ((), 0.0, "")

    def column_fits(self) -> Sequence[ColumnFit]:
        name, node, version, status = self._wants
        return (
            ColumnFit("name", 20, 32, name, grow=0),
            ColumnFit("node", 6, 10, node, drop=5, grow=4),
            ColumnFit("status", 11, 11, max(15, status), drop=1, grow=3),
            ColumnFit("restarts", 3, 3, 3, drop=3),
            ColumnFit("version", 5, 7, version, drop=4, grow=5),
            ColumnFit("state", 13, 13, 13),
            ColumnFit("progress", 15, 22, PROGRESS_FULL, grow=1),
            ColumnFit("age", 4, 5, 5, drop=2, grow=2),
        )

    def show(self, pods: Sequence[PodInfo], now: float, needle: str = "") -> bool:
        """Show the pods that match the filter, most urgent first; True when something changed.

        A new filter is the user's choice too: the cursor stops following the top, and stays
        on its pod if the filter keeps it, else goes to the most urgent match."""
        refiltered = needle != self._last[2]
        self._last = (pods, now, needle)
        shown = sorted((p for p in pods if matches(p, needle)), key=pod_order)
        if refiltered:  # for this sync only: onto the first match when its pod is filtered out
            self.follow_top = self.selected_key not in {p.name for p in shown}
        wants = (
            max((len(p.name) for p in shown), default=3),
            min(30, max((len(p.node or "-") for p in shown), default=4)),
            max((len(p.model.version or "-") for p in shown), default=5),
            max((len(ready_text(p)) for p in shown), default=15),
        )
        self._wants = wants
        self.fit()  # nothing to do unless the widest values or the width changed
        layout = self.column_layout
        rows = [(p.name, (p, format_age(now - p.created_at), layout)) for p in shown]
        changed = self.sync(rows, _cells)
        if refiltered:
            self.hold()
        return changed

    def redraw(self) -> None:
        self.show(*self._last)


def _cells(source: Any) -> tuple[Any, ...]:
    pod, age, layout = source
    widths = dict(layout)
    state: ModelState = pod.model_state
    name_style = "strike grey50" if pod.deleting else ""
    restarts = Text(str(pod.restarts), style="bold red" if pod.restarts >= 3 else "")
    room = widths["progress"]
    progress = cause_cell(pod, room)
    if progress is None:
        progress = progress_fit(pod.progress, state, room)
    # A verify result the user asked for beats a download that is not moving ("?% failed"
    # for a crash-looping pod would hide the mismatch); a live download still shows itself.
    if pod.verification is not None and (not pod.progress or pod.progress.phase in _AT_REST):
        ok = pod.verification.ok
        what = "verified" if ok else "mismatch"
        progress = Text(
            f"✓ checksum {what}" if ok else f"✗ checksum {what}",
            style="green" if ok else STATE_STYLE[ModelState.CORRUPT],
        )
        if progress.cell_len > room:
            progress = Text(f"{'✓' if ok else '✗'} {what}", style=progress.style)
    cells: tuple[Any, ...] = (
        Text(shorten_middle(pod.name, widths["name"]), style=name_style),
        pod.node or "-",
        ready_text(pod, widths["status"]),
        restarts,
        pod.model.version or "-",
        state_cell(state, again=relapsing(pod)),
        progress,
        age,
    )
    return (pod.name, *fitted(cells, layout[1:]))
