"""The simulator's scenarios, seen through the live feed: each produces the states it promises.

Models are 4 MiB and speeds per connection are set so each download takes a few seconds.
"""

from __future__ import annotations

import os
import time

import pytest

from collectors.model import ClusterSnapshot, DownloadPhase, ModelState

KiB = 1024
MiB = 1024**2


def _count(s: ClusterSnapshot, state: ModelState, prefix: str = "lightning-asr-") -> int:
    return sum(1 for p in s.pods if p.name.startswith(prefix) and p.model_state is state)


def test_efs_shared(start, start_feed) -> None:
    world = start("efs-shared", speed=256 * KiB)
    _feed, rec = start_feed(world.cluster, refresh=1, fallback_interval=1)
    mid = rec.wait(
        lambda s: _count(s, ModelState.DOWNLOADING) == 1 and _count(s, ModelState.WAITING) == 2,
        20,
        "one pod downloading, two waiting on the lock",
    )
    downloading = next(p for p in mid.pods if p.model_state is ModelState.DOWNLOADING)
    assert downloading.progress is not None and downloading.progress.source == "bundled"
    assert downloading.progress.bytes_total == 4 * MiB
    assert all(
        any("waiting for the lock" in e for e in p.evidence)
        for p in mid.pods
        if p.model_state is ModelState.WAITING
    )
    done = rec.wait(
        lambda s: (
            _count(s, ModelState.READY) >= 3
            and s.volumes[0].usage is not None
            and s.volumes[0].usage.source == "du"
            and (s.volumes[0].usage.used_bytes or 0) >= 4 * MiB
        ),
        30,
        "all ready, the EFS volume measured with du",
    )
    (vol,) = done.volumes
    assert vol.usage is not None and not vol.usage.capacity_meaningful
    assert "8 EiB" in (vol.usage.note or "") and vol.quota_bytes is not None
    assert vol.denominator == vol.quota_bytes
    assert {r.name: r.serving for r in done.rollouts}["lightning-asr"] is True


def test_stalled_download(start, start_feed) -> None:
    world = start("stalled-download", speed=1 * MiB)
    stall_after = 2.0
    _feed, rec = start_feed(world.cluster, stall_after=stall_after, refresh=1)
    stalled = rec.wait(
        lambda s: _count(s, ModelState.STALLED) == 1, 20, "the download reported stalled"
    )
    (pod,) = stalled.pods
    assert pod.progress is not None and pod.progress.phase is DownloadPhase.STALLED
    done = pod.progress.bytes_done or 0
    assert 0 < done <= 0.45 * 4 * MiB  # the server stops at about 40%
    assert pod.evidence[0].startswith("no new bytes for")
    first_at = next(
        s.taken_at
        for s in rec.snapshots
        if s.pods and s.pods[0].progress and s.pods[0].progress.bytes_done == done
    )
    assert stalled.taken_at - first_at <= stall_after + 2.0


def test_corrupt_model(start, start_feed) -> None:
    world = start("corrupt-model")
    _feed, rec = start_feed(world.cluster, refresh=1)
    snap = rec.wait(lambda s: _count(s, ModelState.CORRUPT) >= 1, 20, "a corrupt model")
    pod = next(p for p in snap.pods if p.model_state is ModelState.CORRUPT)
    assert "checksum mismatch" in pod.evidence[0]
    looping = rec.wait(
        lambda s: any(
            p.model_state is ModelState.CORRUPT and "CrashLoopBackOff" in " ".join(p.evidence)
            for p in s.pods
        ),
        20,
        "the crash loop named in the evidence",
    )
    assert any(p.model_state is ModelState.CORRUPT for p in looping.pods)


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="a full volume needs root (tmpfs PVCs)")
def test_disk_full(start, start_feed) -> None:
    world = start("disk-full")
    _feed, rec = start_feed(world.cluster, refresh=1)
    # Failed from the first sight of its crash loop; the cause once its log is read.
    snap = rec.wait(
        lambda s: (
            _count(s, ModelState.FAILED) == 1 and "Download failed after" in s.pods[0].evidence[0]
        ),
        20,
        "the download failed, with the server's last word",
    )
    if not os.path.ismount(world.claim_dir("models-ebs-pvc")):
        pytest.skip("the simulator could not mount a tmpfs here (restricted container)")
    (pod,) = snap.pods
    assert "no space left" in pod.evidence[0].lower()
    assert "Download failed after" in pod.evidence[0]


