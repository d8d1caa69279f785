"""A five-field cron schedule matcher (the syntax CronJob `spec.schedule` accepts).

Fields: minute hour day-of-month month day-of-week, each `*`, `N`, `A-B`, `*/S`, `A-B/S`
or a comma list of those; month and weekday names (`jan`, `mon`); `?` as `*`; the macros
`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. As in
cron, when both day fields are restricted a day matches if either does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)


class CronError(ValueError):
    """A schedule that does not parse; the message names the field."""


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_star: bool
    weekdays_star: bool

    def matches(self, t: datetime) -> bool:
        if t.minute not in self.minutes or t.hour not in self.hours or t.month not in self.months:
            return False
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays
        if self.days_star or self.weekdays_star:
            return dom and dow
        return dom or dow

    def next_after(self, t: datetime, limit_days: int = 366 * 5) -> datetime | None:
        """The first matching minute strictly after `t` (None if none within the limit)."""
        cur = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = t + timedelta(days=limit_days)
        while cur <= end:
            if cur.month not in self.months:
                cur = (cur.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            day_ok = self.matches(cur.replace(hour=min(self.hours), minute=min(self.minutes)))
            if not day_ok:
                cur = cur.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if cur.hour not in self.hours:
                cur = cur.replace(minute=0) + timedelta(hours=1)
                continue
            if cur.minute in self.minutes:
                return cur
            cur += timedelta(minutes=1)
        return None

    def last_at_or_before(self, t: datetime, after: datetime) -> datetime | None:
        """The latest matching minute in (after, t], None if there is none."""
        found = None
        cur = self.next_after(after)
        while cur is not None and cur <= t:
            found = cur
            cur = self.next_after(cur)
        return found


def _field(
    text: str, name: str, lo: int, hi: int, names: dict[str, int]
) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = text in ("*", "?")

    def num(tok: str) -> int:
        tok_l = tok.lower()
        if tok_l in names:
            return names[tok_l]
        if not tok.isdigit():
            raise CronError(f"failed to parse {name} field: {tok!r} is not a number")
        n = int(tok)
        if name == "day of week" and n == 7:
            n = 0
        if not lo <= n <= hi:
            raise CronError(f"{name} value {n} is out of range {lo}-{hi}")
        return n

    for part in text.split(","):
        rng, _, step_s = part.partition("/")
        step = 1
        if step_s:
            if not step_s.isdigit() or int(step_s) == 0:
                raise CronError(f"failed to parse {name} field: bad step {step_s!r}")
            step = int(step_s)
        if rng in ("*", "?"):
            start, end = lo, hi
        elif "-" in rng:
            a, _, b = rng.partition("-")
            start, end = num(a), num(b)
            if start > end:
                raise CronError(f"{name} range {rng!r} runs backwards")
        else:
            start = num(rng)
            end = hi if step_s else start
        values.update(range(start, end + 1, step))
    return frozenset(values), star


def parse_schedule(text: str) -> Schedule:
    """Parse a CronJob schedule; raises CronError naming what is wrong."""
    spec = _MACROS.get(text.strip().lower(), text.strip())
    if spec.upper().startswith(("TZ=", "CRON_TZ=")):
        raise CronError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    parts = spec.split()
    if len(parts) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(parts)}: {text}")
    parsed = [
        _field(p, name, lo, hi, names)
        for p, (name, lo, hi, names) in zip(parts, _FIELDS, strict=True)
    ]
    return Schedule(
        parsed[0][0],
        parsed[1][0],
        parsed[2][0],
        parsed[3][0],
        parsed[4][0],
        days_star=parsed[2][1],
        weekdays_star=parsed[4][1],
    )
