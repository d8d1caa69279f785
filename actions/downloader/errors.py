"""Exit codes and the typed failures behind them (the public contract of the downloader).

Every failure the downloader reports is a DownloadError carrying the machine code that the
progress `error` event prints, the process exit code, and one redacted sentence for people.
"""

from __future__ import annotations

from collectors.redact import redact_text

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_DOWNLOAD_FAILED = 3
EXIT_HTTP_REFUSED = 4
EXIT_CHECKSUM_MISMATCH = 5
EXIT_DISK_FULL = 6
EXIT_CACHE_FULL = 7
EXIT_TIMEOUT = 8
EXIT_INTERRUPTED = 130


class DownloadError(Exception):
    """A failure with a stable machine code, an exit code and a redacted one-sentence message."""

    code = "internal"
    exit_code = EXIT_INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(redact_text(message))

    @property
    def message(self) -> str:
        return str(self.args[0])


class UsageError(DownloadError):
    """A bad flag or environment value: nothing was attempted."""

    code = "usage"
    exit_code = EXIT_USAGE


class DownloadFailed(DownloadError):
    """Retries ran out (network errors, 5xx, stalls) or the server kept changing the file."""

    code = "download_failed"
    exit_code = EXIT_DOWNLOAD_FAILED


class LockTimeout(DownloadError):
    """Another process held the file's lock for longer than the overall timeout."""

    code = "locked_timeout"
    exit_code = EXIT_DOWNLOAD_FAILED


class HttpRefused(DownloadError):
    """A non-retriable answer (401/403/404/410...): retrying cannot help."""

    code = "http_refused"
    exit_code = EXIT_HTTP_REFUSED


class ChecksumMismatch(DownloadError):
    """The content's sha256 differs from the expected one; nothing is left at the final path."""

    code = "checksum_mismatch"
    exit_code = EXIT_CHECKSUM_MISMATCH


class DiskFull(DownloadError):
    """No space left on the device; the partial download is kept for a later resume."""

    code = "disk_full"
    exit_code = EXIT_DISK_FULL


class CacheFull(DownloadError):
    """The cache size cap cannot be met even after eviction; nothing was written."""

    code = "cache_full"
    exit_code = EXIT_CACHE_FULL


class TimedOut(DownloadError):
    """The overall --timeout passed; the partial download is kept."""

    code = "timeout"
    exit_code = EXIT_TIMEOUT


class Interrupted(DownloadError):
    """SIGINT or SIGTERM arrived; the partial download is kept."""

    code = "interrupted"
    exit_code = EXIT_INTERRUPTED


# Fetch-level signals, raised by a source for one request and handled by the workers.


class RetriableError(Exception):
    """A failure worth another attempt (connection error, 5xx, 429, short body...)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(redact_text(reason))
        self.retry_after = retry_after

    @property
    def reason(self) -> str:
        return str(self.args[0])


class StallError(RetriableError):
    """No byte arrived for --stall-timeout seconds."""


class BodyLengthError(RetriableError):
    """The body overran its announced length: the bytes of this attempt are not trusted."""


class ValidatorChanged(Exception):
    """The server's ETag/Last-Modified (or size) changed: the partial file is worthless."""


class RangeIgnored(Exception):
    """The server answered 200 with the whole body to a Range request."""


class Cancelled(Exception):
    """The run is stopping (signal, timeout, another file's fatal error); stop quietly."""


class PieceCut(Exception):
    """Another worker took over the rest of this piece: its bytes up to the new end are written
    and the response is dropped with the rest unread (not an error)."""
