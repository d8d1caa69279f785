"""Exec in a pod: an argv list in; exit code and bounded output out, lines as they come.

A transport only: which commands run is the caller's choice (the collectors only look:
``df``, ``du``, ``stat``, ``ls``, ``cat``). One contract for every caller:

- ``timeout`` is one deadline for the whole call, the opening included. The client library
  puts no timeout on the WebSocket connect and upgrade, so the opening runs in a thread of its
  own and the caller stops waiting for it at the deadline; each step of the opening gives up
  after OPEN_TIMEOUT, so a server that never answers does not keep that thread for ever;
- ``cancel`` ends the call within ``POLL`` seconds, during the opening too;
- the output kept is bounded (stdout ``max_output`` bytes, stderr a sixteenth of that), and so
  is each line handed to ``on_line``;
- the outcome says how the call ended: an ``exit_code`` when the command finished, otherwise
  ``timed_out``, ``cancelled`` or neither (the stream was lost).

``exec_stream`` takes a ``CoreV1Api`` and raises the client's ``ApiException`` when the exec
is refused (pod not running, 403). ``run`` is the collectors' form: it execs on
``Cluster.exec_core`` (the WebSocket transport temporarily replaces the client's request
function, so it needs a client of its own) and raises a one-sentence ``ExecError``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream, ws_client
from websocket import WebSocket, WebSocketBadStatusException, WebSocketException

from collectors.cluster import Cluster
from collectors.lines import LineAssembler

MAX_OUTPUT = 1 << 20  # bytes of stdout kept (and of stderr, a sixteenth of it)
MAX_LINE = 64 * 1024  # a longer line is cut when handed to on_line
POLL = 0.1  # how often a waiting call looks at cancel and the deadline
FRAME_TIMEOUT = 10.0  # a frame the server has begun to send must arrive within this
CLOSE_WAIT = 1.0  # how long closing waits for the server's close frame
OPEN_TIMEOUT = 30.0  # each step of opening (TCP connect, TLS, the upgrade's answer)


class _BoundedWebSocket(WebSocket):
    """The client's WebSocket with a timeout on every step of its opening: the client sets
    none, and a server that accepted the connection but never answered the upgrade held the
    opening thread (and its socket) for ever -- one more with every poll of a hung server."""

    def connect(self, url: str, **options: Any) -> None:
        options.setdefault("timeout", OPEN_TIMEOUT)
        super().connect(url, **options)


# The client builds every exec's WebSocket through this module-level name.
ws_client.WebSocket = _BoundedWebSocket


class ExecError(Exception):
    """The command could not run (pod not running, forbidden, lost connection); one sentence."""


class ContainerNotRunning(ExecError):
    """The kubelet refused the exec because the container does not run at the moment: it is
    between two runs (a crash loop's back-off, a restart). Expected, and it passes."""


# What a kubelet answers (400) for a container that is not running: "unable to upgrade
# connection: container not found ("lightning-asr")", or "container … is not running".
_NOT_RUNNING = ("container not found", "is not running")


def _not_running(exc: Exception) -> bool:
    if not isinstance(exc, ApiException) or exc.status != 400:
        return False
    said = f"{exc.body or ''} {exc.reason or ''}"
    return any(words in said for words in _NOT_RUNNING)


@dataclass(frozen=True)
class ExecOutcome:
    exit_code: int | None  # None when the command did not finish (timeout, cancel, lost stream)
    stdout: str
    stderr: str
    timed_out: bool = False
    cancelled: bool = False
    truncated: bool = False  # output was cut at the bound

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class _Kept:
    """Output kept up to ``limit`` bytes; ``dropped`` says that some did not fit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.dropped = False

    def add(self, data: bytes) -> None:
        room = self.limit - self.size
        if len(data) > room:
            self.dropped = True
            data = data[: max(room, 0)]
        if data:
            self.parts.append(data)
            self.size += len(data)

    def text(self) -> str:
        return b"".join(self.parts).decode("utf-8", errors="replace")


class _Opening:
    """Opens the WebSocket in a thread of its own, so that waiting for it can stop.

    A connection that opens after the caller gave up is closed by that thread.
    """

    def __init__(self, open_ws: Callable[[], Any]) -> None:
        self._open_ws = open_ws
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._abandoned = False
        self._ws: Any = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name="asr-cache-tui exec open", daemon=True).start()

    def _run(self) -> None:
        ws: Any = None
        try:
            ws = self._open_ws()
        except Exception as exc:
            self._error = _refused(exc)
        with self._lock:
            if not self._abandoned:
                self._ws = ws
                self._done.set()
                return
        _close(ws)

    def wait(self, deadline: float, cancel: threading.Event | None) -> str | None:
        """``None`` once open (then ``ws``), else ``"timeout"`` or ``"cancel"``; raises what
        opening raised."""
        while not self._done.wait(max(0.0, min(POLL, deadline - time.monotonic()))):
            gave_up = _gave_up(deadline, cancel)
            if gave_up is not None:
                with self._lock:
                    if not self._done.is_set():
                        self._abandoned = True
                        return gave_up
        if self._error is not None:
            raise self._error
        return None

    @property
    def ws(self) -> Any:
        return self._ws


def _refused(exc: Exception) -> Exception:
    """The client turns a refused upgrade (403, 404) into ``ApiException(status=0)`` with the
    whole response in its reason; give it the status and body a refused request has."""
    bad = exc.__context__
    if not (
        isinstance(exc, ApiException)
        and exc.status == 0
        and isinstance(bad, WebSocketBadStatusException)
    ):
        return exc
    body = bad.resp_body.decode("utf-8", errors="replace") if bad.resp_body else None
    return ApiException(status=bad.status_code, reason=bad.status_message, body=body)


def _gave_up(deadline: float, cancel: threading.Event | None) -> str | None:
    if cancel is not None and cancel.is_set():
        return "cancel"
    if time.monotonic() >= deadline:
        return "timeout"
    return None


def _close(ws: Any) -> None:
    if ws is not None:
        with contextlib.suppress(Exception):  # already closed, or a dead socket
            ws.close(timeout=CLOSE_WAIT)


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
    """Run ``argv`` in ``pod`` (``core_api`` is a CoreV1Api) and wait for it, streaming stdout
    lines (split at ``\\n`` and ``\\r``) to ``on_line``."""
    if not argv:
        raise ValueError("nothing to run: the command is empty")
    deadline = time.monotonic() + timeout
    kwargs: dict[str, Any] = {
        "command": list(argv),
        "stderr": True,
        "stdin": False,
        "stdout": True,
        "tty": False,
        "binary": True,  # bytes: a character split across two frames stays whole
        "_preload_content": False,
    }
    if container:
        kwargs["container"] = container
    opening = _Opening(
        lambda: stream(core_api.connect_get_namespaced_pod_exec, pod, namespace, **kwargs)
    )
    gave_up = opening.wait(deadline, cancel)
    if gave_up is not None:
        return ExecOutcome(
            None, "", "", timed_out=gave_up == "timeout", cancelled=gave_up == "cancel"
        )
    try:
        return _follow(opening.ws, deadline, cancel, on_line, max_output)
    finally:
        _close(opening.ws)


def _follow(
    ws: Any,
    deadline: float,
    cancel: threading.Event | None,
    on_line: Callable[[str], None] | None,
    max_output: int,
) -> ExecOutcome:
    """Read the open exec until it ends, the deadline passes or ``cancel`` is set."""
    out, err = _Kept(max_output), _Kept(max_output // 16)
    lines = LineAssembler(MAX_LINE)
    ended: str | None = None  # "timeout", "cancel" or "lost"; None: the command finished
    with contextlib.suppress(Exception):
        ws.sock.settimeout(FRAME_TIMEOUT)

    def keep(chunk: bytes, errors: bytes) -> None:
        out.add(chunk)
        err.add(errors)
        if on_line is not None and chunk:
            for segment in lines.feed(chunk):
                on_line(segment.text)

    while ws.is_open():
        ended = _gave_up(deadline, cancel)
        if ended is not None:
            break
        try:
            ws.update(timeout=POLL)
            keep(ws.read_stdout(timeout=0), ws.read_stderr(timeout=0))
        except (WebSocketException, OSError):
            ended = "lost"
            break
    if ended is None:
        # Every read may take in all the frames waiting, the close included: the last output
        # can sit in the client's buffers after the loop sees the socket closed.
        with contextlib.suppress(WebSocketException, OSError):
            keep(ws.read_stdout(timeout=0), ws.read_stderr(timeout=0))
    if on_line is not None:
        for segment in lines.flush():
            on_line(segment.text)
    code: int | None = None
    if ended is None:
        try:
            code = ws.returncode
        except Exception:
            code = None  # the server closed without a status frame
    return ExecOutcome(
        exit_code=code,
        stdout=out.text(),
        stderr=err.text(),
        timed_out=ended == "timeout",
        cancelled=ended == "cancel",
        truncated=out.dropped or err.dropped,
    )


def run(
    cluster: Cluster,
    pod: str,
    argv: Sequence[str],
    *,
    container: str | None = None,
    timeout: float = 10.0,
    cancel: threading.Event | None = None,
    max_output: int = MAX_OUTPUT,
) -> ExecOutcome:
    """``exec_stream`` in the cluster's namespace; ``ExecError`` when the exec cannot start."""
    if not argv:
        raise ExecError("nothing to run: the command is empty")
    with cluster.exec_core() as core:
        try:
            outcome = exec_stream(
                core,
                cluster.namespace,
                pod,
                argv,
                container=container,
                timeout=timeout,
                cancel=cancel,
                max_output=max_output,
            )
        except Exception as exc:
            what = f"{argv[0]} in pod {pod}"
            kind = ContainerNotRunning if _not_running(exc) else ExecError
            raise kind(
                f"cannot exec {what}: " + cluster.describe_error(exc, "create", "pods/exec")
            ) from None
    cluster.counters.count_bytes("create", "pods/exec", len(outcome.stdout) + len(outcome.stderr))
    return outcome
