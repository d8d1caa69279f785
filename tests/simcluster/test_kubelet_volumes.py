"""Claim volumes at teardown: no tmpfs may outlive the cluster that mounted it.

The mount itself needs root; the race between a mount under way and `close` is checked
with a stand-in mount, so it runs anywhere.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simcluster.cluster import SimCluster
from simcluster.kubelet import volumes
from simcluster.kubelet.node import Kubelet
from simcluster.kubelet.volumes import VolumeManager

MiB = 1024 * 1024
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


async def test_close_waits_for_a_mount_that_its_pod_no_longer_waits_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pod asking for a claim is killed (its node stops) while the mount runs in a thread:
    the mount still lands, and `close` must unmount it rather than miss it."""
    started = threading.Event()

    def slow_mount(self: VolumeManager, path: Path, size: int) -> bool:
        started.set()
        time.sleep(0.2)
        self._mounted.append(path)
        return True

    unmounted: list[Path] = []
    monkeypatch.setattr(VolumeManager, "_mount_tmpfs", slow_mount)
    monkeypatch.setattr(volumes, "_umount", unmounted.append)
    vm = VolumeManager(tmp_path, use_tmpfs=True)
    asking = asyncio.create_task(vm.pvc("ns", "models", MiB, "gp3"))
    assert await asyncio.to_thread(started.wait, 5)
    asking.cancel()
    await vm.close()
    assert unmounted == [vm.pvc_path("ns", "models")]


async def test_a_claim_whose_dir_could_not_be_made_is_tried_again(tmp_path: Path) -> None:
    vm = VolumeManager(tmp_path, use_tmpfs=False)
    (tmp_path / "volumes").write_text("not a directory")
    with pytest.raises(OSError):
        await vm.pvc("ns", "models", MiB, "gp3")
    (tmp_path / "volumes").unlink()
    vol = await vm.pvc("ns", "models", MiB, "gp3")
    assert vol.host_path.is_dir() and not vol.tmpfs


async def test_a_kubelet_that_fails_to_stop_still_gets_the_claims_unmounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the last kubelet to stop closes the volumes; one that fails never gets there."""

    async def stuck(self: Kubelet) -> None:
        raise RuntimeError("stuck")

    closed: list[VolumeManager] = []

    async def close(self: VolumeManager) -> None:
        closed.append(self)

    monkeypatch.setattr(Kubelet, "stop", stuck)
    monkeypatch.setattr(VolumeManager, "close", close)
    async with SimCluster(tmp_path / "sim"):
        pass
    assert len(closed) == 1


@pytest.fixture
def tmpfs_claim(
    tmp_path: Path,
) -> Iterator[tuple[VolumeManager, Path, asyncio.AbstractEventLoop]]:
    """A claim mounted as a tmpfs, and the loop its manager runs on (Python 3.10 has no
    asyncio.Runner)."""
    loop = asyncio.new_event_loop()
    try:
        vm = VolumeManager(tmp_path, use_tmpfs=True)
        vol = loop.run_until_complete(vm.pvc("ns", "models", MiB, "gp3"))
        try:
            if not vol.tmpfs:
                pytest.skip("the tmpfs could not be mounted here (restricted container)")
            yield vm, vol.host_path, loop
        finally:
            loop.run_until_complete(vm.close())
    finally:
        loop.close()


def _hold(path: Path, seconds: float) -> threading.Thread:
    """A program cancelled a moment ago that still has a file open on the claim."""
    opened = threading.Event()

    def run() -> None:
        with open(path, "wb"):
            opened.set()
            time.sleep(seconds)

    holder = threading.Thread(target=run, daemon=True)
    holder.start()
    assert opened.wait(5)
    return holder


@pytest.mark.root
@needs_root
def test_a_tmpfs_let_go_soon_is_unmounted_normally(
    tmpfs_claim: tuple[VolumeManager, Path, asyncio.AbstractEventLoop],
    caplog: pytest.LogCaptureFixture,
) -> None:
    vm, path, runner = tmpfs_claim
    holder = _hold(path / "partial.bin", 0.3)
    with caplog.at_level(logging.WARNING, logger="simcluster.kubelet"):
        runner.run_until_complete(vm.close())
    assert not holder.is_alive() and not os.path.ismount(path)
    assert not [r for r in caplog.records if "lazily" in r.getMessage()]


@pytest.mark.root
@needs_root
def test_a_tmpfs_still_held_is_detached_lazily_and_the_holder_named(
    tmpfs_claim: tuple[VolumeManager, Path, asyncio.AbstractEventLoop],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vm, path, runner = tmpfs_claim
    monkeypatch.setattr(volumes, "UMOUNT_PATIENCE", 0.3)
    holder = _hold(path / "partial.bin", 1.5)
    with caplog.at_level(logging.WARNING, logger="simcluster.kubelet"):
        runner.run_until_complete(vm.close())
    assert holder.is_alive() and not os.path.ismount(path)
    holder.join()
    (warning,) = [r.getMessage() for r in caplog.records if "lazily" in r.getMessage()]
    assert str(path) in warning and f"pid {os.getpid()} " in warning
