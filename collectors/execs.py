"""Read-only exec in a pod: an argv list in; exit code, stdout and stderr out.

Only for looking (``df``, ``du``, ``stat``, ``ls``, ``cat``): nothing here changes a pod.
Output kept is bounded, the whole call has a deadline, and a cancel event ends it early.
The exec runs on an API client of its own (``Cluster.exec_core``) because the WebSocket
transport temporarily replaces the client's request function.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from kubernetes.stream import stream

from collectors.cluster import Cluster

MAX_OUTPUT = 256 * 1024


class ExecError(Exception):
    """The command could not run (pod not running, forbidden, lost connection); one sentence."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None  # None: no status came back (timeout or lost stream)
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def first_error(self) -> str:
        text = (self.stderr or self.stdout).strip().splitlines()
        return text[0][:200] if text else f"exit code {self.exit_code}"


def run(
    cluster: Cluster,
    pod: str,
    argv: Sequence[str],
    *,
    container: str | None = None,
    timeout: float = 10.0,
    cancel: threading.Event | None = None,
    max_output: int = MAX_OUTPUT,
) -> ExecResult:
    """Run ``argv`` in ``pod`` (in the cluster's namespace) and wait for it."""
    if not argv:
        raise ExecError("nothing to run: the command is empty")
    kwargs: dict[str, object] = {
        "command": list(argv),
        "stderr": True,
        "stdin": False,
        "stdout": True,
        "tty": False,
        "_preload_content": False,
        "_request_timeout": cluster.settings.connect_timeout + timeout,
    }
    if container:
        kwargs["container"] = container
    with cluster.exec_core() as core:
        try:
            ws = stream(core.connect_get_namespaced_pod_exec, pod, cluster.namespace, **kwargs)
        except Exception as exc:
            what = f"{argv[0]} in pod {pod}"
            raise ExecError(
                f"cannot exec {what}: " + cluster.describe_error(exc, "create", "pods/exec")
            ) from None
        out: list[str] = []
        err: list[str] = []
        sizes = [0, 0]
        timed_out = False
        deadline = time.monotonic() + timeout
        try:
            while ws.is_open():
                if cancel is not None and cancel.is_set():
                    timed_out = True
                    break
                if time.monotonic() > deadline:
                    timed_out = True
                    break
                ws.update(timeout=0.1)
                for i, (peek, read, sink) in enumerate(
                    ((ws.peek_stdout, ws.read_stdout, out), (ws.peek_stderr, ws.read_stderr, err))
                ):
                    if peek():
                        chunk = read()
                        if sizes[i] < max_output:
                            sink.append(chunk[: max_output - sizes[i]])
                            sizes[i] += len(sink[-1])
            code: int | None = None
            if not timed_out:
                for read, sink in ((ws.read_stdout, out), (ws.read_stderr, err)):
                    with contextlib.suppress(Exception):
                        rest = read(timeout=0)
                        if rest:
                            sink.append(rest[:max_output])
                try:
                    code = ws.returncode
                except Exception:
                    code = None  # no status frame: the exit code is lost
            cluster.counters.count_bytes("create", "pods/exec", sizes[0] + sizes[1])
            return ExecResult(code, "".join(out), "".join(err), timed_out)
        finally:
            with contextlib.suppress(Exception):
                ws.close()
