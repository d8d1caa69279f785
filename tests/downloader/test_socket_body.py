"""The body read straight from the socket (socket_body.py), through the real HttpSource and
Transfer, against the model server over loopback, plain and over TLS: the bytes are right
whichever way they go (spliced, or through our buffer when they are hashed or decrypted),
stalls and drops are reported as before, and a stop request ends a wait on a silent
connection at once."""

from __future__ import annotations

import errno
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from actions.downloader.errors import Cancelled, Interrupted, RetriableError, StallError
from actions.downloader.pool import PieceSink
from actions.downloader.transfer import Transfer
from simcluster.modelserver import Faults, ModelServer

from .conftest import (
    Origin,
    TlsServer,
    finish,
    serve,
    sha256_of,
    start_dl,
    transfer_for,
    wait_for,
)
from .proxy import TestProxy

MIB = 1 << 20


class CountingSink(PieceSink):
    """The production sink, counting which way the bytes went."""

    def __init__(self, transfer: Transfer, pos: int) -> None:
        super().__init__(transfer, pos)
        self.written = 0
        self.writes = 0
        self.spliced = 0

    def write(self, offset: int, data: bytes | memoryview) -> None:
        super().write(offset, data)
        self.written += len(data)
        self.writes += 1

    def splice(self, pipe: int, offset: int, count: int) -> None:
        super().splice(pipe, offset, count)
        self.spliced += count


def fetch(t: Transfer, start: int, end: int) -> CountingSink:
    sink = CountingSink(t, start)
    t.source.fetch(start, end, t.remote, sink)
    return sink


def test_unhashed_bytes_are_spliced_into_the_file(origin: Origin, tmp_path: Path) -> None:
    f, url = serve(origin.server, 6 * MIB, seed=301)
    with transfer_for(url, tmp_path) as t:
        sink = fetch(t, 0, f.size)
    assert sink.pos == f.size
    # The first chunk comes through httpx; the rest must take the fast path. If an httpx or
    # httpcore update hides what socket_body looks for, this fails instead of going slow.
    if origin.tls:
        # Decrypted by the socket's TLS layer, a MiB per write (through httpx: 16 KiB each).
        assert sink.spliced == 0 and sink.written == f.size
        assert sink.writes <= f.size // MIB + 8, sink.writes
    else:
        assert sink.spliced >= f.size - 2 * MIB and sink.written + sink.spliced == f.size
    assert sha256_of(tmp_path / "model.bin.part") == f.sha256


def test_hashed_prefix_goes_through_our_buffer_and_is_hashed_once(
    origin: Origin, tmp_path: Path
) -> None:
    f, url = serve(origin.server, 5 * MIB + 123, seed=302)
    with transfer_for(url, tmp_path, hashed=True) as t:
        sink = fetch(t, 0, f.size)
        assert t.hasher is not None
        assert sink.spliced == 0 and sink.written == f.size
        # Hashed as it arrived: finish() has nothing left to read back.
        assert t.hasher.pos == f.size
        assert t.hasher.finish(t.fd, f.size) == f.sha256


def test_a_piece_behind_the_hashed_prefix_is_spliced_and_read_back(
    model_server: ModelServer, tmp_path: Path
) -> None:
    f, url = serve(model_server, 6 * MIB, seed=303)
    with transfer_for(url, tmp_path, hashed=True) as t:
        tail = fetch(t, 3 * MIB, f.size)
        head = fetch(t, 0, 3 * MIB)
        assert tail.spliced > 0 and head.spliced == 0
        assert t.hasher is not None and t.hasher.finish(t.fd, f.size) == f.sha256


def test_with_several_workers_everything_is_spliced_and_hashed_behind(
    model_server: ModelServer, tmp_path: Path
) -> None:
    f, url = serve(model_server, 6 * MIB, seed=309)
    with transfer_for(url, tmp_path, hashed=True, hash_in_stream=False) as t:
        sink = fetch(t, 0, f.size)
        assert t.hasher is not None
        assert sink.spliced >= f.size - 2 * MIB
        assert t.hasher.pos < f.size  # the job thread's catch_up does the rest
        assert t.hasher.finish(t.fd, f.size) == f.sha256


def test_a_stall_in_the_fast_path_is_a_stall(origin: Origin, tmp_path: Path) -> None:
    f, url = serve(origin.server, 8 * MIB, seed=304, faults=Faults(stall_after=3 * MIB))
    with transfer_for(url, tmp_path, stall_timeout=0.5) as t:
        sink = CountingSink(t, 0)
        started = time.monotonic()
        with pytest.raises(StallError):
            t.source.fetch(0, f.size, t.remote, sink)
        assert time.monotonic() - started < 5
    origin.server.release_stalls(f.path)
    assert sink.pos == 3 * MIB and (sink.spliced > 0 or origin.tls)
    with open(tmp_path / "model.bin.part", "rb") as fh:
        assert fh.read(3 * MIB) == f.read(0, 3 * MIB)


