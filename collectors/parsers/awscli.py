"""``aws s3 cp``: ``Completed 256.0 KiB/2.0 GiB (3.2 MiB/s) with 1 file(s) remaining`` updates
(bare ``\\r`` between them), then ``download: s3://... to ...`` or ``download failed: ...``."""

from __future__ import annotations

import re

from collectors.parsers.base import (
    DISK_FULL,
    DOWNLOAD_FAILED,
    HTTP_REFUSED,
    Update,
    classify_failure,
    size_text,
)

SOURCE = "aws"

_COMPLETED = re.compile(
    r"^Completed (?P<done>[\d.]+ ?(?:[KMGTP]i?B|Bytes|B))/(?P<total>[\d.]+ ?(?:[KMGTP]i?B|Bytes|B))"
    r"(?:~)? \((?P<rate>[\d.]+ ?(?:[KMGTP]i?B|Bytes|B))/s\)"
)
_HTTP_CODE = re.compile(r"An error occurred \((\d{3}|[A-Za-z]+)\)")


def parse(text: str) -> Update | None:
    if text.startswith("Completed "):
        match = _COMPLETED.match(text)
        if not match:
            return None
        rate = size_text(match["rate"])
        return Update(
            "progress",
            SOURCE,
            done=size_text(match["done"]),
            total=size_text(match["total"]),
            rate=float(rate) if rate is not None else None,
        )
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
