"""Measuring cache volumes against the simulated cluster: a failed df or du says why.

The EFS-like claim gets no kubelet stats, so every figure comes from df/du run in a pod."""

from __future__ import annotations

import asyncio

import pytest

from collectors.model import ClusterSnapshot, VolumeUsage
from simcluster.kubelet.commands import EXTRA_COMMANDS
from simcluster.kubelet.context import ProcContext
from tests.collectors.setups import MiB, asr_deployment, pvc

STALE = "Transport endpoint is not connected"  # what a stale NFS/EFS mount answers


def _usage(s: ClusterSnapshot) -> VolumeUsage | None:
    return s.volumes[0].usage if len(s.volumes) == 1 else None


def _efs_cluster(make_sim, init_containers: list[dict] | None = None):
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=1 * MiB, seed=5)
    deployment = asr_deployment(sim.model_server.url(f.path), f.sha256, replicas=1)
    if init_containers:
        deployment["spec"]["template"]["spec"]["initContainers"] = init_containers
    sim.apply([pvc(), deployment])
    return sim


@pytest.fixture
def stale_mount(monkeypatch: pytest.MonkeyPatch) -> None:
    """df and du fail as on a stale EFS mount: exit 1, the reason on stderr (du's long)."""

    async def df(argv: list[str], ctx: ProcContext) -> int:
        await ctx.io.write_stderr(f"df: {argv[-1]}: {STALE}\ndf: a second line\n".encode())
        return 1

    async def du(argv: list[str], ctx: ProcContext) -> int:
        deep = argv[-1] + "/v1" * 60
        await ctx.io.write_stderr(f"du: cannot read directory '{deep}': {STALE}\n".encode())
        return 1

    monkeypatch.setitem(EXTRA_COMMANDS, "df", df)
    monkeypatch.setitem(EXTRA_COMMANDS, "du", du)


def test_a_failed_measurement_says_which_command_and_why(
    make_sim, start_feed, stale_mount: None
) -> None:
    sim = _efs_cluster(make_sim)
    feed, rec = start_feed(sim, refresh=1)
    snap = rec.wait(
        lambda s: (u := _usage(s)) is not None and u.source == "none" and "df -P" in (u.note or ""),
        20,
        "df and du failing in the running pod",
    )
    (pod,) = snap.pods
    usage = _usage(snap)
    assert usage is not None
    note = usage.note or ""
    assert (
        f"df -P -B1 /app/models in pod {pod.name} failed: exit code 1 "
        f"(df: /app/models: {STALE})" in note
    ), note
    # du's three forms all failed: the last one's words, cut short, on the same line.
    assert f"du -sk /app/models in pod {pod.name} failed: exit code 1 (du: cannot read" in note
    assert "…)" in note and "second line" not in note and "\n" not in note, note
    assert len(note) < 400, note

    # The pod detail's cache panel measures the same way and says the same.
    detail = feed.disk_usage(pod.name)
    assert detail.source == "none" and f"(df: /app/models: {STALE})" in (detail.note or "")


def test_a_timed_out_measurement_says_so(make_sim, start_feed, monkeypatch) -> None:
    async def hang(_argv: list[str], _ctx: ProcContext) -> int:
        await asyncio.sleep(5)
        return 0

    monkeypatch.setitem(EXTRA_COMMANDS, "df", hang)
    monkeypatch.setitem(EXTRA_COMMANDS, "du", hang)
    sim = _efs_cluster(make_sim)
    _feed, rec = start_feed(sim, refresh=1, exec_timeout=0.5)
    snap = rec.wait(
        lambda s: (u := _usage(s)) is not None and "no exit status" in (u.note or ""),
        20,
        "df and du timing out",
    )
    (pod,) = snap.pods
    usage = _usage(snap)
    assert usage is not None and usage.source == "none"
    note = usage.note or ""
    assert f"df -P -B1 /app/models in pod {pod.name} failed: no exit status within 0.5 s" in note
    # A du that gives no exit status is not tried in its other forms.
    assert f"du -s -B1 /app/models in pod {pod.name} failed: no exit status within 1.5 s" in note
