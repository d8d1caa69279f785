"""Lightning ASR's own log lines, as its troubleshooting docs show them:

INFO: Downloading model from URL...          WARNING: Download attempt 1 failed: Connection timeout
INFO: Model downloaded: 23.5GB               WARNING: Retrying download...
INFO: Loading model into GPU memory...       ERROR: Download failed after 3 attempts
INFO: Server ready on port 2269              ERROR: Model validation failed: checksum mismatch
"""

from __future__ import annotations

import re

from collectors.parsers.base import (
    CHECKSUM_MISMATCH,
    DISK_FULL,
    DOWNLOAD_FAILED,
    Update,
    size_text,
)
from collectors.parsers.failures import classify_failure

SOURCE = "lightning"

_ATTEMPT = re.compile(r"Download attempt (\d+)(?: of (\d+))? failed:?\s*(.*)", re.IGNORECASE)
_FAILED_AFTER = re.compile(r"Download failed after (\d+) attempts?", re.IGNORECASE)
_DOWNLOADED = re.compile(r"Model downloaded:?\s*([\d.]+\s*[KMGTP]?i?B)", re.IGNORECASE)
_READY = re.compile(r"Server ready(?: on port (\d+))?", re.IGNORECASE)


def _body(text: str) -> str:
    """The message without its level prefix (``INFO:``, ``[ERROR]``, a timestamp...)."""
    for level in ("INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "DEBUG"):
        idx = text.find(level)
        if 0 <= idx < 40:
            rest = text[idx + len(level) :].lstrip("]:- \t")
            return rest
    return text.strip()


def parse(text: str) -> Update | None:
    # Cheap keyword screen first: most lines are none of these.
    if "odel" not in text and "ownload" not in text and "eady" not in text:
        if "No space left" in text:
            return Update("error", SOURCE, code=DISK_FULL, message=_body(text))
        return None
    if "Server ready" in text or "server ready" in text:
        match = _READY.search(text)
        port = match[1] if match else None
        return Update("ready", SOURCE, message=f"server ready on port {port}" if port else None)
    if "Downloading model" in text:
        return Update("start", SOURCE, message=_body(text))
    if "Model downloaded" in text or "model downloaded" in text:
        match = _DOWNLOADED.search(text)
        size = size_text(match[1], binary_default=False) if match else None
        return Update("done", SOURCE, done=size, total=size, message=_body(text))
    if "failed after" in text:
        match = _FAILED_AFTER.search(text)
        if match:
            return Update(
                "error",
                SOURCE,
                code=DOWNLOAD_FAILED,
                attempt=int(match[1]),
                attempts=int(match[1]),
                message=_body(text),
            )
    if "attempt" in text and "failed" in text:
        match = _ATTEMPT.search(text)
        if match:
            reason = match[3].strip() or "unknown reason"
            return Update(
                "retry",
                SOURCE,
                attempt=int(match[1]),
                attempts=int(match[2]) if match[2] else None,
                message=reason,
                code=classify_failure(reason),
            )
    if "Retrying download" in text:
        return Update("retry", SOURCE, message="retrying download")
    if "validation failed" in text or "checksum mismatch" in text.lower():
        code = classify_failure(text)
        if code != CHECKSUM_MISMATCH and "validation failed" in text:
            code = CHECKSUM_MISMATCH
        return Update("error", SOURCE, code=code, message=_body(text))
    if "found in cache" in text:
        return Update("done", SOURCE, message=_body(text))
    if "Loading model" in text or "failed verification" in text:
        return Update("info", SOURCE, message=_body(text))
    if "No space left" in text:
        return Update("error", SOURCE, code=DISK_FULL, message=_body(text))
    return None
