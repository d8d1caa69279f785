"""What a free-text failure line says went wrong: the phrases for a wrong checksum and a full
disk, matched as whole words.

The one list both readers use: the parsers' ``classify_failure`` (the dashboard's failure code)
and the fix's evidence (actions/evidence.py), so they cannot disagree about a line. A bare
substring misreads lines such as "checksum verified, 3 GiB" or "--checksum flag given".
"""

from __future__ import annotations

import re

from collectors.parsers.base import CHECKSUM_MISMATCH, DISK_FULL, DOWNLOAD_FAILED


def _any(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


# The content is not what was expected: the model is corrupt or not the one asked for.
CHECKSUM_MISMATCH_TEXT = _any(
    r"\bchecksum[ _]mismatch(?:es)?\b",  # Lightning ASR; "checksum_mismatch" retold
    r"\b(?:sha256|hash)[ _]mismatch\b",  # our downloader: "sha256 mismatch, expected … but …"
    r"\bchecksum (?:validation|verification) failed\b",  # aria2c: "Checksum validation failed."
    # botocore: "Expected checksum X did not match calculated checksum"; sha256sum -c.
    r"\bchecksums? (?:\S+ )?(?:do(?:es)?|did) not match\b",
    r"\bchecksums? (?:\S+ )?(?:doesn't|don't|didn't) match\b",
)

# The volume has no room (ENOSPC, as wget, curl, aws and Python word it).
NO_SPACE_TEXT = _any(
    r"\bno space left\b",
    r"\benospc\b",
    r"\berrno 28\b",  # aws: "[Errno 28] No space left on device"
    r"\bdisk[ _]full\b",
    r"\bvolume is full\b",
)


def classify_failure(text: str) -> str:
    """Map a free-text failure reason onto a failure code (a full disk wins: it is the cause
    when a line mentions both)."""
    if NO_SPACE_TEXT.search(text):
        return DISK_FULL
    if CHECKSUM_MISMATCH_TEXT.search(text):
        return CHECKSUM_MISMATCH
    return DOWNLOAD_FAILED
