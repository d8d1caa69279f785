"""The cache manifest: one JSON file in the cache root recording every verified entry.

Each entry has the file's path (relative to the cache root), size, sha256, version, redacted
source and last use, which LRU eviction orders by. Processes sharing the cache update it under
a separate flock (read, change, write-then-rename), so concurrent pods never lose entries.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from collectors.redact import redact_url

from .clock import parse_rfc3339, rfc3339
from .errors import DownloadFailed
from .layout import MANIFEST_LOCK_NAME, MANIFEST_NAME

MANIFEST_VERSION = 1
LOCK_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    sha256: str | None
    version: str | None
    source: str | None
    last_used: str

    @property
    def last_used_ts(self) -> float:
        return parse_rfc3339(self.last_used)


def manifest_path(root: Path) -> Path:
    return root / MANIFEST_NAME


def read_entries(root: Path) -> dict[str, Entry]:
    """The manifest's entries by path; an unreadable manifest reads as empty."""
    try:
        with open(manifest_path(root), encoding="utf-8") as fh:
            raw = json.load(fh)
        items = raw.get("entries") or []
    except (OSError, ValueError, AttributeError):
        return {}
    entries: dict[str, Entry] = {}
    for item in items:
        try:
            entry = Entry(
                path=str(item["path"]),
                size=int(item["size"]),
                sha256=item.get("sha256"),
                version=item.get("version"),
                source=item.get("source"),
                last_used=str(item.get("last_used") or rfc3339(0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        entries[entry.path] = entry
    return entries


def write_entries(root: Path, entries: dict[str, Entry]) -> None:
    """Replace the manifest atomically (call with the manifest lock held)."""
    body = {
        "v": MANIFEST_VERSION,
        "entries": [asdict(e) for e in sorted(entries.values(), key=lambda e: e.path)],
    }
    target = manifest_path(root)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        os.write(fd, (json.dumps(body, indent=1) + "\n").encode())
    finally:
        os.close(fd)
    os.replace(tmp, target)


@contextmanager
def manifest_lock(root: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the manifest's flock; other processes only ever hold it briefly."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / MANIFEST_LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DownloadFailed(
                        f"the cache manifest in {root} stayed locked for {wait:.0f} s"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def record_entry(
    root: Path,
    relative: str,
    size: int,
    sha256: str | None,
    version: str | None,
    source: str | None,
) -> None:
    """Add or refresh an entry after a verified download or a cache hit (counts as use)."""
    with manifest_lock(root):
        entries = read_entries(root)
        old = entries.get(relative)
        entries[relative] = Entry(
            path=relative,
            size=size,
            sha256=sha256 or (old.sha256 if old and old.size == size else None),
            version=version if version is not None else (old.version if old else None),
            source=redact_url(source) if source else (old.source if old else None),
            last_used=rfc3339(),
        )
        write_entries(root, entries)


def touch_entry(root: Path, relative: str, sha256: str | None = None) -> bool:
    """Mark an existing entry as used now (the `verify` subcommand); False when not listed."""
    with manifest_lock(root):
        entries = read_entries(root)
        old = entries.get(relative)
        if old is None:
            return False
        entries[relative] = replace(old, last_used=rfc3339(), sha256=sha256 or old.sha256)
        write_entries(root, entries)
    return True
