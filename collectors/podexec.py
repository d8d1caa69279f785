"""Exec in a pod with streamed output: an argv list in, exit code and bounded output out.

Long commands (hashing a 25 GB model) report lines as they come through ``on_line`` and stop
when ``cancel`` is set or the timeout passes; output kept in memory is capped either way. The
module only transports a command: which commands run is decided by the caller.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes.stream import stream

MAX_OUTPUT = 1 << 20  # bytes of stdout kept (and of stderr, a sixteenth of it)
MAX_LINE = 64 * 1024  # a line longer than this is cut when handed to on_line


@dataclass(frozen=True)
class ExecOutcome:
    exit_code: int | None  # None when the command did not finish (timeout, cancel, lost stream)
    stdout: str
    stderr: str
    timed_out: bool = False
    cancelled: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class _Lines:
    """Split streamed text into lines with a bounded carry-over."""

    def __init__(self, sink: Callable[[str], None] | None) -> None:
        self._sink = sink
        self._carry = ""

    def feed(self, text: str) -> None:
        if self._sink is None:
            return
        data = self._carry + text
        *lines, self._carry = data.replace("\r", "\n").split("\n")
        if len(self._carry) > MAX_LINE:
            lines.append(self._carry[:MAX_LINE])
            self._carry = ""
        for line in lines:
            if line:
                self._sink(line[:MAX_LINE])

    def flush(self) -> None:
        if self._carry and self._sink is not None:
            self._sink(self._carry[:MAX_LINE])
        self._carry = ""


def exec_stream(
    core_api: Any,
    namespace: str,
    pod: str,
    argv: Sequence[str],
    *,
    container: str | None = None,
    timeout: float = 60.0,
    on_line: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    max_output: int = MAX_OUTPUT,
) -> ExecOutcome:
    """Run ``argv`` in ``pod`` (``core_api`` is a CoreV1Api) and wait for it, streaming stdout.

    Raises the client's ``ApiException`` when the exec cannot start (pod not running, 403).
    """
    kwargs: dict[str, Any] = {
        "command": list(argv),
        "stderr": True,
        "stdin": False,
        "stdout": True,
        "tty": False,
        "_preload_content": False,
        "_request_timeout": min(timeout, 30.0),
    }
    if container:
        kwargs["container"] = container
    resp = stream(core_api.connect_get_namespaced_pod_exec, pod, namespace, **kwargs)
    out: list[str] = []
    err: list[str] = []
    out_len = err_len = 0
    truncated = timed_out = cancelled = False
    lines = _Lines(on_line)
    deadline = time.monotonic() + timeout
    try:
        while resp.is_open():
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            resp.update(timeout=0.2)
            if resp.peek_stdout():
                chunk = resp.read_stdout()
                lines.feed(chunk)
                if out_len < max_output:
                    out.append(chunk[: max_output - out_len])
                    out_len += len(out[-1])
                truncated = truncated or out_len >= max_output
            if resp.peek_stderr():
                chunk = resp.read_stderr()
                limit = max_output // 16
                if err_len < limit:
                    err.append(chunk[: limit - err_len])
                    err_len += len(err[-1])
        # Frames that arrived with the close.
        for reader, sink in ((resp.read_stdout, out), (resp.read_stderr, err)):
            try:
                rest = reader(timeout=0) if not resp.is_open() else ""
            except Exception:
                rest = ""
            if rest:
                if sink is out:
                    lines.feed(rest)
                sink.append(rest[:max_output])
        lines.flush()
        code: int | None = None
        if not (timed_out or cancelled):
            try:
                code = resp.returncode
            except (TypeError, KeyError, ValueError, AttributeError):
                code = None  # the server closed without a status frame
        return ExecOutcome(
            exit_code=code,
            stdout="".join(out),
            stderr="".join(err),
            timed_out=timed_out,
            cancelled=cancelled,
            truncated=truncated,
        )
    finally:
        with contextlib.suppress(Exception):  # closing a dead socket
            resp.close()
