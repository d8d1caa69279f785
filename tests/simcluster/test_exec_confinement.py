"""Hostile paths: nothing outside the pod's mounts can be read, listed or deleted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simcluster.kubelet.fs import FsError
from tests.simcluster.kubelet_helpers import make_fs, run


@pytest.fixture
def host_secret(tmp_path: Path) -> Path:
    secret = tmp_path / "host-only" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("host secret\n")
    return secret


def _host_has(path: str) -> bool:
    return os.path.exists(path)


def _text(p: Path) -> str:
    return p.read_text()


HOSTILE = [
    "/etc/passwd",
    "../../../../../../etc/passwd",
    "/app/models/../../../etc/passwd",
    "/app/models/../../../../../../../../etc/hostname",
    "/proc/self/environ",
]


@pytest.mark.parametrize("path", HOSTILE)
async def test_reads_outside_mounts_find_nothing(tmp_path: Path, path: str) -> None:
    fs = make_fs(tmp_path)
    for argv in (["cat", path], ["sha256sum", path], ["stat", "-c", "%s", path], ["ls", path]):
        r = await run(fs, tmp_path, *argv)
        assert r.code != 0 and r.out == b"", (argv, r)
        assert "No such file or directory" in r.stderr


async def test_absolute_host_paths_are_not_visible(tmp_path: Path, host_secret: Path) -> None:
    fs = make_fs(tmp_path)
    for p in (str(host_secret), str(tmp_path / "pvc"), str(tmp_path)):
        r = await run(fs, tmp_path, "cat", p)
        assert r.code == 1 and "host secret" not in r.stdout
    r = await run(fs, tmp_path, "rm", "-rf", str(host_secret), str(host_secret.parent))
    assert _text(host_secret) == "host secret\n"
    r = await run(fs, tmp_path, "ls", "/")
    assert r.stdout.split() == ["app", "opt", "scratch"]


async def test_symlinks_out_of_a_mount_are_not_followed(tmp_path: Path, host_secret: Path) -> None:
    fs = make_fs(tmp_path)
    pvc = tmp_path / "pvc"
    os.symlink(str(host_secret), pvc / "abs-link")  # a host-absolute target
    os.symlink("../host-only/secret.txt", pvc / "rel-link")  # escapes the mount on the host
    os.symlink("../../../../../../..", pvc / "up")
    os.symlink(str(host_secret.parent), pvc / "dir-link")
    for p in (
        "/app/models/abs-link",
        "/app/models/rel-link",
        "/app/models/up/etc/passwd",
        "/app/models/dir-link/secret.txt",
    ):
        r = await run(fs, tmp_path, "cat", p)
        assert r.code == 1 and "host secret" not in r.stdout, p
        r = await run(fs, tmp_path, "sha256sum", p)
        assert r.code == 1, p
    # Deleting through a symlink deletes the link, never the target.
    for argv in (
        ["rm", "-rf", "/app/models/dir-link/"],
        ["rm", "-rf", "/app/models/dir-link"],
        ["sh", "-c", "rm -rf /app/models/dir-link/* /app/models/up/*"],
    ):
        await run(fs, tmp_path, *argv)
    assert _text(host_secret) == "host secret\n"
    r = await run(fs, tmp_path, "rm", "-f", "/app/models/abs-link")
    assert r.code == 0 and _text(host_secret) and "abs-link" not in os.listdir(pvc)


async def test_symlinks_inside_the_pod_view_work(tmp_path: Path) -> None:
    fs = make_fs(tmp_path)
    (tmp_path / "empty" / "note").write_text("inside\n")
    os.symlink("/scratch/note", tmp_path / "pvc" / "link")  # a container-absolute target
    r = await run(fs, tmp_path, "cat", "/app/models/link")
    assert r.stdout == "inside\n"
    os.symlink("loop", tmp_path / "pvc" / "loop")
    with pytest.raises(FsError, match="Too many levels"):
        fs.resolve("/app/models/loop")


async def test_downloader_cannot_reach_host_files(tmp_path: Path, host_secret: Path) -> None:
    fs = make_fs(tmp_path)
    for argv in (
        ["asr-cache-download", f"file://{host_secret}", "--cache-dir", "/app/models"],
        ["asr-cache-download", "file:///etc/passwd", "--cache-dir=/app/models"],
        ["asr-cache-download", "http://127.0.0.1:9/m.bin", "--cache-dir", "../../../tmp"],
        ["python3", "-m", "actions.downloader", "verify", "/etc/passwd"],
    ):
        r = await run(fs, tmp_path, *argv)
        assert r.code == 2 and "refused" in r.stderr, (argv, r)
    assert not os.listdir(tmp_path / "pvc")


async def test_downloader_default_cache_dir_is_the_pods(tmp_path: Path) -> None:
    """Without MODEL_CACHE_DIR the downloader's /app/models default is the pod's mount."""
    fs = make_fs(tmp_path)
    data = os.urandom(4096)
    (tmp_path / "empty" / "src.bin").write_bytes(data)
    host_default_existed = _host_has("/app/models/src.bin")
    r = await run(fs, tmp_path, "asr-cache-download", "file:///scratch/src.bin")
    assert r.code == 0, r.stderr
    assert (tmp_path / "pvc" / "src.bin").read_bytes() == data
    assert _host_has("/app/models/src.bin") == host_default_existed
    assert str(tmp_path) not in r.stdout + r.stderr  # host paths never leak into output
    assert '"path": "/app/models/src.bin"' in r.stdout or "/app/models/src.bin" in r.stdout
