"""The live feed against the simulated cluster: real API server, kubelet, model server."""

from __future__ import annotations

import time

from collectors.model import ClusterSnapshot, ModelState
from simcluster.modelserver import Faults
from tests.collectors.conftest import feed_threads
from tests.collectors.setups import MiB, api_server, asr_deployment, pvc, service


def _states(s: ClusterSnapshot) -> dict[str, ModelState]:
    return {p.name: p.model_state for p in s.pods}


def test_efs_shared_one_downloads_others_wait_then_all_ready(make_sim, start_feed) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=6 * MiB, seed=1)
    sim.model_server.set_faults(f.path, Faults(rate_limit=3 * MiB))
    sim.apply(
        [
            pvc(),
            asr_deployment(sim.model_server.url(f.path), f.sha256, MODEL_DOWNLOAD_WORKERS="1"),
        ]
    )
    feed, rec = start_feed(sim, stall_after=30, refresh=1, fallback_interval=1)

    def one_downloads_two_wait(s: ClusterSnapshot) -> bool:
        states = list(_states(s).values())
        return (
            len(states) == 3
            and states.count(ModelState.DOWNLOADING) == 1
            and states.count(ModelState.WAITING) == 2
        )

    mid = rec.wait(one_downloads_two_wait, 15, "one pod downloading, two waiting")
    downloading = next(p for p in mid.pods if p.model_state is ModelState.DOWNLOADING)
    assert downloading.progress is not None and downloading.progress.source == "bundled"
    assert downloading.progress.bytes_total == 6 * MiB
    waiting = next(p for p in mid.pods if p.model_state is ModelState.WAITING)
    assert any("waiting for the lock" in e for e in waiting.evidence)
    assert waiting.cache_claim == "models-aws-efs-pvc" and waiting.cache_kind == "pvc"

    done = rec.wait(
        lambda s: len(s.pods) == 3 and all(p.model_state is ModelState.READY for p in s.pods),
        20,
        "all three ready",
    )
    # EFS publishes no kubelet stats and df says 8 EiB: measured with du, against the quota.
    done = rec.wait(
        lambda s: bool(
            s.volumes
            and s.volumes[0].usage
            and s.volumes[0].usage.source == "du"
            and (s.volumes[0].usage.used_bytes or 0) >= 6 * MiB
        ),
        10,
        "du of the EFS volume",
    )
    (vol,) = done.volumes
    assert vol.usage is not None and vol.usage.used_bytes is not None
    assert vol.usage.used_bytes >= 6 * MiB
    assert "no stats" in (vol.usage.note or "") and "8 EiB" in (vol.usage.note or "")
    assert vol.access_modes == ("ReadWriteMany",) and vol.storage_class == "models-aws-efs-sc"
    assert set(vol.pods) == {p.name for p in done.pods}
    lines = feed.recent_log(downloading.name)
    assert any(line.kind == "progress" for line in lines)
    assert any("Server ready on port 2269" in line.text for line in lines)


def test_stalled_download_is_reported_within_the_threshold(make_sim, start_feed) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=8 * MiB, seed=2)
    sim.model_server.set_faults(f.path, Faults(stall_after=3 * MiB))
    sim.apply(
        [
            pvc(sc="standard"),
            asr_deployment(
                sim.model_server.url(f.path), f.sha256, replicas=1, MODEL_DOWNLOAD_WORKERS="1"
            ),
        ]
    )
    stall_after = 3.0
    _feed, rec = start_feed(sim, stall_after=stall_after, refresh=1)
    stalled = rec.wait(
        lambda s: any(p.model_state is ModelState.STALLED for p in s.pods), 20, "the stall"
    )
    (pod,) = stalled.pods
    assert pod.progress is not None and pod.progress.bytes_done is not None
    assert 0 < pod.progress.bytes_done <= 3 * MiB
    assert pod.evidence[0].startswith("no new bytes for")
    assert "of 8.0 MiB" in pod.evidence[0]
    # Reported within the threshold (plus one publishing tick) of the last new byte.
    first_at_stall_point = next(
        s.taken_at
        for s in rec.snapshots
        if s.pods
        and s.pods[0].progress
        and s.pods[0].progress.bytes_done == pod.progress.bytes_done
    )
    assert stalled.taken_at - first_at_stall_point <= stall_after + 2.0
    sim.model_server.release_stalls()
    rec.wait(
        lambda s: any(p.model_state is ModelState.READY for p in s.pods), 20, "ready after release"
    )


