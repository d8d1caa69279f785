"""Sharing one cache: four processes download once; LRU eviction under the cap keeps what is
in use and fails before writing when the cap cannot be met; a full disk is reported clearly."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from simcluster.modelserver import Faults, ModelServer

from .conftest import finish, run_dl, serve, settled, sha256_of, start_dl, wait_for

MIB = 1 << 20


def test_four_processes_download_once(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 8 * MIB, seed=20, faults=Faults(rate_limit=8 * MIB))
    args = (url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    procs = [start_dl(*args) for _ in range(4)]
    results = [finish(p) for p in procs]
    assert [r.rc for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    assert settled(model_server, f.path).bytes_sent == f.size + 1  # one probe, one body
    downloaded = [r for r in results if not r.of("done")[0]["cached"]]
    waited = [r for r in results if r.of("done")[0]["cached"]]
    assert len(downloaded) == 1 and len(waited) == 3
    for r in waited:
        wait = r.of("wait")[0]
        assert wait["holder"] is not None and wait["holder"].startswith("pid ")
        assert r.of("done")[0]["sha256"] == f.sha256
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def _manifest(cache: Path) -> dict[str, dict[str, object]]:
    raw = json.loads((cache / ".asr-cache-manifest.json").read_text())
    return {e["path"]: e for e in raw["entries"]}


def _fill(model_server: ModelServer, cache: Path, names: list[str], cap: str) -> None:
    for i, name in enumerate(names):
        _, url = serve(model_server, MIB, seed=30 + i, name=name)
        res = run_dl(url, "--cache-dir", str(cache), "--max-cache-size", cap, "--workers", "1")
        assert res.rc == 0, res.stderr
        time.sleep(0.01)  # distinct last-use times


def test_eviction_is_lru_and_counts_use(model_server: ModelServer, tmp_path: Path) -> None:
    cap = "3.5MiB"
    _fill(model_server, tmp_path, ["a.bin", "b.bin", "c.bin"], cap)
    # Using a.bin (verify) makes b.bin the least recently used.
    assert run_dl("verify", str(tmp_path / "a.bin")).rc == 0
    _, url = serve(model_server, MIB, seed=40, name="d.bin")
    res = run_dl(url, "--cache-dir", str(tmp_path), "--max-cache-size", cap)
    assert res.rc == 0, res.stderr
    assert [(e["path"], e["bytes"], e["reason"]) for e in res.of("evict")] == [
        ("b.bin", MIB, "lru")
    ]
    assert not (tmp_path / "b.bin").exists()
    assert sorted(_manifest(tmp_path)) == ["a.bin", "c.bin", "d.bin"]


def test_locked_entries_are_never_evicted(model_server: ModelServer, tmp_path: Path) -> None:
    cap = "3.5MiB"
    _fill(model_server, tmp_path, ["a.bin", "b.bin", "c.bin"], cap)
    with open(tmp_path / "a.bin.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another pod is using a.bin
        _, url = serve(model_server, MIB, seed=41, name="d.bin")
        res = run_dl(url, "--cache-dir", str(tmp_path), "--max-cache-size", cap)
    assert res.rc == 0, res.stderr
    assert [e["path"] for e in res.of("evict")] == ["b.bin"]
    assert (tmp_path / "a.bin").exists()


def test_unmeetable_cap_fails_before_writing(model_server: ModelServer, tmp_path: Path) -> None:
    cap = "2.5MiB"
    _fill(model_server, tmp_path, ["a.bin", "b.bin"], cap)
    f, url = serve(model_server, MIB, seed=42, name="c.bin")
    with open(tmp_path / "a.bin.lock", "a+") as a, open(tmp_path / "b.bin.lock", "a+") as b:
        fcntl.flock(a, fcntl.LOCK_EX)
        fcntl.flock(b, fcntl.LOCK_EX)
        res = run_dl(url, "--cache-dir", str(tmp_path), "--max-cache-size", cap)
    assert res.rc == 7
    assert res.error is not None and res.error["code"] == "cache_full"
    assert "nothing was written" in res.error["message"]
    assert not (tmp_path / "c.bin.part").exists() and not (tmp_path / "c.bin").exists()
    assert settled(model_server, f.path).bytes_sent == 1  # the probe only
    assert sorted(_manifest(tmp_path)) == ["a.bin", "b.bin"]  # nothing evicted for nothing
    # A file larger than the cap, and eviction turned off, fail the same way.
    g, url = serve(model_server, 3 * MIB, seed=43, name="big.bin")
    res = run_dl(url, "--cache-dir", str(tmp_path), "--max-cache-size", cap)
    assert res.rc == 7 and "larger than the cache cap" in res.error["message"]  # type: ignore[index]
    res = run_dl(
        url, "--cache-dir", str(tmp_path), "--max-cache-size", "4MiB", "--eviction", "none"
    )
    assert res.rc == 7 and "eviction is off" in res.error["message"]  # type: ignore[index]
    assert settled(model_server, g.path).bytes_sent == 2


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None,
    reason="mounting a small tmpfs for a real ENOSPC needs root",
)


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.root
@needs_root
def test_no_space_before_the_download(model_server: ModelServer, small_tmpfs: Path) -> None:
    f, url = serve(model_server, 8 * MIB, seed=50)
    res = run_dl(url, "--cache-dir", str(small_tmpfs), "--max-cache-size", "none")
    assert res.rc == 6
    assert res.error is not None and res.error["code"] == "disk_full"
    assert "8.0 MiB more needed" in res.error["message"] and "free" in res.error["message"]
    assert settled(model_server, f.path).bytes_sent == 1


@pytest.mark.root
@needs_root
def test_disk_fills_during_the_download(model_server: ModelServer, small_tmpfs: Path) -> None:
    f, url = serve(model_server, 3 * MIB, seed=51, faults=Faults(rate_limit=2 * MIB))
    args = (url, "--cache-dir", str(small_tmpfs), "--checksum", f"sha256:{f.sha256}")
    proc = start_dl(*args, "--workers", "1")
    part = small_tmpfs / "model.bin.part"
    wait_for(lambda: part.exists() and part.stat().st_size >= MIB // 2, timeout=10)
    filler = small_tmpfs / "filler"
    with open(filler, "wb") as fh:  # another writer takes the rest of the disk
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    res = finish(proc)
    assert res.rc == 6, res.stdout
    assert res.error is not None and res.error["code"] == "disk_full"
    assert (
        "more needed" in res.error["message"] and "partial download is kept" in res.error["message"]
    )
    assert part.exists() and (small_tmpfs / "model.bin.part.json").exists()
    filler.unlink()
    res = run_dl(*args)
    assert res.rc == 0, res.stdout
    assert res.of("start")[0]["resumed_from"] > 0
    assert sha256_of(small_tmpfs / "model.bin") == f.sha256
