"""Volume notes say only true things, in whole clauses: the quota only when there is one, the
pod detail's measurement without a dangling reason, a crash loop not called "no pod"."""

from __future__ import annotations

from collectors.model import ClusterSnapshot, ModelState

KiB = 1024
MiB = 1024**2


def _measured_with_du(s: ClusterSnapshot) -> bool:
    return bool(s.volumes) and s.volumes[0].usage is not None and s.volumes[0].usage.source == "du"


def test_no_quota_no_talk_of_one(start, start_feed) -> None:
    """stalled-download sets no MODEL_CACHE_MAX_SIZE: "of ?", and the note says why."""
    world = start("stalled-download", speed=1 * MiB)
    _feed, rec = start_feed(world.cluster, refresh=1, fallback_interval=1)
    snap = rec.wait(_measured_with_du, 20, "the EFS volume measured with du")
    (vol,) = snap.volumes
    assert vol.quota_bytes is None and vol.usage is not None
    note = vol.usage.note or ""
    assert "shown against the cache quota" not in note, note
    assert "no cache quota (MODEL_CACHE_MAX_SIZE) to show it against" in note, note


def test_quota_named_when_there_is_one_and_the_detail_note_is_whole(start, start_feed) -> None:
    world = start("efs-shared", speed=1 * MiB)
    feed, rec = start_feed(world.cluster, refresh=1, fallback_interval=1)
    snap = rec.wait(
        lambda s: (
            _measured_with_du(s)
            and any(p.model_state is ModelState.READY and p.cache_claim for p in s.pods)
        ),
        30,
        "a ready pod and the EFS volume measured with du",
    )
    (vol,) = snap.volumes
    assert vol.quota_bytes is not None and vol.usage is not None
    assert "shown against the cache quota (" in (vol.usage.note or "")
    pod = next(p for p in snap.pods if p.model_state is ModelState.READY and p.cache_claim)
    usage = feed.disk_usage(pod.name)  # what the pod detail's Cache panel shows
    note = usage.note or ""
    assert usage.source == "du" and not usage.capacity_meaningful
    assert note.startswith("df shows an 8 EiB file system (EFS)"), note
    assert "asked for" not in note, note
    assert f"with du in pod {pod.name}" in note and "shown against the cache quota (" in note


def test_a_crash_loop_is_not_called_no_running_pod(start, start_feed) -> None:
    world = start("corrupt-model", speed=1 * MiB)
    _feed, rec = start_feed(world.cluster, refresh=1, fallback_interval=1)

    def crash_looping(s: ClusterSnapshot) -> bool:
        return len(s.pods) == 2 and all(p.phase == "Running" for p in s.pods)

    def note_of(s: ClusterSnapshot) -> str:
        return (s.volumes[0].usage.note if s.volumes and s.volumes[0].usage else None) or ""

    snap = rec.wait(
        lambda s: (
            bool(s.volumes)
            and s.volumes[0].usage is not None
            and s.volumes[0].usage.source == "none"
            and crash_looping(s)
            # A container up for a moment between crashes is measured in, and the measuring
            # may fail as it goes ("cannot exec", or df answered and then "du ... failed"):
            # wait for a poll that found none up.
            and "no container is running to measure it in" in note_of(s)
        ),
        30,
        "the volume not measured while both pods are Running (crash-looping)",
    )
    note = note_of(snap)
    # No poll of the crash loop, that one or any before it, said there was no running pod.
    said = [note_of(s) for s in list(rec.snapshots) if crash_looping(s)]
    assert not [n for n in said if "no running pod mounts it" in n], said
    assert all(p.name in note for p in snap.pods), note
