"""Review findings from an on-call walkthrough of the demo, through the live feed on the
simulator: the cache listing of a partial download."""

from __future__ import annotations

from pathlib import Path

from collectors.logstream import PodLogStream
from collectors.model import DownloadPhase, ModelState
from tests.polling import wait_until

MiB = 1024**2
NS = "smallest"


def _claim_dir(world, claim: str = "models-aws-efs-pvc") -> Path:
    from simcluster.kubelet.registry import agents

    return Path(agents(world.cluster).volumes.pvc_path(NS, claim))


def test_the_downloaders_state_file_is_part_of_its_partial_not_a_model(start, start_feed):
    world = start("stalled-download", speed=1 * MiB)
    feed, rec = start_feed(world.cluster, stall_after=2.0, refresh=1)
    snap = rec.wait(
        lambda s: any(p.model_state is ModelState.STALLED for p in s.pods), 30, "stalled"
    )
    (pod,) = snap.pods
    claim = _claim_dir(world)
    (part,) = claim.rglob("model.bin.part")
    assert part.with_name("model.bin.part.json").exists(), "the downloader keeps its state"

    files = {f.name: f for f in feed.cache_files(pod.name)}
    partials = [n for n, f in files.items() if f.partial]
    assert [n for n in partials if n.endswith("model.bin.part")] == partials, files
    assert not [n for n in files if n.endswith(".part.json")], "folded into its partial"
    assert not [f for f in files.values() if not f.partial and f.verified is None], files

    part.unlink()  # the partial gone, its state file left behind: still not a model
    files = {f.name: f for f in wait_until(lambda: feed.cache_files(pod.name), 10, "a listing")}
    (state,) = [f for n, f in files.items() if n.endswith("model.bin.part.json")]
    assert state.partial and state.verified is None


class _Lines:
    """A ``SegmentSink`` that keeps (container, text) in the order they were read."""

    def __init__(self) -> None:
        self.read: list[tuple[str, str]] = []

    def log_segments(self, pod: str, container: str, items: list) -> None:
        self.read.extend((container, text) for _, _, text, _ in items)


def _read_once(feed, pod: str, last_seen=None) -> tuple[PodLogStream, list[tuple[str, str]]]:
    sink = _Lines()
    stream = PodLogStream(
        feed.cluster, pod, lambda: _pod_object(feed, pod), sink, follow=False, last_seen=last_seen
    )
    stream.start()
    stream.join(20)
    assert not stream.thread.is_alive()
    return stream, sink.read


def _pod_object(feed, pod: str):
    return feed.cluster.get_json(feed.cluster.core.read_namespaced_pod, pod, feed.cluster.namespace)


def test_a_new_log_stream_goes_on_where_the_last_one_stopped(start, start_feed):
    """s3-init: an init container's lines come first, once; a second stream for the pod (the
    detail opened after the pod went Ready) reads nothing again."""
    world = start("s3-init", speed=1 * MiB)
    feed, rec = start_feed(world.cluster, refresh=1)
    snap = rec.wait(
        lambda s: sum(p.model_state is ModelState.READY for p in s.pods) == 2, 30, "both ready"
    )
    pod = snap.pods[0].name
    first, lines = _read_once(feed, pod)
    containers = [c for c, _ in lines]
    assert containers[0] == "fetch-model" and containers[-1] == "lightning-asr", containers
    assert containers.index("lightning-asr") > max(
        i for i, c in enumerate(containers) if c == "fetch-model"
    )
    _, again = _read_once(feed, pod, last_seen=first.last_seen)
    assert again == [], "read again from the start"

    # The feed hands its marks to the stream it starts when the detail follows the pod.
    wait_until(
        lambda: [ln for ln in feed.recent_log(pod) if "Server ready" in ln.text], 10, "the log"
    )
    feed.follow_pod(pod)
    stream = wait_until(lambda: feed._streams.get(pod), 10, "a stream for the followed pod")
    wait_until(lambda: stream.connects >= 2 and stream.bytes_read > 0, 10, "the main log read")
    texts = [(ln.container, ln.text) for ln in feed.recent_log(pod)]
    assert sum(1 for _, t in texts if "Server ready" in t) == 1, texts
    assert texts[0][0] == "fetch-model", texts


def test_ready_pods_of_a_baked_image_all_show_their_verified_start(start, start_feed):
    """baked-image: pods Ready before their log was followed still have it read once, so each
    shows the same download state; opening one pod's detail is not needed."""
    world = start("baked-image")
    feed, rec = start_feed(world.cluster, refresh=1)
    snap = rec.wait(
        lambda s: (
            len(s.pods) == 2
            and all(
                p.model_state is ModelState.READY
                and p.progress is not None
                and p.progress.phase is DownloadPhase.DONE
                for p in s.pods
            )
        ),
        30,
        "both pods ready, each with its start read from its log",
    )
    assert {p.progress.source for p in snap.pods if p.progress} == {"lightning"}
    assert not feed._followed, "no pod was followed (no detail opened)"
    wait_until(lambda: not feed._one_shots, 10, "the one-time reads ended")


def test_a_closed_detail_gives_its_stream_back(start, start_feed):
    """A Ready pod is streamed while its detail is open, and no longer once it closes: the
    details a user opened must not keep streams the downloading pods need."""
    world = start("s3-init", speed=1 * MiB)
    feed, rec = start_feed(world.cluster, refresh=1)
    snap = rec.wait(
        lambda s: sum(p.model_state is ModelState.READY for p in s.pods) == 2, 30, "both ready"
    )
    pod = snap.pods[0].name
    wait_until(lambda: pod not in feed._streams, 10, "the ready pod's stream ended")
    feed.follow_pod(pod)
    stream = wait_until(lambda: feed._streams.get(pod), 10, "a stream for the followed pod")
    feed.unfollow_pod(pod)
    wait_until(lambda: pod not in feed._streams, 10, "the stream stopped after unfollow")
    wait_until(lambda: not stream.thread.is_alive(), 10, "the stream's thread ended")
    assert pod not in feed._followed
