"""curl's progress meter (written with bare ``\\r`` even without a terminal) and its errors.

 % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current
                                Dload  Upload   Total   Spent    Left  Speed
42 2048M   42  863M    0     0   120M      0  0:00:17  0:00:07  0:00:10  121M
"""

from __future__ import annotations

import re

from collectors.parsers.base import (
    DISK_FULL,
    DOWNLOAD_FAILED,
    HTTP_REFUSED,
    Update,
    duration_text,
    size_text,
)

SOURCE = "curl"

_ERROR = re.compile(r"^curl: \((\d+)\)\s*(.*)")
# curl exit codes worth telling apart (see `man curl`, EXIT CODES).
_WRITE_ERRORS = {23}
_HTTP_ERRORS = {22}


def _size(token: str) -> int | None:
    return size_text(token)


def parse(text: str) -> Update | None:
    if text.startswith("curl: "):
        match = _ERROR.match(text)
        if not match:
            return None
        code, message = int(match[1]), match[2]
        if code in _WRITE_ERRORS or "No space left" in message:
            failure = DISK_FULL if "space" in message.lower() or code == 23 else DOWNLOAD_FAILED
        elif code in _HTTP_ERRORS:
            failure = HTTP_REFUSED
        else:
            failure = DOWNLOAD_FAILED
        return Update("error", SOURCE, code=failure, message=f"curl ({code}) {message}".strip())
    tokens = text.split()
    if len(tokens) != 12:
        return None
    pct, total, _pct_recv, received = tokens[0], tokens[1], tokens[2], tokens[3]
    if not (pct.isdigit() and tokens[2].isdigit() and tokens[4].isdigit()):
        return None
    if tokens[8].count(":") != 2 and not tokens[8].startswith("--"):
        return None
    done = _size(received)
    if done is None:
        return None
    total_bytes = _size(total)
    rate = _size(tokens[11])
    if rate is None:
        rate = _size(tokens[6])
    return Update(
        "progress",
        SOURCE,
        done=done,
        total=total_bytes or None,
        rate=float(rate) if rate is not None else None,
        eta=duration_text(tokens[10]),
    )
