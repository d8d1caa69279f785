"""Kill -9 at several points and resume; servers that ignore Range, change the ETag, drop,
stall, lie about lengths or corrupt a byte: the right file or a clear error, never a wrong
file at the final path."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from actions.downloader.state import CHECKPOINT_BYTES, load_state
from simcluster.modelserver import Faults, ModelServer

from .conftest import finish, run_dl, serve, settled, sha256_of, start_dl, wait_for

MIB = 1 << 20


def _kill(proc: subprocess.Popen[str], server: ModelServer, path: str) -> None:
    """kill -9 the downloader and wait until the server has accounted for its connections."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_for(lambda: server.stats(path).active == 0, timeout=10)


def _covered(cache: Path) -> int:
    state = load_state(cache / "model.bin.part.json")
    return 0 if state is None else sum(e - s for s, e in state.ranges)


def test_kill_9_at_several_points_then_resume(model_server: ModelServer, tmp_path: Path) -> None:
    workers = 4
    f, url = serve(model_server, 64 * MIB, seed=7, faults=Faults(rate_limit=10 * MIB))
    args: tuple[str, ...] = (url, "--cache-dir", str(tmp_path), "--workers", str(workers))
    args += ("--checksum", f"sha256:{f.sha256}")
    kills = 0
    # Kill points, in bytes the server has sent in total; the last one lands after the
    # whole body went out, while the downloader hashes and renames.
    for point in (6 * MIB, 24 * MIB, 44 * MIB, f.size + 4 * MIB):
        proc = start_dl(*args)
        wait_for(
            lambda p=point, proc=proc: (
                model_server.stats(f.path).bytes_sent >= p or proc.poll() is not None
            ),
            timeout=20,
        )
        if proc.poll() is not None:
            break
        _kill(proc, model_server, f.path)
        kills += 1
        assert (
            not (tmp_path / "model.bin").exists() or sha256_of(tmp_path / "model.bin") == f.sha256
        )
        if (tmp_path / "model.bin.part").exists():
            # What the state claims is really in the partial file.
            state = load_state(tmp_path / "model.bin.part.json")
            assert state is not None
            with open(tmp_path / "model.bin.part", "rb") as fh:
                for start, end in state.ranges:
                    fh.seek(start)
                    assert fh.read(end - start) == f.read(start, end - start)
    assert kills >= 3
    res = run_dl(*args)
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "model.bin") == f.sha256
    assert not (tmp_path / "model.bin.part").exists()
    assert not (tmp_path / "model.bin.part.json").exists()
    stats = settled(model_server, f.path)
    refetched = stats.bytes_sent - f.size - (kills + 1)  # each run probes one byte
    print(f"refetched {refetched} bytes over {kills} kills")
    assert refetched <= kills * workers * CHECKPOINT_BYTES, (refetched, kills)


