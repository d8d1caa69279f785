"""Progress output: JSON lines (the dashboard's contract), a human progress display, or none.

Every line is built here, so the contract lives in one place: one JSON object per line with
"v", "event", "ts" and "file", flushed; URLs and messages redacted on the way out. Output
errors (a closed pipe) never stop a download.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from collectors.redact import redact_text, redact_url
from collectors.units import format_bytes

from .clock import rfc3339

CONTRACT_VERSION = 1


class Reporter:
    """Base reporter: the event methods build the contract's fields; subclasses render them."""

    def __init__(self, stream: TextIO | None = None, err: TextIO | None = None) -> None:
        self._out = stream if stream is not None else sys.stdout
        self._err = err if err is not None else sys.stderr
        self._lock = threading.Lock()

    # -- events -------------------------------------------------------------------------
    def start(
        self,
        file: str,
        url: str,
        total: int | None,
        resumed_from: int,
        workers: int,
        version: str | None,
    ) -> None:
        self.emit(
            "start",
            file,
            url=redact_url(url),
            total=total,
            resumed_from=resumed_from,
            workers=workers,
            version=version,
        )

    def progress(
        self,
        file: str,
        done: int,
        total: int | None,
        rate: float,
        eta: float | None,
        workers: int,
    ) -> None:
        self.emit(
            "progress",
            file,
            done=done,
            total=total,
            rate=round(rate, 1),
            eta=None if eta is None else round(eta, 1),
            workers=workers,
        )

    def retry(self, file: str, attempt: int, of: int, reason: str, delay: float) -> None:
        self.emit("retry", file, attempt=attempt, of=of, reason=reason, delay=round(delay, 2))

    def stall(self, file: str, done: int, after: float) -> None:
        self.emit("stall", file, done=done, after=round(after, 1))

    def wait(self, file: str, holder: str | None, waited: float) -> None:
        self.emit("wait", file, holder=holder, waited=round(waited, 1))

    def verify(self, file: str, done: int, total: int, sha256: str | None = None) -> None:
        fields: dict[str, Any] = {"done": done, "total": total}
        if sha256 is not None:
            fields["sha256"] = sha256
        self.emit("verify", file, **fields)

    def evict(self, file: str, path: str, nbytes: int, version: str | None) -> None:
        self.emit("evict", file, path=path, bytes=nbytes, version=version, reason="lru")

    def done(
        self,
        file: str,
        nbytes: int,
        sha256: str | None,
        seconds: float,
        cached: bool,
        path: str,
    ) -> None:
        self.emit(
            "done",
            file,
            bytes=nbytes,
            sha256=sha256,
            seconds=round(seconds, 3),
            cached=cached,
            path=path,
        )

    def error(self, file: str | None, code: str, exit_code: int, message: str) -> None:
        self.emit("error", file, code=code, exit=exit_code, message=message)

    # -- rendering ----------------------------------------------------------------------
    def emit(self, event: str, file: str | None, **fields: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the display (the human bar leaves its last state on screen)."""

    def _write(self, stream: TextIO, text: str) -> None:
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            pass  # nobody is reading any more; the download itself goes on


class JsonReporter(Reporter):
    """One JSON object per line, flushed: the format the dashboard parses from pod logs."""

    def emit(self, event: str, file: str | None, **fields: Any) -> None:
        record: dict[str, Any] = {"v": CONTRACT_VERSION, "event": event, "ts": rfc3339()}
        if file is not None:
            record["file"] = file
        for key, value in fields.items():
            record[key] = redact_text(value) if isinstance(value, str) else value
        line = json.dumps(record, ensure_ascii=False, separators=(", ", ": ")) + "\n"
        with self._lock:
            self._write(self._out, line)


def _about(file: str | None, message: str) -> str:
    """Prefix a message with its file name unless it already starts with it."""
    if file is None or message.startswith(f"{file}: "):
        return message
    return f"{file}: {message}"


class NullReporter(Reporter):
    """`--progress none`: errors only, as plain sentences on stderr."""

    def emit(self, event: str, file: str | None, **fields: Any) -> None:
        if event == "error":
            text = redact_text(_about(file, str(fields["message"])))
            with self._lock:
                self._write(self._err, f"error: {text}\n")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def progress_line(file: str, done: int, total: int | None, rate: float, eta: float | None) -> str:
    """``model.bin  42% 1.2 GiB/2.9 GiB  85.3 MiB/s  ETA 21s``"""
    if total:
        head = f"{min(100, int(done * 100 / total)):3d}% {format_bytes(done)}/{format_bytes(total)}"
    else:
        head = format_bytes(done)
    return f"{file}  {head}  {format_bytes(rate)}/s  ETA {_duration(eta)}"


class HumanReporter(Reporter):
    """One updating line per file on a terminal, plain lines for everything else."""

    def __init__(
        self, stream: TextIO | None = None, err: TextIO | None = None, tty: bool | None = None
    ) -> None:
        super().__init__(stream, err)
        if tty is None:
            try:
                tty = self._out.isatty()
            except (AttributeError, ValueError):
                tty = False
        self._tty = tty
        self._bars: dict[str, str] = {}
        self._drawn = 0

    def _clear_block(self) -> str:
        return f"\x1b[{self._drawn}F\x1b[J" if self._tty and self._drawn else ""

    def _block(self) -> str:
        if not self._tty:
            return ""
        self._drawn = len(self._bars)
        return "".join(f"{line}\x1b[K\n" for line in self._bars.values())

    def _say(self, text: str, to_err: bool = False) -> None:
        with self._lock:
            if to_err or not self._tty:
                self._write(self._out, self._clear_block())
                self._drawn = 0
                self._write(self._err if to_err else self._out, redact_text(text) + "\n")
                self._write(self._out, self._block())
            else:
                self._write(
                    self._out, self._clear_block() + redact_text(text) + "\n" + self._block()
                )

    def _bar(self, name: str, line: str | None) -> None:
        """Update (or with None remove) a file's line; without a terminal, print it."""
        if not self._tty:
            if line is not None:
                self._say(line)
            return
        with self._lock:
            erase = self._clear_block()
            if line is None:
                self._bars.pop(name, None)
            else:
                self._bars[name] = line
            self._write(self._out, erase + self._block())

    def emit(self, event: str, file: str | None, **f: Any) -> None:
        name = file or "asr-cache-download"
        if event == "progress":
            self._bar(name, progress_line(name, f["done"], f["total"], f["rate"], f["eta"]))
            return
        if event == "verify":
            pct = int(f["done"] * 100 / f["total"]) if f["total"] else 100
            if "sha256" in f:
                self._bar(name, None)
                self._say(f"{name}: sha256 {f['sha256']}")
            else:
                self._bar(name, f"{name}  verifying sha256 {pct:3d}%")
            return
        if event in ("done", "error") and file is not None:
            self._bar(name, None)
        if event == "start":
            size = "unknown size" if f["total"] is None else format_bytes(f["total"])
            resumed = (
                f", resuming at {format_bytes(f['resumed_from'])}" if f["resumed_from"] else ""
            )
            self._say(f"{name}: downloading {f['url']} ({size}, {f['workers']} workers{resumed})")
        elif event == "retry":
            self._say(f"{name}: {f['reason']}; retry {f['attempt']}/{f['of']} in {f['delay']:.1f}s")
        elif event == "stall":
            self._say(f"{name}: stalled, no data for {f['after']:.0f}s")
        elif event == "wait":
            holder = f["holder"] or "another process"
            self._say(f"{name}: waiting for {holder} to finish ({f['waited']:.0f}s)")
        elif event == "evict":
            self._say(f"{name}: evicted {f['path']} ({format_bytes(f['bytes'])}) to make room")
        elif event == "done":
            what = "already cached" if f["cached"] else f"done in {f['seconds']:.1f}s"
            self._say(f"{name}: {what}, {format_bytes(f['bytes'])} at {f['path']}")
        elif event == "error":
            self._say(f"error: {_about(file, str(f['message']))}", to_err=True)

    def close(self) -> None:
        with self._lock:
            self._bars.clear()


def make_reporter(mode: str) -> Reporter:
    if mode == "json":
        return JsonReporter()
    if mode == "human":
        return HumanReporter()
    return NullReporter()
