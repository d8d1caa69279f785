"""The value every progress parser returns, and the number formats they share."""

from __future__ import annotations

import functools
import re
from typing import Literal, NamedTuple

UpdateKind = Literal[
    "start",  # a download begins (total and resume offset when known)
    "progress",  # bytes moved
    "retry",  # an attempt failed and another follows
    "wait",  # another process holds the lock; this one waits
    "stall",  # the downloader itself says no bytes arrive
    "verify",  # hashing the file
    "done",  # the file is complete (downloaded or already present)
    "error",  # the download failed for good (``code`` says how)
    "ready",  # the server says it is ready (model loaded)
    "info",  # a line worth keeping as evidence, no state change
]

# Failure codes shared with the bundled downloader (progress contract) so every format maps
# onto the same few outcomes.
CHECKSUM_MISMATCH = "checksum_mismatch"
DISK_FULL = "disk_full"
DOWNLOAD_FAILED = "download_failed"
HTTP_REFUSED = "http_refused"


class Update(NamedTuple):
    """What one log segment says about a download (a NamedTuple: cheap to build, immutable)."""

    kind: UpdateKind
    source: str  # bundled | wget | curl | aria2c | aws | tqdm | lightning
    done: int | None = None
    total: int | None = None
    rate: float | None = None  # bytes per second
    eta: float | None = None  # seconds
    attempt: int | None = None
    attempts: int | None = None  # of how many
    file: str | None = None
    message: str | None = None
    code: str | None = None  # failure code for kind="error"
    dots: int | None = None  # wget dot style: dots on this line (``done`` is the line's offset)
    percent: int | None = None  # the tool's own percentage (wget: rounded down), for the total
    dot_size: int | None = None  # wget dot style: bytes per dot as the grouping suggests
    skipped: int | None = None  # wget dot style: dots of this line that a resume skipped (",")


_UNIT_POWER = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


def scaled(number: str, prefix: str, base: int = 1024) -> int:
    """``scaled("1.5", "G")`` -> bytes; the prefix is a single letter (case-insensitive)."""
    power = _UNIT_POWER.get(prefix.upper()[:1], 0)
    return int(float(number.replace(",", ".")) * base**power)


_POWERS = {"k": 1, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


@functools.lru_cache(maxsize=8192)  # progress lines repeat totals, rates and steps
def size_text(text: str, binary_default: bool = True) -> int | None:
    """Sizes as tools print them: ``2.0 GiB``, ``863.45M``, ``400MiB``, ``120MB``, ``0B``.

    ``KiB`` is binary; ``MB`` is binary unless ``binary_default`` is false (tools disagree:
    wget and curl mean 1024, tqdm means 1000). Hand-written, not a regex: it runs for every
    progress line.
    """
    t = text.strip()
    if t.endswith("ytes"):
        t = t[:-5]
    elif t.endswith("B"):
        t = t[:-1]
    binary = binary_default
    if t.endswith("i"):
        t = t[:-1]
        binary = True
    power = _POWERS.get(t[-1:], 0)
    if power:
        t = t[:-1]
    t = t.rstrip()
    if not t or not t[0].isdigit():
        return None
    try:
        value = float(t.replace(",", "."))
    except ValueError:
        return None
    if value != value or value == float("inf"):
        return None
    return int(value * (1024 if binary else 1000) ** power)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")


@functools.lru_cache(maxsize=4096)
def duration_text(text: str) -> float | None:
    """``1m2s``, ``1h 5m``, ``21s``, ``0:00:17``, ``2.5s`` -> seconds; ``--:--`` -> None."""
    text = text.strip()
    if not text or "-" in text or "?" in text:
        return None
    if ":" in text:
        try:
            total = 0.0
            for part in text.split(":"):
                total = total * 60 + float(part)
            return total
        except ValueError:
            return None
    parts = _DURATION_PART.findall(text)
    if not parts:
        try:
            return float(text)
        except ValueError:
            return None
    mult = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return sum(float(n) * mult[u] for n, u in parts)
