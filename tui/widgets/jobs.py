"""The jobs panel: pre-warm Jobs and CronJobs with their state and download progress."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from collectors.model import JobInfo, ModelState
from tui.format import format_age, progress_cell
from tui.widgets.keyed_table import KeyedTable

_STATE_STYLE = {"Failed": "bold red", "Complete": "green", "Running": "cyan"}


def job_key(job: JobInfo) -> str:
    return f"{job.kind.lower()}/{job.name}"


class JobsTable(KeyedTable):
    COLUMNS = (
        ("name", "JOB", 28),
        ("state", "STATE", 9),
        ("schedule", "SCHEDULE", 11),
        ("counts", "OK/FAIL", 7),
        ("progress", "PROGRESS", 30),
        ("last", "LAST", 5),
    )

    def show(self, jobs: Sequence[JobInfo], now: float) -> bool:
        rows = [
            (job_key(j), (j, format_age(now - j.last_run) if j.last_run else "-"))
            for j in sorted(jobs, key=job_key)
        ]
        return self.sync(rows, _cells)


def _cells(source: Any) -> tuple[Any, ...]:
    job, last = source
    state = ModelState.DOWNLOADING if job.state == "Running" else ModelState.READY
    return (
        job_key(job),
        Text(job.state, style=_STATE_STYLE.get(job.state, "")),
        job.schedule or "-",
        f"{job.succeeded}/{job.failed}",
        progress_cell(job.progress, state, width=6),
        last,
    )
