"""The live feed against the simulated cluster: real API server, kubelet, model server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from collectors.model import ModelState
from simcluster.kubelet.programs.standins import standin_commands
from simcluster.modelserver import Faults
from tests.collectors.conftest import feed_threads
from tests.collectors.setups import MiB, asr_deployment, job, pvc
from tests.polling import wait_until


@pytest.fixture
def tools() -> Iterator[None]:
    """The wget stand-in the scenarios use (a bare cluster has none)."""
    with standin_commands():
        yield


def test_volume_usage_from_kubelet_stats_one_request_per_node(make_sim, start_feed) -> None:
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

    def settled() -> tuple[int, float] | None:
        """The stats/summary requests the API client made, when they equal the ones the
        poller asked for. The poller counts a request just before the client does, so the
        two agree only between polls: a reading in the middle of one is not a mismatch."""
        made = feed.cluster.counters.requests("get", "nodes/proxy")
        asked = feed.poller.summary_requests
        return (made, time.monotonic()) if made == asked else None

    before, since = wait_until(settled, 5, "the client's count to match the poller's")
    time.sleep(2.0)
    after, until = wait_until(settled, 5, "the client's count to match the poller's")
    # One stats/summary per node (one node here) per refresh interval, never more.
    made = after - before
    assert 1 <= made <= (until - since) / 0.5 + 1

    # On demand (the detail view): the cache files and df of one pod's cache mount.
    pod = snap.pods[0].name
    files = {f.name: f for f in feed.cache_files(pod)}
    model = files["model.bin"]
    assert model.size == 2 * MiB and not model.partial and model.verified is True
    assert not any(name.endswith(".lock") for name in files)
    usage = feed.disk_usage(pod)
    assert usage.source == "df" and usage.capacity_bytes == 1024**3
    assert (usage.used_bytes or 0) >= 2 * MiB and "df in pod" in (usage.note or "")


def test_nothing_changing_means_no_more_lists(make_sim, start_feed) -> None:
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


def test_api_lost_mid_watch_leaves_a_stale_snapshot_then_recovers(make_sim, start_feed) -> None:
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
    # Stopping the server closes its open connections: the first failure is a refused connect
    # or a request cut off on a kept-alive connection, and either says the server is gone.
    assert stale.error and (
        "cannot reach the API server" in stale.error
        or "lost the connection to the API server" in stale.error
    )
    assert stale.trouble == "unreachable"
    assert len(stale.pods) == 1 and stale.pods[0].model_state is ModelState.READY

    sim.run(sim.start_api())
    fresh = rec.wait(lambda s: not s.stale, 20, "recovery")
    assert fresh.error is None and fresh.trouble is None and len(fresh.pods) == 1
    # Resumed from the last resourceVersion (or relisted once per kind after a 410).
    assert feed.cluster.counters.requests("list") - lists_before <= 7

    # A 503 outage too: open watches are dropped, and reconnecting gets 503s for a while.
    sim.set_api_outage(2.0, status=503)
    sim.drop_watches()
    outage = rec.wait(lambda s: s.stale, 10, "stale during the 503 outage")
    assert "503" in (outage.error or "")
    assert outage.trouble == "failing (503)"
    rec.wait(lambda s: not s.stale, 20, "recovery after the outage")

    # Throttled (429, Retry-After: 1) for longer than the client's own three retries: the
    # banner must say the API throttles us, not that it is gone.
    sim.set_api_outage(6.0, status=429)
    sim.drop_watches()
    throttled = rec.wait(lambda s: s.stale, 15, "stale while throttled")
    assert throttled.trouble == "throttling us (429)", throttled.error
    assert "429" in (throttled.error or "")
    rec.wait(lambda s: not s.stale, 20, "recovery after the throttle")

    feed.stop()
    assert feed.threads() == []
    assert feed_threads() == []


def test_log_stream_reconnects_without_gaps_or_duplicates(make_sim, start_feed, tools) -> None:
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=600 * 1024, seed=25)
    sim.model_server.set_faults(f.path, Faults(rate_limit=200 * 1024))
    url = sim.model_server.url(f.path)
    sim.apply(
        [job("model-preload", ["wget", "-O", "/app/models/model.bin", url], {"MODEL_URL": url})]
    )
    feed, rec = start_feed(sim, refresh=1)
    rec.wait(
        lambda s: any(j.progress and (j.progress.bytes_done or 0) >= 100 * 1024 for j in s.jobs),
        15,
        "the download under way",
    )
    sim.run(sim.stop_api())
    time.sleep(1.0)  # wget keeps writing while the API is gone
    sim.run(sim.start_api())
    done = rec.wait(lambda s: bool(s.jobs) and s.jobs[0].state == "Complete", 20, "Complete")
    pod = done.jobs[0].pods[0]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(
        "saved [" in line.text for line in rec.lines.get(pod, [])
    ):
        time.sleep(0.1)
    offsets = [
        int(line.text.split("K", 1)[0])
        for line in rec.lines[pod]
        if line.text.lstrip()[:1].isdigit() and "K ." in line.text
    ]
    assert offsets == list(range(0, 600, 50))  # every dot row once, in order
    assert feed.cluster.counters.requests("get", "pods/log") >= 2  # it did reconnect
