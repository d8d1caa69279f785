"""A witness for "never block Textual's event loop": every blocking socket operation and name
lookup made on the loop's thread while it is armed, with where it was made.

The asyncio loop's own sockets (its self-pipe, its transports) are non-blocking and are not
counted; the Kubernetes client's and the WebSocket exec's are blocking with a timeout, which is
exactly what must run in a worker thread.
"""

from __future__ import annotations

import socket
import ssl
import threading
import traceback
from collections.abc import Callable
from typing import Any

import pytest

_SOCKET_CALLS = ("connect", "connect_ex", "send", "sendall", "recv", "recv_into", "recvfrom")
_TLS_CALLS = ("connect", "send", "sendall", "recv", "recv_into", "read", "write", "do_handshake")


class LoopGuard:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self._thread: int | None = None
        self.seen: list[str] = []
        for name in _SOCKET_CALLS:
            self._wrap(socket.socket, name)
        for name in _TLS_CALLS:
            self._wrap(ssl.SSLSocket, name)
        self._wrap_lookup()

    def arm(self) -> None:
        """From now on, count blocking calls on the calling thread (the event loop's)."""
        self._thread = threading.get_ident()

    def disarm(self) -> None:
        self._thread = None

    def _on_loop(self) -> bool:
        return self._thread is not None and threading.get_ident() == self._thread

    def _record(self, what: str) -> None:
        stack = "".join(traceback.format_stack(limit=30)[:-2])
        self.seen.append(f"{what} on the event loop's thread:\n{stack}")

    def _wrap(self, cls: type, name: str) -> None:
        original: Callable[..., Any] = getattr(cls, name)
        guard = self

        def guarded(sock: socket.socket, *args: Any, **kwargs: Any) -> Any:
            if guard._on_loop() and sock.gettimeout() != 0.0:
                guard._record(f"{cls.__name__}.{name}")
            return original(sock, *args, **kwargs)

        self._monkeypatch.setattr(cls, name, guarded)

    def _wrap_lookup(self) -> None:
        original = socket.getaddrinfo
        guard = self

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if guard._on_loop():
                guard._record(f"getaddrinfo{args[:2]}")
            return original(*args, **kwargs)

        self._monkeypatch.setattr(socket, "getaddrinfo", guarded)
