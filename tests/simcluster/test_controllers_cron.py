"""The cron matcher behind CronJob schedules."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from simcluster.controllers.cron import CronError, parse_schedule


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("* * * * *", "2026-01-01 10:00", "2026-01-01 10:01"),
        ("*/15 * * * *", "2026-01-01 10:01", "2026-01-01 10:15"),
        ("0 3 * * *", "2026-01-01 03:00", "2026-01-02 03:00"),
        ("30 2 1 * *", "2026-01-15 00:00", "2026-02-01 02:30"),
        ("0 0 * * mon", "2026-01-01 00:00", "2026-01-05 00:00"),  # 2026-01-01 is a Thursday
        ("0 9-17/4 * * 1-5", "2026-01-02 13:00", "2026-01-02 17:00"),
        ("0 0 1 jan,jul *", "2026-02-01 00:00", "2026-07-01 00:00"),
        ("0 0 13 * 5", "2026-01-01 00:00", "2026-01-02 00:00"),  # day-of-month OR Friday
        ("@hourly", "2026-01-01 10:30", "2026-01-01 11:00"),
        ("@weekly", "2026-01-01 00:00", "2026-01-04 00:00"),
        ("0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00"),
        ("0 0 * * 7", "2026-01-01 00:00", "2026-01-04 00:00"),  # 7 is Sunday too
    ],
)
def test_next_run(schedule: str, after: str, expected: str) -> None:
    assert parse_schedule(schedule).next_after(at(after)) == at(expected)


def test_last_due_time_in_a_window() -> None:
    s = parse_schedule("*/10 * * * *")
    assert s.last_at_or_before(at("2026-01-01 10:35"), at("2026-01-01 10:00")) == at(
        "2026-01-01 10:30"
    )
    assert s.last_at_or_before(at("2026-01-01 10:09"), at("2026-01-01 10:00")) is None


@pytest.mark.parametrize(
    "schedule",
    ["61 * * * *", "* * *", "*/0 * * * *", "5-1 * * * *", "x * * * *", "TZ=UTC 0 * * * *"],
)
def test_bad_schedules_name_the_problem(schedule: str) -> None:
    with pytest.raises(CronError) as exc:
        parse_schedule(schedule)
    assert str(exc.value)
