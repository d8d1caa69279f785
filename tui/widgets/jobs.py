"""The jobs panel: pre-warm Jobs and CronJobs with their state and download progress."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from collectors.model import JobInfo, ModelState
from tui.format import format_age, progress_cell
from tui.widgets.keyed_table import KeyedTable

_STATE_STYLE = {"Failed": "bold red", "Complete": "green", "Running": "cyan"}


def job_keys(jobs: Sequence[JobInfo]) -> list[tuple[str, JobInfo]]:
    """Jobs by name; a Job and a CronJob of the same name get their kind added."""
    names = [j.name for j in jobs]
    keyed = [
        (j.name if names.count(j.name) == 1 else f"{j.name} ({j.kind.lower()})", j) for j in jobs
    ]
    return sorted(keyed, key=lambda kj: kj[0])


class JobsTable(KeyedTable):
    COLUMNS = (
        ("name", "JOB", 22),
        ("state", "STATE", 12),
        ("schedule", "SCHEDULE", 9),
        ("progress", "PROGRESS", 34),
        ("last", "LAST", 4),
    )

    def show(self, jobs: Sequence[JobInfo], now: float) -> bool:
        rows = [
            (key, (key, j, format_age(now - j.last_run) if j.last_run else "-"))
            for key, j in job_keys(jobs)
        ]
        return self.sync(rows, _cells)


def _cells(source: Any) -> tuple[Any, ...]:
    key, job, last = source
    state = ModelState.DOWNLOADING if job.state == "Running" else ModelState.READY
    counts = f" {job.succeeded}✓" if job.succeeded else ""
    counts += f" {job.failed}✗" if job.failed else ""
    return (
        key,
        Text(job.state + counts, style=_STATE_STYLE.get(job.state, "")),
        job.schedule or "-",
        progress_cell(job.progress, state, width=6, with_bytes=False),
        last,
    )
