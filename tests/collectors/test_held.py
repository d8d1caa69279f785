"""HeldResponse: a read blocked on a quiet stream wakes when another thread interrupts it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import urllib3

from collectors.held import HeldResponse
from tests.loopback import holding_server


@pytest.fixture
def quiet_stream() -> Iterator[str]:
    """An HTTP server that sends the headers and one chunk of a body, then says nothing."""

    def answer(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n")

    with holding_server(answer) as port:
        yield f"http://127.0.0.1:{port}/"


def _open(url: str) -> urllib3.BaseHTTPResponse:
    return urllib3.PoolManager().request(
        "GET", url, preload_content=False, timeout=urllib3.Timeout(connect=2, read=30)
    )


def test_interrupt_wakes_a_blocked_read(quiet_stream: str) -> None:
    stop = threading.Event()
    held = HeldResponse(stop)
    resp = _open(quiet_stream)
    held.hold(resp)
    assert resp.read1(64) == b"hello\n"
    ended = threading.Event()

    def read() -> None:
        with contextlib.suppress(Exception):  # how the interrupted read ends does not matter
            resp.read1(64)  # blocks: the server says nothing more
        ended.set()

    threading.Thread(target=read, daemon=True).start()
    assert not ended.wait(0.3)
    started = time.monotonic()
    stop.set()
    held.interrupt()
    assert ended.wait(2) and time.monotonic() - started < 2
    held.release()
    held.interrupt()  # nothing held: a no-op


def test_a_response_held_after_stop_is_interrupted_at_once(quiet_stream: str) -> None:
    stop = threading.Event()
    stop.set()
    held = HeldResponse(stop)
    resp = _open(quiet_stream)
    held.hold(resp)  # the stop raced with this request: the read must not block
    started = time.monotonic()
    with contextlib.suppress(Exception):  # closed under the reader: an error or the end
        while resp.read1(64):
            pass
    assert time.monotonic() - started < 2
    held.release()
