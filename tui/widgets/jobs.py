"""The jobs panel: pre-warm Jobs and CronJobs with their state and download progress."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from collectors.model import JobInfo, ModelState
from tui.format import ColumnFit, format_age, progress_cell, progress_fit, shorten_middle
from tui.widgets.fitted_table import FittedTable, fitted

JOB_PROGRESS_FULL = 6 + 5 + 13 + 11  # bar, " 100%", " 1023.9 MiB/s", " ETA 59m59s"
_STATE_STYLE = {"Failed": "bold red", "Complete": "green", "Running": "cyan"}


def job_keys(jobs: Sequence[JobInfo]) -> list[tuple[str, JobInfo]]:
    """Jobs by name; a Job and a CronJob of the same name get their kind added."""
    names = [j.name for j in jobs]
    keyed = [
        (j.name if names.count(j.name) == 1 else f"{j.name} ({j.kind.lower()})", j) for j in jobs
    ]
    return sorted(keyed, key=lambda kj: kj[0])


class JobsTable(FittedTable):
    COLUMNS = (
        ("key", "", 0),
        ("name", "JOB", 22),
        ("state", "STATE", 12),
        ("schedule", "SCHEDULE", 9),
        ("progress", "PROGRESS", 34),
        ("last", "LAST", 4),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._wants: tuple[int, int, int, bool] = (12, 8, 9, True)  # name, state, schedule
        # lengths, and whether any job has progress to show
        self._last: tuple[Sequence[JobInfo], float] = ((), 0.0)

    def column_fits(self) -> Sequence[ColumnFit]:
        name, state, schedule, moving = self._wants
        progress = (15, 20, JOB_PROGRESS_FULL) if moving else (8, 8, 8)
        return (
            ColumnFit("name", 10, 22, name, grow=0),
            ColumnFit("state", 9, 12, state, grow=2),
            ColumnFit("schedule", 9, 11, schedule, drop=1, grow=3),
            ColumnFit("progress", *progress, grow=1),
            ColumnFit("last", 4, 4, 4, drop=2),
        )

    def show(self, jobs: Sequence[JobInfo], now: float) -> bool:
        self._last = (jobs, now)
        keyed = job_keys(jobs)
        wants = (
            max((len(key) for key, _ in keyed), default=3),
            max((len(_state_text(j)) for _, j in keyed), default=5),
            max((len(j.schedule or "-") for _, j in keyed), default=8),
            any(j.progress is not None for _, j in keyed),
        )
        self._wants = wants
        self.fit()  # nothing to do unless the widest values or the width changed
        layout = self.column_layout
        rows = [
            (key, (key, j, format_age(now - j.last_run) if j.last_run else "-", layout))
            for key, j in keyed
        ]
        return self.sync(rows, _cells)

    def redraw(self) -> None:
        self.show(*self._last)


def _job_name(key: str, job: JobInfo, width: int) -> str:
    """The key, shortened in the name: a CronJob and a Job of one name stay told apart."""
    if len(key) <= width or key == job.name:
        return shorten_middle(key, width)
    kind = job.kind.lower()
    for suffix in (f" ({kind})", f" ({kind[:4]})"):
        if width - len(suffix) >= 6:
            return shorten_middle(job.name, width - len(suffix)) + suffix
    return shorten_middle(key, width)


def _state_text(job: JobInfo) -> str:
    counts = f" {job.succeeded}✓" if job.succeeded else ""
    counts += f" {job.failed}✗" if job.failed else ""
    return job.state + counts


def _cells(source: Any) -> tuple[Any, ...]:
    key, job, last, layout = source
    widths = dict(layout)
    state = ModelState.DOWNLOADING if job.state == "Running" else ModelState.READY
    room = widths["progress"]
    # Bytes only when the column is wide enough for all of it; the pods table has them.
    progress = (
        progress_cell(job.progress, state, width=6, with_bytes=False)
        if room >= JOB_PROGRESS_FULL
        else progress_fit(job.progress, state, room)
    )
    cells = (
        _job_name(key, job, widths["name"]),
        Text(_state_text(job), style=_STATE_STYLE.get(job.state, "")),
        job.schedule or "-",
        progress,
        last,
    )
    return (key, *fitted(cells, layout[1:]))
