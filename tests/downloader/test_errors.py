"""Retry policy and failure reporting: Retry-After, final 4xx, redaction, signals, timeouts."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import time
from pathlib import Path

from actions.downloader.state import load_state
from simcluster.modelserver import Faults, ModelServer

from .conftest import finish, run_dl, serve, settled, sha256_of, start_dl, wait_for

MIB = 1 << 20


def _covered(state_path: Path) -> int:
    state = load_state(state_path)
    return 0 if state is None else sum(e - s for s, e in state.ranges)


def test_retry_after_is_honoured(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(
        model_server, MIB, seed=60, faults=Faults(fail_status=429, fail_first=2, retry_after=1)
    )
    started = time.monotonic()
    res = run_dl(url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    elapsed = time.monotonic() - started
    assert res.rc == 0, res.stderr
    retries = res.of("retry")
    assert [(r["attempt"], r["delay"]) for r in retries] == [(2, 1.0), (3, 1.0)]
    assert all("429" in r["reason"] for r in retries)
    assert elapsed >= 2.0
    assert settled(model_server, f.path).statuses[429] == 2


def test_5xx_is_retried_with_backoff_then_gives_up(
    model_server: ModelServer, tmp_path: Path
) -> None:
    f, url = serve(model_server, MIB, seed=61, faults=Faults(fail_status=503))
    res = run_dl(url, "--cache-dir", str(tmp_path), "--retries", "2")
    assert res.rc == 3
    delays = [r["delay"] for r in res.of("retry")]
    assert len(delays) == 2 and 0.25 <= delays[0] <= 0.5 and 0.5 <= delays[1] <= 1.0
    assert res.error is not None and "503 Service Unavailable" in res.error["message"]
    assert settled(model_server, f.path).requests == 3
    assert not (tmp_path / "model.bin").exists()


def test_403_on_a_presigned_url_is_final_and_redacted(
    model_server: ModelServer, tmp_path: Path
) -> None:
    f, url = serve(model_server, MIB, seed=62, faults=Faults(fail_status=403))
    signed = url + "?X-Amz-Credential=AKIDSECRET&X-Amz-Signature=deadbeefsig&X-Amz-Expires=60"
    res = run_dl(signed, "--cache-dir", str(tmp_path))
    assert res.rc == 4
    assert res.error is not None and res.error["code"] == "http_refused"
    assert "403 Forbidden" in res.error["message"] and "expired" in res.error["message"]
    assert settled(model_server, f.path).requests == 1  # not retried
    assert "AKIDSECRET" not in res.stdout + res.stderr
    assert "deadbeefsig" not in res.stdout + res.stderr


def test_no_secret_in_any_line_of_output(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(
        model_server, 2 * MIB, seed=63, faults=Faults(drop_after=MIB // 4, drop_requests=2)
    )
    secret_url = url.replace("http://", "http://alice:hunter2pass@") + (
        "?X-Amz-Security-Token=tok3nsecret&X-Amz-Signature=s1gsecret&sig=abc123sig&part=1"
    )
    res = run_dl(secret_url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    assert res.rc == 0, res.stderr
    assert res.of("retry") and res.of("start")
    assert "REDACTED" in res.of("start")[0]["url"] and "part=1" in res.of("start")[0]["url"]
    on_disk = (tmp_path / ".asr-cache-manifest.json").read_text()
    for secret in ("hunter2pass", "alice", "tok3nsecret", "s1gsecret", "abc123sig"):
        for line in (res.stdout + res.stderr + on_disk).splitlines():
            assert secret not in line
    # The same in human mode, where retries and errors are plain sentences.
    res = run_dl(secret_url, "--cache-dir", str(tmp_path / "h"), "--progress", "human", progress="")
    assert res.rc == 0
    assert "hunter2pass" not in res.stdout + res.stderr and "s1gsecret" not in res.stdout


def test_sigterm_keeps_the_partial_and_exits_130(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 8 * MIB, seed=64, faults=Faults(rate_limit=4 * MIB))
    args = (url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    proc = start_dl(*args)
    wait_for(lambda: model_server.stats(f.path).bytes_sent >= 2 * MIB, timeout=10)
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    res = finish(proc, timeout=10)
    assert time.monotonic() - started < 5
    assert res.rc == 130
    assert res.error is not None and res.error["code"] == "interrupted"
    assert (tmp_path / "model.bin.part").exists() and not (tmp_path / "model.bin").exists()
    model_server.set_faults(f.path, Faults())
    res = run_dl(*args)
    assert res.rc == 0 and res.of("start")[0]["resumed_from"] >= MIB
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_overall_timeout_exits_8(model_server: ModelServer, tmp_path: Path) -> None:
    _f, url = serve(model_server, 8 * MIB, seed=65, faults=Faults(rate_limit=2 * MIB))
    started = time.monotonic()
    res = run_dl(url, "--cache-dir", str(tmp_path), "--timeout", "1")
    assert time.monotonic() - started < 6
    assert res.rc == 8
    assert res.error is not None and res.error["code"] == "timeout"
    assert (tmp_path / "model.bin.part").exists() and not (tmp_path / "model.bin").exists()


def test_waiting_for_a_lock_past_the_timeout(model_server: ModelServer, tmp_path: Path) -> None:
    _, url = serve(model_server, MIB, seed=66)
    with open(tmp_path / "model.bin.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("pid 4242 on host other-pod\n")
        held.flush()
        res = run_dl(url, "--cache-dir", str(tmp_path), "--timeout", "1")
    assert res.rc == 3
    assert res.error is not None and res.error["code"] == "locked_timeout"
    assert res.of("wait")[0]["holder"] == "pid 4242 on host other-pod"


def test_killed_lock_holder_releases_the_lock(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 8 * MIB, seed=67, faults=Faults(rate_limit=2 * MIB))
    args = (url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    holder = start_dl(*args, "--workers", "1")
    wait_for(lambda: _covered(tmp_path / "model.bin.part.json") >= MIB, timeout=10)
    waiter = start_dl(*args)
    time.sleep(0.6)  # the waiter is up and polling the lock
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait()
    res = finish(waiter)
    assert res.rc == 0, res.stderr
    assert res.of("wait") and res.of("start")[0]["resumed_from"] >= MIB
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_unreachable_server_fails_after_retries(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    res = run_dl(f"http://127.0.0.1:{port}/m.bin", "--cache-dir", str(tmp_path), "--retries", "1")
    assert res.rc == 3
    assert res.error is not None and "giving up after 2 attempts to reach" in res.error["message"]
    assert [r["attempt"] for r in res.of("retry")] == [2]