def test_volume_usage_from_kubelet_stats_one_request_per_node(make_sim, start_feed) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=2 * MiB, seed=3)
    sim.apply(
        [
            pvc(name="models-pvc", sc="standard", size="1Gi"),
            asr_deployment(
                sim.model_server.url(f.path),
                f.sha256,
                replicas=2,
                claim="models-pvc",
                MODEL_CACHE_MAX_SIZE="50GB",
            ),
        ]
    )
    feed, rec = start_feed(sim, refresh=0.5)
    snap = rec.wait(
        lambda s: bool(
            s.volumes
            and s.volumes[0].usage
            and s.volumes[0].usage.source == "kubelet"
            and (s.volumes[0].usage.used_bytes or 0) >= 2 * MiB
        ),
        20,
        "kubelet stats of the PVC",
    )
    (vol,) = snap.volumes
    assert vol.usage is not None and vol.usage.capacity_meaningful
    assert vol.quota_bytes == 50_000_000_000
    assert vol.denominator == vol.usage.capacity_bytes
    before = feed.cluster.counters.requests("get", "nodes/proxy")
    polls = feed.poller.summary_requests
    time.sleep(2.0)
    # One stats/summary per node (one node here) per refresh interval, never more.
    made = feed.cluster.counters.requests("get", "nodes/proxy") - before
    assert made == feed.poller.summary_requests - polls
    assert 1 <= made <= 2.0 / 0.5 + 1

    # On demand (the detail view): the cache files and df of one pod's cache mount.
    pod = snap.pods[0].name
    files = {f.name: f for f in feed.cache_files(pod)}
    model = files["model.bin"]
    assert model.size == 2 * MiB and not model.partial and model.verified is True
    assert not any(name.endswith(".lock") for name in files)
    usage = feed.disk_usage(pod)
    assert usage.source == "df" and usage.capacity_bytes == 1024**3
    assert (usage.used_bytes or 0) >= 2 * MiB and "df in pod" in (usage.note or "")


def test_nothing_changing_means_no_more_lists(make_sim, start_feed) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=1 * MiB, seed=4)
    sim.apply(
        [pvc(sc="standard"), asr_deployment(sim.model_server.url(f.path), f.sha256, replicas=2)]
    )
    feed, rec = start_feed(sim, refresh=1)
    rec.wait(
        lambda s: len(s.pods) == 2 and all(p.model_state is ModelState.READY for p in s.pods),
        20,
        "both ready",
    )
    counters = feed.cluster.counters
    assert counters.requests("list") == 7  # one per kind, at the start
    time.sleep(2.5)
    assert counters.requests("list") == 7
    assert counters.requests("watch") == 7


def test_api_lost_mid_watch_leaves_a_stale_snapshot_then_recovers(make_sim, start_feed) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=1 * MiB, seed=5)
    sim.apply(
        [pvc(sc="standard"), asr_deployment(sim.model_server.url(f.path), f.sha256, replicas=1)]
    )
    feed, rec = start_feed(sim, refresh=1)
    rec.wait(lambda s: len(s.pods) == 1 and s.pods[0].ready, 20, "the pod ready")
    lists_before = feed.cluster.counters.requests("list")

    sim.run(sim.stop_api())
    lost_at = time.time()
    stale = rec.wait(lambda s: s.stale, 10, "a stale snapshot")
    assert stale.stale_since is not None and stale.stale_since >= lost_at - 1
    assert stale.error and "cannot reach the API server" in stale.error
    assert len(stale.pods) == 1 and stale.pods[0].model_state is ModelState.READY

    sim.run(sim.start_api())
    fresh = rec.wait(lambda s: not s.stale, 20, "recovery")
    assert fresh.error is None and len(fresh.pods) == 1
    # Resumed from the last resourceVersion (or relisted once per kind after a 410).
    assert feed.cluster.counters.requests("list") - lists_before <= 7

    # A 503 outage too: open watches are dropped, and reconnecting gets 503s for a while.
    sim.set_api_outage(2.0, status=503)
    sim.drop_watches()
    outage = rec.wait(lambda s: s.stale, 10, "stale during the 503 outage")
    assert "503" in (outage.error or "")
    rec.wait(lambda s: not s.stale, 20, "recovery after the outage")

    feed.stop()
    assert feed.threads() == []
    assert feed_threads() == []


def test_blue_green_serving_release(make_sim, start_feed) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=1 * MiB, seed=6)
    url = sim.model_server.url(f.path)
    sim.apply(
        [
            pvc(sc="standard"),
            asr_deployment(url, f.sha256, replicas=1, MODEL_VERSION="v1"),
            asr_deployment(
                url,
                f.sha256,
                name="lightning-asr-v2",
                replicas=1,
                MODEL_VERSION="v2",
                MODEL_CACHE_DIR="/app/models/v2",
            ),
            service("lightning-asr-internal", {"app": "lightning-asr", "release": "lightning-asr"}),
            api_server("http://lightning-asr-internal:2269"),
        ]
    )
    _feed, rec = start_feed(sim, refresh=1)
    snap = rec.wait(lambda s: any(r.serving for r in s.rollouts), 20, "the serving release found")
    by_name = {r.name: r for r in snap.rollouts}
    assert by_name["lightning-asr"].serving is True
    assert by_name["lightning-asr-v2"].serving is False
    assert by_name["api-server"].serving is None
    assert by_name["lightning-asr-v2"].model_version == "v2"
    assert snap.serving_url == "http://lightning-asr-internal:2269"
