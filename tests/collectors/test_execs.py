"""Exec in a pod over a real WebSocket (the simulated cluster): exit codes, bounded output,
lines, and the one cancel/timeout contract, the opening included."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from collectors import execs
from collectors.cluster import Cluster, ConnectionSettings, connect
from simcluster.cluster import SimCluster
from tests.loopback import holding_server

NS = "smallest"
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "asr", "namespace": NS},
    "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "600"]}]},
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimCluster]:
    with SimCluster.run_in_thread(tmp_path_factory.mktemp("execs")) as cluster:
        cluster.apply(POD)

        def running() -> bool:
            pod = cluster.store.peek("pods", NS, "asr") or {}
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            return any("running" in (s.get("state") or {}) for s in statuses)

        cluster.run(cluster.wait_for(running, timeout=20, what="the pod running"))
        yield cluster


def _handle(sim: SimCluster, tmp: Path, user: str = "admin") -> Cluster:
    path = sim.write_kubeconfig(tmp / f"kubeconfig-{user}", user=user)
    return connect(ConnectionSettings(kubeconfig=str(path), request_timeout=5.0))


def _unanswered(url: str) -> Cluster:
    cfg = client.Configuration()
    cfg.host = url
    return Cluster(
        cfg,
        context="silent",
        namespace=NS,
        kubeconfig=None,
        user=None,
        settings=ConnectionSettings(request_timeout=2.0, connect_timeout=1.0),
    )


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: an API server that hangs on the upgrade."""
    with holding_server() as port:
        yield f"http://127.0.0.1:{port}"


def test_exit_code_output_and_lines(sim: SimCluster, tmp_path: Path) -> None:
    cluster = _handle(sim, tmp_path)
    script = "printf 'one\\rtwo\\nthree'; echo oops >&2; exit 3"
    lines: list[str] = []
    with cluster.exec_core() as core:
        out = execs.exec_stream(
            core, NS, "asr", ["sh", "-c", script], container="main", on_line=lines.append
        )
    assert (out.exit_code, out.stdout, out.stderr) == (3, "one\rtwo\nthree", "oops\n")
    assert lines == ["one", "two", "three"]
    assert not (out.ok or out.timed_out or out.cancelled or out.truncated)
    done = execs.run(cluster, "asr", ["sh", "-c", "echo ok"], container="main")
    assert done.ok and done.stdout == "ok\n"
    assert cluster.counters.requests("create", "pods/exec") == 2
    assert cluster.counters.bytes("create", "pods/exec") == len("ok\n")


def test_output_kept_is_bounded(sim: SimCluster, tmp_path: Path) -> None:
    script = "printf '%s' 0123456789abcdefghij; printf '%s' 0123456789 >&2"
    out = execs.run(
        _handle(sim, tmp_path), "asr", ["sh", "-c", script], container="main", max_output=16
    )
    assert out.ok and out.truncated
    assert (out.stdout, out.stderr) == ("0123456789abcdef", "0")


def test_timeout_and_cancel_end_a_running_command(sim: SimCluster, tmp_path: Path) -> None:
    cluster = _handle(sim, tmp_path)
    started = time.monotonic()
    out = execs.run(cluster, "asr", ["sleep", "30"], container="main", timeout=0.5)
    assert out.timed_out and not out.cancelled and out.exit_code is None
    assert time.monotonic() - started < 5
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    out = execs.run(cluster, "asr", ["sleep", "30"], container="main", cancel=cancel)
    assert out.cancelled and not out.timed_out and out.exit_code is None
    assert time.monotonic() - started < 5


def test_the_opening_has_the_same_deadline_and_cancel(silent_server: str) -> None:
    cluster = _unanswered(silent_server)
    started = time.monotonic()
    out = execs.run(cluster, "asr", ["true"], timeout=0.5)
    assert out.timed_out and out.exit_code is None
    assert time.monotonic() - started < 2
    cancel = threading.Event()
    cancel.set()
    out = execs.run(cluster, "asr", ["true"], timeout=30, cancel=cancel)
    assert out.cancelled and out.exit_code is None


def test_the_abandoned_opening_ends_when_the_server_gives_up() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    cluster = _unanswered(f"http://127.0.0.1:{listener.getsockname()[1]}")
    assert execs.run(cluster, "asr", ["true"], timeout=0.3).timed_out
    conn, _ = listener.accept()
    conn.close()  # the upgrade fails now: the opening thread must end on its own
    listener.close()
    deadline = time.monotonic() + 5
    while any(t.name == "asr-cache-tui exec open" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the opening thread outlived its connection"
        time.sleep(0.05)


def test_an_opening_the_server_never_answers_ends_on_its_own(
    silent_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The caller stops waiting at its deadline; the opening thread itself gives up after
    # OPEN_TIMEOUT instead of holding its socket for as long as the server stays silent.
    monkeypatch.setattr(execs, "OPEN_TIMEOUT", 0.5)
    assert execs.run(_unanswered(silent_server), "asr", ["true"], timeout=0.2).timed_out
    deadline = time.monotonic() + 5
    while any(t.name == "asr-cache-tui exec open" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the opening thread waits on a silent server"
        time.sleep(0.05)


def test_a_refused_exec_is_one_sentence(sim: SimCluster, tmp_path: Path) -> None:
    # A refused upgrade keeps its HTTP status and the server's message.
    with pytest.raises(execs.ExecError) as caught:
        execs.run(_handle(sim, tmp_path), "no-such-pod", ["ls"], timeout=5)
    message = str(caught.value)
    assert message.startswith("cannot exec ls in pod no-such-pod: the API server ")
    assert message.endswith('pods "no-such-pod" not found.') and "answered 404" in message
    with pytest.raises(execs.ExecError) as caught:
        execs.run(_handle(sim, tmp_path, user="viewer"), "asr", ["ls"], timeout=5)
    assert "permission denied" in str(caught.value) and "may not create pods/exec" in str(
        caught.value
    )
    with pytest.raises(execs.ExecError, match="the command is empty"):
        execs.run(_handle(sim, tmp_path), "asr", [])


class _BufferingClient:
    """What the official WSClient does, scripted: every update -- also the one a read of an
    empty channel makes -- takes in all the frames waiting, the close included. Here they
    arrive during the third update: the one inside ``read_stderr``."""

    def __init__(self) -> None:
        self.sock = None
        self._updates = 0
        self._open = True
        self._channels: dict[int, bytes] = {}

    def is_open(self) -> bool:
        return self._open

    def update(self, timeout: float = 0) -> None:
        self._updates += 1
        if self._open and self._updates == 3:
            self._channels[1] = b"/app/models\n/app/models/v1/model.bin\n"
            self._open = False  # the status and the close came in the same read

    def _read(self, channel: int) -> bytes:
        if channel not in self._channels:
            self.update(0)
        return self._channels.pop(channel, b"")

    def read_stdout(self, timeout: float = 0) -> bytes:
        return self._read(1)

    def read_stderr(self, timeout: float = 0) -> bytes:
        return self._read(2)

    @property
    def returncode(self) -> int:
        return 0


def test_output_that_arrives_with_the_close_is_kept() -> None:
    """Seen once under load: realpath exited 0 and its output was lost (the close had been
    read, with the output, inside the stderr read of the loop's last turn)."""
    lines: list[str] = []
    outcome = execs._follow(_BufferingClient(), time.monotonic() + 5, None, lines.append, 1 << 20)
    assert outcome.exit_code == 0
    assert outcome.stdout == "/app/models\n/app/models/v1/model.bin\n"
    assert lines == ["/app/models", "/app/models/v1/model.bin"]
