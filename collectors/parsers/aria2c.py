"""aria2c's console readout and its result and error lines (ANSI codes already stripped).

[#2089b0 400MiB/2.0GiB(19%) CN:4 DL:120MiB ETA:13s]
"""

from __future__ import annotations

import re

from collectors.parsers.base import (
    CHECKSUM_MISMATCH,
    DISK_FULL,
    DOWNLOAD_FAILED,
    Update,
    duration_text,
    size_text,
)

SOURCE = "aria2c"

_READOUT = re.compile(
    r"\[#\w+\s+(?P<done>[\d.]+[KMGTP]?i?B)/(?P<total>[\d.]+[KMGTP]?i?B)(?:\((?P<pct>\d+)%\))?"
    r"(?:\s+CN:\d+)?(?:\s+SD:\d+)?(?:\s+DL:(?P<rate>[\d.]+[KMGTP]?i?B))?"
    r"(?:\s+UL:\S+?)?(?:\s+ETA:(?P<eta>[\dhms]+))?"
)
_ERROR_CODE = re.compile(r"errorCode=(\d+)")
_RESULT_ROW = re.compile(r"^\w+\|(OK|ERR|INPR|RM)\s*\|")


def parse(text: str) -> Update | None:
    if text.startswith("[#"):
        match = _READOUT.match(text)
        if not match:
            return None
        total = size_text(match["total"])
        rate = size_text(match["rate"]) if match["rate"] else None
        return Update(
            "progress",
            SOURCE,
            done=size_text(match["done"]),
            total=total or None,
            rate=float(rate) if rate is not None else None,
            eta=duration_text(match["eta"]) if match["eta"] else None,
        )
    if "errorCode=" in text:
        match = _ERROR_CODE.search(text)
        code = int(match[1]) if match else 1
        # aria2c exit/error codes: 9 not enough disk space, 32 checksum validation failed.
        if code == 32 or "Checksum" in text:
            failure = CHECKSUM_MISMATCH
        elif code == 9 or "No space left" in text:
            failure = DISK_FULL
        else:
            failure = DOWNLOAD_FAILED
        return Update("error", SOURCE, code=failure, message=text.strip())
    if "|" in text:
        match = _RESULT_ROW.match(text)
        if match:
            if match[1] == "OK":
                return Update("done", SOURCE, message="aria2c: download completed")
            if match[1] == "ERR":
                return Update("error", SOURCE, code=DOWNLOAD_FAILED, message="aria2c: error")
    if "Download aborted" in text:
        return Update("retry", SOURCE, message=text.strip())
    return None
