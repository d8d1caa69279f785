"""The bundled downloader's output: JSON lines (the contract) and its human progress line."""

from __future__ import annotations

import json
import re
from typing import Any

from collectors.parsers.base import Update, duration_text, size_text
from collectors.parsers.failures import classify_failure

SOURCE = "bundled"


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_json(text: str) -> Update | None:
    """One JSON object per line: ``{"v": 1, "event": "progress", "done": ..., ...}``."""
    if not text.startswith("{") or '"event"' not in text:
        return None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # a few KiB of "[[[[" is too deep for json
        return None
    if not isinstance(obj, dict):
        return None
    event = obj.get("event")
    file = obj.get("file")
    if not isinstance(file, str):
        file = None
    if event == "progress":
        # The hot path (about once a second per file): plain type checks, no helpers.
        done, total, rate, eta = obj.get("done"), obj.get("total"), obj.get("rate"), obj.get("eta")
        return Update(
            "progress",
            SOURCE,
            done=done if type(done) is int else _int(done),
            total=total if type(total) is int else _int(total),
            rate=float(rate) if isinstance(rate, (float, int)) else None,
            eta=float(eta) if isinstance(eta, (float, int)) else None,
            file=file,
        )
    if event == "start":
        resumed = _int(obj.get("resumed_from")) or 0
        version = _str(obj.get("version"))
        return Update(
            "start",
            SOURCE,
            done=resumed,
            total=_int(obj.get("total")),
            file=file,
            message=f"version {version}" if version else None,
        )
    if event == "retry":
        reason = _str(obj.get("reason")) or "unknown reason"
        return Update(
            "retry",
            SOURCE,
            attempt=_int(obj.get("attempt")),
            attempts=_int(obj.get("of")),
            file=file,
            message=reason,
        )
    if event == "stall":
        after = _float(obj.get("after"))
        return Update(
            "stall",
            SOURCE,
            done=_int(obj.get("done")),
            file=file,
            message=f"no byte for {after:.0f} s" if after is not None else None,
        )
    if event == "wait":
        holder = _str(obj.get("holder"))
        return Update("wait", SOURCE, file=file, message=holder)
    if event == "verify":
        return Update(
            "verify", SOURCE, done=_int(obj.get("done")), total=_int(obj.get("total")), file=file
        )
    if event == "done":
        size = _int(obj.get("bytes"))
        cached = obj.get("cached") is True
        return Update(
            "done",
            SOURCE,
            done=size,
            total=size,
            file=file,
            message="already present and verified" if cached else None,
        )
    if event == "error":
        code = _str(obj.get("code")) or classify_failure(_str(obj.get("message")) or "")
        return Update(
            "error", SOURCE, file=file, code=code, message=_str(obj.get("message")) or code
        )
    if event == "evict":
        path = _str(obj.get("path")) or "?"
        return Update("info", SOURCE, file=file, message=f"evicted {path} (lru)")
    return None


# model.bin  42% 1.2 GiB/2.9 GiB  85.3 MiB/s  ETA 21s
_HUMAN = re.compile(
    r"^(?P<file>\S+)\s+(?P<pct>\d{1,3})%\s+(?P<done>[\d.]+\s?[KMGTP]?i?B)\s*/\s*"
    r"(?P<total>[\d.]+\s?[KMGTP]?i?B|\?)\s+(?P<rate>[\d.]+\s?[KMGTP]?i?B)/s"
    r"(?:\s+ETA\s+(?P<eta>\S+))?"
)


def parse_human(text: str) -> Update | None:
    """The compact line of ``--progress human``: ``model.bin  42% 1.2 GiB/2.9 GiB  85.3 MiB/s``."""
    if "%" not in text or "/s" not in text:
        return None
    match = _HUMAN.match(text.strip())
    if not match:
        return None
    total = match["total"]
    return Update(
        "progress",
        SOURCE,
        done=size_text(match["done"]),
        total=None if total == "?" else size_text(total),
        rate=size_text(match["rate"]),
        eta=duration_text(match["eta"]) if match["eta"] else None,
        file=match["file"],
    )