def test_s3_init(start, start_feed) -> None:
    world = start("s3-init", speed=1 * MiB)
    feed, rec = start_feed(world.cluster, refresh=1, disk_check_interval=0.5)
    # aws writes bare \r updates, which the kubelet holds until 16 KiB or a newline: while
    # the init container runs, the file growing on disk is the evidence.
    snap = rec.wait(
        lambda s: any(
            p.model_state is ModelState.DOWNLOADING and p.progress and p.progress.source == "disk"
            for p in s.pods
        ),
        20,
        "the download seen on disk",
    )
    pod = next(p for p in snap.pods if p.model_state is ModelState.DOWNLOADING)
    assert pod.phase == "Pending" and pod.evidence[0].startswith("disk: /app/models/model.bin.")
    # Two looks at the growing file give the rate the log does not: near the 1 MiB/s cap.
    moving = rec.wait(
        lambda s: any(
            p.progress and p.progress.source == "disk" and p.progress.rate for p in s.pods
        ),
        20,
        "a rate from the file's growth",
    )
    rate = next(p.progress.rate for p in moving.pods if p.progress and p.progress.rate)
    assert rate is not None and 0.2 * MiB < rate < 2.5 * MiB, rate
    done = rec.wait(lambda s: _count(s, ModelState.READY) == 2, 30, "both ready")
    assert all(p.cache_kind == "emptyDir" for p in done.pods)
    # An emptyDir cache is reported per pod, from the kubelet's stats.
    measured = rec.wait(
        lambda s: (
            sum(
                1
                for v in s.volumes
                if v.kind == "emptyDir"
                and v.usage
                and v.usage.source == "kubelet"
                and (v.usage.used_bytes or 0) >= 4 * MiB
            )
            == 2
        ),
        10,
        "emptyDir usage of both pods",
    )
    assert {v.name for v in measured.volumes if v.kind == "emptyDir"} == {
        f"{p.name}/models" for p in measured.pods
    }
    lines = [line for line in feed.recent_log(pod.name) if line.container != "lightning-asr"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not lines:
        time.sleep(0.1)
        lines = [line for line in feed.recent_log(pod.name) if line.container != "lightning-asr"]
    # \r updates replace each other as on a terminal; "download:" overwrites the last one.
    assert sum(1 for line in lines if line.text.startswith("Completed")) <= 1
    assert lines[-1].text.startswith("download: s3://")


def test_preload_wget(start, start_feed) -> None:
    world = start("preload-wget", speed=1 * MiB)
    _feed, rec = start_feed(world.cluster, refresh=1)
    running = rec.wait(
        lambda s: any(
            j.kind == "Job"
            and j.progress
            and j.progress.source == "wget"
            and (j.progress.bytes_done or 0) > 0
            for j in s.jobs
        ),
        20,
        "wget progress on the pre-warm Job",
    )
    job = next(j for j in running.jobs if j.kind == "Job")
    assert job.progress is not None and job.progress.bytes_total == 4 * MiB
    cron = next(j for j in running.jobs if j.kind == "CronJob")
    assert (cron.name, cron.schedule, cron.state) == ("model-preload", "0 */6 * * *", "Scheduled")
    done = rec.wait(
        lambda s: any(j.kind == "Job" and j.state == "Complete" for j in s.jobs), 20, "Complete"
    )
    job = next(j for j in done.jobs if j.kind == "Job")
    assert job.progress is not None and job.progress.phase is DownloadPhase.DONE
    # Its pod is done, not a server: "ready" would count it with the pods that serve.
    done = rec.wait(
        lambda s: (p := s.pod(job.pods[0])) is not None and p.phase == "Succeeded",
        20,
        "the Job's pod Succeeded",
    )
    pod = done.pod(job.pods[0])
    assert pod is not None and pod.model_state is ModelState.DONE
    # Completed, it mounts the claim no more: the volume names only the pods that use it.
    (claim,) = (v for v in done.volumes if v.kind == "pvc")
    assert pod.name not in claim.pods, claim.pods


def test_blue_green(start, start_feed) -> None:
    world = start("blue-green", speed=256 * KiB)
    _feed, rec = start_feed(world.cluster, refresh=1)
    snap = rec.wait(
        lambda s: (
            any(
                p.release == "lightning-asr-v2"
                and p.model_state in (ModelState.DOWNLOADING, ModelState.WAITING)
                for p in s.pods
            )
            and any(r.serving for r in s.rollouts)
        ),
        20,
        "v2 downloading while v1 serves",
    )
    by_name = {r.name: r for r in snap.rollouts}
    assert by_name["lightning-asr"].serving is True and by_name["lightning-asr-v2"].serving is False
    assert by_name["lightning-asr-v2"].model_version == "v2"
    assert snap.serving_url == "http://lightning-asr:2269"
    v2 = [p for p in snap.pods if p.release == "lightning-asr-v2"]
    assert all(p.model.version == "v2" and p.cache_claim == "models-aws-efs-pvc" for p in v2)
    done = rec.wait(lambda s: _count(s, ModelState.READY) == 4, 30, "both releases ready")
    assert {p.release for p in done.pods} == {"lightning-asr", "lightning-asr-v2"}
    assert {r.name: r.serving for r in done.rollouts}["lightning-asr"] is True
