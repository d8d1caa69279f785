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
from collectors.parsers.failures import classify_failure

SOURCE = "aria2c"


def _readout(text: str) -> Update | None:
    """``[#gid DONE/TOTAL(PCT%) CN:n DL:RATE ETA:t]``, read by hand (it repeats every second)."""
    end = text.find("]")
    tokens = text[2 : end if end > 0 else len(text)].split()
    if len(tokens) < 2:
        return None
    amounts = tokens[1].partition("(")[0]
    done_text, slash, total_text = amounts.partition("/")
    if not slash:
        return None
    done = size_text(done_text)
    if done is None:
        return None
    total = size_text(total_text)
    rate: float | None = None
    eta: float | None = None
    for token in tokens[2:]:
        if token.startswith("DL:"):
            value = size_text(token[3:])
            rate = float(value) if value is not None else None
        elif token.startswith("ETA:"):
            eta = duration_text(token[4:])
    return Update("progress", SOURCE, done=done, total=total or None, rate=rate, eta=eta)


_ERROR_CODE = re.compile(r"errorCode=(\d+)")
_RESULT_ROW = re.compile(r"^\w+\|(OK|ERR|INPR|RM)\s*\|")


def parse(text: str) -> Update | None:
    if text.startswith("[#"):
        return _readout(text)
    if "errorCode=" in text:
        match = _ERROR_CODE.search(text)
        code = int(match[1]) if match else 1
        # aria2c exit/error codes: 9 not enough disk space, 32 checksum validation failed;
        # any other code is read by its words.
        if code == 32:
            failure = CHECKSUM_MISMATCH
        elif code == 9:
            failure = DISK_FULL
        else:
            failure = classify_failure(text)
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
