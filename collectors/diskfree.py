"""``df -P -B1`` output, read one way for the dashboard's volume figures and the actions' cache
listing, so the two never disagree about how full a volume is.

The POSIX format is a header, then per file system: device, size, used, available, capacity
and mount point. A long device name (an NFS or EFS address) may stand on a line of its own with
the numbers on the next, so the figures are the first run of three whole byte counts on a line,
not fixed columns. ``-B1`` makes every count whole bytes: a human size (``1.0G``) means the
command was not the one asked for, and a rounded figure would be read as exact, so it is refused.
"""

from __future__ import annotations

from typing import NamedTuple

MAX_QUOTED = 80  # characters of df's output quoted in an error


class DfFigures(NamedTuple):
    """One file system's bytes as df counts them (a tuple: ``total, used, available``)."""

    total: int
    used: int
    available: int


class DfOutputError(ValueError):
    """df's output holds no file system's byte counts; one sentence quoting what it printed."""


def parse_df(stdout: str) -> DfFigures:
    """The first file system in ``df -P -B1`` output; ``DfOutputError`` when there is none."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise DfOutputError("df printed nothing")
    if len(lines) == 1:
        raise DfOutputError(f"df printed only one line, no file system: {_quoted(lines[0])}")
    for line in lines[1:]:
        fields = line.split()
        for i in range(len(fields) - 2):
            run = fields[i : i + 3]
            if all(f.isascii() and f.isdigit() for f in run):
                return DfFigures(*(int(f) for f in run))
    raise DfOutputError(f"df printed no byte counts: {_quoted(lines[1])}")


def _quoted(line: str) -> str:
    text = " ".join(line.split())
    return repr(text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…")