def test_a_dropped_connection_is_a_short_body(origin: Origin, tmp_path: Path) -> None:
    f, url = serve(origin.server, 8 * MIB, seed=305, faults=Faults(drop_after=5 * MIB))
    with transfer_for(url, tmp_path) as t:
        sink = CountingSink(t, 0)
        with pytest.raises(RetriableError, match="short body"):
            t.source.fetch(0, f.size, t.remote, sink)
    assert sink.pos == 5 * MIB
    with open(tmp_path / "model.bin.part", "rb") as fh:
        assert fh.read() == f.read(0, 5 * MIB)


def test_stopping_ends_a_wait_on_a_silent_connection_at_once(
    origin: Origin, tmp_path: Path
) -> None:
    f, url = serve(origin.server, 8 * MIB, seed=306, faults=Faults(stall_after=2 * MIB))
    with transfer_for(url, tmp_path, stall_timeout=60) as t:
        sink = CountingSink(t, 0)
        stopper = threading.Timer(0.5, t.stop.set, args=(Interrupted("SIGTERM"),))
        stopper.start()
        started = time.monotonic()
        try:
            with pytest.raises(Cancelled):
                t.source.fetch(0, f.size, t.remote, sink)
        finally:
            stopper.cancel()
            origin.server.release_stalls(f.path)
        # Not the 60 s stall timeout: the wait polls the stop flag.
        assert time.monotonic() - started < 3
    assert sink.pos == 2 * MIB


def test_a_filesystem_that_refuses_splice_gets_the_bytes_written(
    model_server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f, url = serve(model_server, 6 * MIB, seed=307)
    real_splice = os.splice

    def splice(src: int, dst: int, count: int, **kwargs: object) -> int:
        if kwargs.get("offset_dst") is not None:  # pipe -> file: the filesystem says no
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_splice(src, dst, count, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "splice", splice)
    with transfer_for(url, tmp_path) as t:
        sink = fetch(t, 0, f.size)
        assert not t.splice_ok(f.size)
    assert sink.pos == f.size
    assert sha256_of(tmp_path / "model.bin.part") == f.sha256


def test_sigterm_on_a_silent_connection_exits_at_once(origin: Origin, tmp_path: Path) -> None:
    server = origin.server
    f, url = serve(server, 8 * MIB, seed=308, faults=Faults(stall_after=2 * MIB))
    args = (url, "--cache-dir", str(tmp_path), "--stall-timeout", "60", "--workers", "1")
    proc = start_dl(*args, env=origin.env)
    try:
        wait_for(lambda: server.stats(f.path).bytes_sent >= 2 * MIB, timeout=10)
        time.sleep(0.3)  # the downloader is now waiting on the silent connection
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        res = finish(proc, timeout=10)
    finally:
        server.release_stalls(f.path)
    assert time.monotonic() - started < 3
    assert res.rc == 130 and res.error is not None and res.error["code"] == "interrupted"
    assert (tmp_path / "model.bin.part").exists()


def test_tls_through_a_connect_tunnel_keeps_the_fast_path(
    tls_model_server: TlsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f, url = serve(tls_model_server.server, 6 * MIB, seed=310)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_model_server.ca))
    monkeypatch.setenv("NO_PROXY", "")
    with TestProxy().running() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        with transfer_for(url, tmp_path) as t:
            sink = fetch(t, 0, f.size)
        assert proxy.seen() and proxy.seen()[0].startswith("CONNECT ")
    # The site's TLS runs on the tunnel's socket itself: decrypted a MiB per write.
    assert sink.written == f.size and sink.writes <= f.size // MIB + 8, sink.writes
    assert sha256_of(tmp_path / "model.bin.part") == f.sha256


def test_tls_inside_an_https_proxys_tls_stays_with_httpx(
    tls_model_server: TlsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f, url = serve(tls_model_server.server, 3 * MIB, seed=311)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_model_server.ca))  # trusts proxy and site alike
    monkeypatch.setenv("NO_PROXY", "")
    with TestProxy(tls=tls_model_server.cert.server_context()).running() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        with transfer_for(url, tmp_path) as t:
            sink = fetch(t, 0, f.size)
        assert proxy.url.startswith("https://") and proxy.seen()[0].startswith("CONNECT ")
    # The socket's own TLS is the proxy's; the site's bytes are the inner layer's: reading the
    # socket would write ciphertext into the file, so the body goes through httpx, record by
    # record.
    assert sink.written == f.size and sink.writes > f.size // (64 << 10), sink.writes
    assert sha256_of(tmp_path / "model.bin.part") == f.sha256
