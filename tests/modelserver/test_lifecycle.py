"""Starting and stopping: async and thread modes, stalled clients at shutdown, the CLI."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from simcluster.modelserver import Faults, ModelServer
from simcluster.tls import make_self_signed

from .conftest import eventually

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


def _server_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "modelserver"}


@pytest.fixture
def other_servers() -> set[threading.Thread]:
    """Server threads that other test modules keep (session fixtures) are not ours to judge."""
    return _server_threads()


def test_thread_mode_works_from_sync_code(other_servers: set[threading.Thread]) -> None:
    with ModelServer().run_in_thread() as server:
        f = server.add_file("/models/v1/model.bin", size=2 * MIB, seed=4)
        with httpx.Client(timeout=10) as client:
            r = client.get(server.url(f.path))
            assert hashlib.sha256(r.content).hexdigest() == f.sha256
            server.set_faults(f.path, Faults(fail_status=503, fail_first=1, retry_after=1))
            assert client.get(server.url(f.path)).status_code == 503
            assert client.get(server.url(f.path)).status_code == 200
        # The server records a response once it has finished writing it, which can be a
        # moment after the client has read the last byte.
        deadline = time.monotonic() + 5
        while server.stats(f.path).active and time.monotonic() < deadline:
            time.sleep(0.01)
        stats = server.stats(f.path)
        assert stats.statuses == {200: 2, 503: 1} and stats.bytes_sent == 2 * f.size
    assert _server_threads() - other_servers == set()


def test_thread_mode_releases_a_stall_from_another_thread() -> None:
    with ModelServer().run_in_thread() as server:
        f = server.add_file("/m.bin", size=MIB)
        server.set_faults(f.path, Faults(stall_after=1000, stall_requests=1))
        results: list[bytes] = []
        worker = threading.Thread(
            target=lambda: results.append(httpx.get(server.url(f.path), timeout=10).content)
        )
        worker.start()
        deadline = time.monotonic() + 5
        while server.stats(f.path).stalls == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.stats(f.path).stalls == 1 and worker.is_alive()
        server.release_stalls()
        worker.join(5)
        assert results and hashlib.sha256(results[0]).hexdigest() == f.sha256


def test_thread_mode_stops_promptly_with_a_stalled_client(
    other_servers: set[threading.Thread],
) -> None:
    with ModelServer().run_in_thread() as server:
        f = server.add_file("/m.bin", size=MIB)
        server.set_faults(f.path, Faults(stall_after=0))
        errors: list[BaseException] = []

        def fetch() -> None:
            try:
                httpx.get(server.url(f.path), timeout=30)
            except httpx.HTTPError as exc:
                errors.append(exc)

        worker = threading.Thread(target=fetch)
        worker.start()
        while server.stats(f.path).stalls == 0:
            time.sleep(0.01)
        started = time.monotonic()
    assert time.monotonic() - started < 2
    worker.join(5)
    assert not worker.is_alive() and errors  # the client saw its body cut short
    assert _server_threads() - other_servers == set()


async def test_async_stop_with_a_stalled_client_does_not_hang() -> None:
    server = ModelServer()
    await server.start()
    f = server.add_file("/m.bin", size=MIB)
    server.set_faults(f.path, Faults(stall_after=5000))
    async with httpx.AsyncClient(timeout=30) as client:
        fetch = asyncio.create_task(client.get(server.url(f.path)))
        await eventually(lambda: server.stats(f.path).stalls == 1)
        await asyncio.wait_for(server.stop(), 2)
        with pytest.raises(httpx.HTTPError):
            await asyncio.wait_for(fetch, 2)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []
    await server.stop()  # idempotent


async def test_start_twice_and_a_port_in_use_are_clear_errors() -> None:
    async with ModelServer() as first:
        with pytest.raises(RuntimeError, match="already started"):
            await first.start()
        with pytest.raises(OSError):
            async with ModelServer(port=first.port):
                pass


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simcluster.modelserver", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url_line = proc.stdout.readline().strip()
    sha_line = proc.stdout.readline().strip()
    assert url_line.startswith(("url=http://127.0.0.1:", "url=https://127.0.0.1:")), url_line
    assert sha_line.startswith("sha256=")
    return proc, url_line.removeprefix("url="), sha_line.removeprefix("sha256=")


def _stop_cli(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(10)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_cli_serves_a_large_file_with_bounded_memory() -> None:
    proc, url, digest = _start_cli("--size", "256MiB", "--port", "0", "--seed", "3")
    try:
        curl = subprocess.run(
            ["sh", "-c", 'curl -sfS --max-time 60 "$1" | sha256sum', "sh", url],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert curl.stdout.split()[0] == digest
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak_kib = int(
            next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]
        )
        assert peak_kib < 100 * 1024, f"peak RSS {peak_kib} KiB for a 256 MiB file"
    finally:
        assert _stop_cli(proc) == 0


@pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("openssl") is None,
    reason="curl and openssl are needed",
)
def test_cli_tls_dir_serves_https_that_curl_verifies(tmp_path: Path) -> None:
    proc, url, digest = _start_cli("--size", "1MiB", "--tls-dir", str(tmp_path / "tls"))
    try:
        assert proc.stdout is not None
        ca = proc.stdout.readline().strip().removeprefix("ca=")
        assert url.startswith("https://") and Path(ca) == tmp_path / "tls" / "server.crt"

        def curl(*extra: str) -> subprocess.CompletedProcess[bytes]:
            argv = ["curl", "-sfS", "--max-time", "20", *extra, url]
            return subprocess.run(argv, capture_output=True, timeout=30, check=False)

        trusted = curl("--cacert", ca)
        assert trusted.returncode == 0, trusted.stderr
        assert hashlib.sha256(trusted.stdout).hexdigest() == digest
        stranger = make_self_signed(tmp_path / "other").cert_path  # another CA entirely
        untrusted = curl("--cacert", str(stranger))
        assert untrusted.returncode == 60, untrusted.stderr  # peer certificate not verified
    finally:
        assert _stop_cli(proc) == 0


def test_cli_rate_limit_is_applied() -> None:
    proc, url, digest = _start_cli("--size", "1MiB", "--rate-limit", "4MiB")
    try:
        started = time.monotonic()
        body = httpx.get(url, timeout=10).content
        elapsed = time.monotonic() - started
    finally:
        assert _stop_cli(proc) == 0
    assert hashlib.sha256(body).hexdigest() == digest
    assert elapsed >= 0.24


def test_cli_slow_rate_is_served_and_sigusr1_restarts_its_count() -> None:
    proc, url, digest = _start_cli("--size", "1MiB", "--slow-rate", "8MiB", "--slow-requests", "1")
    try:
        assert proc.stdout is not None
        for _ in range(2):
            body = httpx.get(url, headers={"Range": "bytes=0-"}, timeout=10).content
            assert hashlib.sha256(body).hexdigest() == digest
            proc.send_signal(signal.SIGUSR1)
            assert proc.stdout.readline().strip() == "reset"
    finally:
        assert _stop_cli(proc) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "lots"], "not a size: 'lots'"),
        (["--size", "1M", "--slow-requests", "-1"], "--slow-requests must not be negative"),
        (["--size", "1M", "--host", "192.0.2.1"], "--host must be a loopback address"),
        (["--size", "1M", "--path", "model.bin"], "--path must start with '/'"),
    ],
)
def test_cli_bad_arguments_say_what_is_wrong(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simcluster.modelserver", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


async def test_a_client_that_stops_reading_is_dropped_after_the_idle_timeout() -> None:
    async with ModelServer(idle_timeout=0.5) as server:
        f = server.add_file("/big.bin", size=64 * MIB)
        _reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            writer.write(f"GET {f.path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            await writer.drain()
            await eventually(lambda: server.stats(f.path).active == 1)
            # Never read: the socket buffers fill, and the server gives up instead of hanging.
            await eventually(lambda: server.stats(f.path).active == 0, timeout=5)
        finally:
            writer.close()
        assert 0 < server.stats(f.path).bytes_sent < f.size


async def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() -> None:
    async with ModelServer(idle_timeout=0.3) as server:
        f = server.add_file("/m.bin", size=10)
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            writer.write(f"GET {f.path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = await asyncio.wait_for(reader.read(), 3)  # returns at EOF: the server closed
        finally:
            writer.close()
        assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(f.read(0, 10))


def test_url_before_start_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="not started yet"):
        ModelServer().url("/m.bin")
