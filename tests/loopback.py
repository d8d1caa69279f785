"""A raw TCP server on loopback that holds every connection open: for clients that must cope
with a peer that hangs (never answers, or stops mid-body)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def holding_server(greet: Callable[[socket.socket], None] | None = None) -> Iterator[int]:
    """Yield the port of a server that accepts connections, runs ``greet`` on each (if any),
    then keeps it open and silent until the block ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conns.append(conn)
            if greet is not None:
                greet(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in conns:
            conn.close()
        listener.close()
