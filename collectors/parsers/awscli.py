"""``aws s3 cp``: ``Completed 256.0 KiB/2.0 GiB (3.2 MiB/s) with 1 file(s) remaining`` updates
(bare ``\\r`` between them), then ``download: s3://... to ...`` or ``download failed: ...``."""

from __future__ import annotations

import re

from collectors.parsers.base import (
    DISK_FULL,
    DOWNLOAD_FAILED,
    HTTP_REFUSED,
    Update,
    size_text,
)
from collectors.parsers.failures import classify_failure

SOURCE = "aws"

_HTTP_CODE = re.compile(r"An error occurred \((\d{3}|[A-Za-z]+)\)")


def _completed(text: str) -> Update | None:
    """``Completed DONE/TOTAL (RATE/s) with N file(s) remaining``, read by hand."""
    slash = text.find("/", 10)
    paren = text.find(" (", slash)
    close = text.find("/s)", paren)
    if slash < 0 or paren < 0 or close < 0:
        return None
    done = size_text(text[10:slash])
    total = size_text(text[slash + 1 : paren].rstrip("~"))
    if done is None or total is None:
        return None
    rate = size_text(text[paren + 2 : close])
    return Update(
        "progress", SOURCE, done=done, total=total, rate=float(rate) if rate is not None else None
    )


def parse(text: str) -> Update | None:
    if text.startswith("Completed "):
        return _completed(text)
    if text.startswith("download: "):
        return Update("done", SOURCE, message=text.strip())
    if text.startswith(("download failed:", "fatal error:")):
        match = _HTTP_CODE.search(text)
        if match and match[1] in {"403", "404", "401", "AccessDenied", "NoSuchKey"}:
            code = HTTP_REFUSED
        else:
            code = classify_failure(text)
        return Update("error", SOURCE, code=code, message=text.strip())
    if "[Errno 28]" in text:
        return Update("error", SOURCE, code=DISK_FULL, message=text.strip())
    if text.startswith("upload failed:"):
        return Update("error", SOURCE, code=DOWNLOAD_FAILED, message=text.strip())
    return None
