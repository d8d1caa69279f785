"""`asr-cache-download verify PATH`: checksum a file that is already there (a baked image).

A match (or no expected checksum) counts as use of the cache entry when a manifest lists it.
The file itself is never changed or removed, whatever the result.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .config import VerifyConfig
from .errors import EXIT_OK, ChecksumMismatch, UsageError
from .layout import MANIFEST_NAME
from .manifest import touch_entry
from .progress import Reporter
from .verify import hash_file


def _touch_manifest(path: Path, sha256: str) -> None:
    """Mark the entry used in the manifest of the cache the file lives in, if any."""
    real = Path(os.path.realpath(path))
    for root in (real.parent, real.parent.parent):
        if (root / MANIFEST_NAME).is_file():
            try:
                if touch_entry(root, real.relative_to(root).as_posix(), sha256):
                    return
            except OSError:
                return  # a read-only cache (a baked image) is fine: verifying is what matters


def run_verify(config: VerifyConfig, reporter: Reporter) -> int:
    path = config.path
    name = path.name or str(path)
    if not path.exists():
        raise UsageError(f"model file {path} does not exist")
    if not path.is_file():
        raise UsageError(f"model file {path} is not a regular file")
    started = time.monotonic()
    try:
        digest, size = hash_file(
            path, on_progress=lambda done, total: reporter.verify(name, done, total)
        )
    except PermissionError:
        raise UsageError(f"model file {path} cannot be read: permission denied") from None
    reporter.verify(name, size, size, sha256=digest)
    if config.checksum is not None and digest != config.checksum:
        raise ChecksumMismatch(
            f"{name}: sha256 mismatch, expected {config.checksum} but {path} has {digest}"
        )
    _touch_manifest(path, digest)
    reporter.done(name, size, digest, time.monotonic() - started, True, str(path))
    return EXIT_OK