def test_resume_keeps_what_was_fetched(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 16 * MIB, seed=8, faults=Faults(rate_limit=8 * MIB))
    args = (url, "--cache-dir", str(tmp_path), "--workers", "2")
    proc = start_dl(*args)
    wait_for(lambda: _covered(tmp_path) >= 6 * MIB, timeout=20)
    _kill(proc, model_server, f.path)
    kept = _covered(tmp_path)
    sent_before = settled(model_server, f.path).bytes_sent
    model_server.set_faults(f.path, Faults())
    res = run_dl(*args, "--checksum", f"sha256:{f.sha256}")
    assert res.rc == 0, res.stderr
    assert res.of("start")[0]["resumed_from"] == kept
    assert settled(model_server, f.path).bytes_sent - sent_before == f.size - kept + 1
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_resume_against_a_server_that_ignores_range(
    model_server: ModelServer, tmp_path: Path
) -> None:
    f, url = serve(model_server, 12 * MIB, seed=9, faults=Faults(rate_limit=8 * MIB))
    args = (url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    proc = start_dl(*args)
    wait_for(lambda: _covered(tmp_path) >= 4 * MIB, timeout=20)
    _kill(proc, model_server, f.path)
    model_server.set_faults(f.path, Faults(ignore_range=True))
    res = run_dl(*args)
    assert res.rc == 0, res.stderr
    assert res.of("start")[0]["resumed_from"] == 0  # the partial was not appended to
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_range_ignored_mid_download_starts_over(model_server: ModelServer, tmp_path: Path) -> None:
    # Two workers, four 12 MiB pieces: the last two are asked for after the fault is set.
    f, url = serve(model_server, 48 * MIB, seed=10, faults=Faults(rate_limit=16 * MIB))
    args = ("--workers", "2", "--checksum", f"sha256:{f.sha256}")
    proc = start_dl(url, "--cache-dir", str(tmp_path), *args)
    wait_for(lambda: model_server.stats(f.path).bytes_sent >= MIB, timeout=20)
    model_server.set_faults(f.path, Faults(ignore_range=True))
    res = finish(proc)
    assert res.rc == 0, res.stderr
    assert any("ignored the Range" in e["reason"] for e in res.of("retry"))
    assert res.of("start")[-1]["resumed_from"] == 0
    assert 200 in settled(model_server, f.path).statuses
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_etag_change_mid_download_restarts_the_file(
    model_server: ModelServer, tmp_path: Path
) -> None:
    f, url = serve(model_server, 8 * MIB, seed=11, faults=Faults(change_etag_after_requests=3))
    res = run_dl(url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    assert res.rc == 0, res.stderr
    assert any("changed on the server" in e["reason"] for e in res.of("retry"))
    assert len(res.of("start")) == 2
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_etag_change_between_runs_discards_the_partial(
    model_server: ModelServer, tmp_path: Path
) -> None:
    f, url = serve(model_server, 12 * MIB, seed=12, faults=Faults(rate_limit=8 * MIB))
    args = (url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    proc = start_dl(*args)
    wait_for(lambda: _covered(tmp_path) >= 4 * MIB, timeout=20)
    _kill(proc, model_server, f.path)
    model_server.set_faults(f.path, Faults(change_etag_after_requests=0))
    sent_before = settled(model_server, f.path).bytes_sent
    res = run_dl(*args)
    assert res.rc == 0, res.stderr
    assert res.of("start")[0]["resumed_from"] == 0
    assert settled(model_server, f.path).bytes_sent - sent_before == f.size + 1
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_dropped_connections_are_retried(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(
        model_server, 6 * MIB, seed=13, faults=Faults(drop_after=MIB // 2, drop_requests=4)
    )
    res = run_dl(url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    assert res.rc == 0, res.stderr
    assert len(res.of("retry")) >= 3
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_a_server_that_always_drops_fails_clearly(
    model_server: ModelServer, tmp_path: Path
) -> None:
    _f, url = serve(model_server, 3 * MIB, seed=14, faults=Faults(drop_after=0))
    res = run_dl(url, "--cache-dir", str(tmp_path), "--retries", "2", "--workers", "1")
    assert res.rc == 3
    assert res.error is not None and res.error["code"] == "download_failed"
    assert "giving up after 3 attempts" in res.error["message"]
    assert not (tmp_path / "model.bin").exists()


def test_stalled_connection_is_detected_and_retried(
    model_server: ModelServer, tmp_path: Path
) -> None:
    f, url = serve(model_server, 4 * MIB, seed=15, faults=Faults(stall_after=MIB, stall_requests=1))
    res = run_dl(
        url,
        "--cache-dir",
        str(tmp_path),
        "--workers",
        "1",
        "--stall-timeout",
        "0.5",
        "--checksum",
        f"sha256:{f.sha256}",
    )
    assert res.rc == 0, res.stderr
    (stall,) = res.of("stall")
    assert stall["after"] == 0.5 and stall["done"] >= 0
    assert res.of("retry")[0]["reason"].startswith("no data for")
    assert sha256_of(tmp_path / "model.bin") == f.sha256
    # The retry resumed where the stalled connection stopped.
    assert settled(model_server, f.path).bytes_sent <= f.size + MIB + 1


def test_wrong_content_length_is_an_error_not_a_file(
    model_server: ModelServer, tmp_path: Path
) -> None:
    for delta in (+100, -100):
        _f, url = serve(model_server, 2 * MIB, seed=16, faults=Faults(wrong_content_length=delta))
        cache = tmp_path / str(delta)
        res = run_dl(url, "--cache-dir", str(cache), "--retries", "1", "--stall-timeout", "2")
        assert res.rc == 3, (delta, res.stdout, res.stderr)
        assert res.error is not None and "Content-Length" in res.error["message"]
        assert not (cache / "model.bin").exists()


def test_checksum_mismatch_leaves_nothing(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 3 * MIB, seed=17, faults=Faults(corrupt_byte_at=MIB + 5))
    for workers in ("1", "3"):
        cache = tmp_path / workers
        res = run_dl(
            url, "--cache-dir", str(cache), "--workers", workers, "--checksum", f"sha256:{f.sha256}"
        )
        assert res.rc == 5
        assert res.error is not None and res.error["code"] == "checksum_mismatch"
        assert f.sha256 in res.error["message"]
        assert not (cache / "model.bin").exists()
        assert not (cache / "model.bin.part").exists()


def test_redirects_are_followed(model_server: ModelServer, tmp_path: Path) -> None:
    f, _ = serve(model_server, 2 * MIB, seed=18)
    _, url = serve(model_server, 1, name="model.bin", faults=Faults(redirect_to=f.path))
    res = run_dl(url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "model.bin") == f.sha256
