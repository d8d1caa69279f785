"""The header's health line counts the serving pods; pre-warm Job pods are told apart."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from collectors.model import ClusterSnapshot, JobInfo, ModelState, NodeLost, PodInfo
from tests.tui.fakes import pod, progress, sample_snapshot
from tui.health import health

GiB = 1024**3
MiB = 1024**2


def _job_pod(name: str, state: ModelState, phase: str, job: str = "model-preload") -> PodInfo:
    p = pod(name, state, phase=phase, release=job)
    return dataclasses.replace(p, owner=f"Job/{job}")


def _snap(*pods: PodInfo, jobs: Sequence[JobInfo] = ()) -> ClusterSnapshot:
    return dataclasses.replace(sample_snapshot(), pods=tuple(pods), jobs=tuple(jobs))


def test_a_complete_job_is_not_an_unready_asr_pod() -> None:
    done = _job_pod("model-preload-x1", ModelState.DONE, "Succeeded")
    asr = [pod(f"lightning-asr-{i}", ModelState.READY, ready=True) for i in range(2)]
    h = health(_snap(done, *asr))
    assert (h.level, h.text) == ("ok", "2/2 ready")


def test_a_running_job_before_any_asr_pod() -> None:
    running = _job_pod("model-preload-x1", ModelState.DOWNLOADING, "Running")
    running = dataclasses.replace(running, progress=progress(GiB, 4 * GiB, 100 * MiB))
    h = health(_snap(running))
    assert (h.level, h.text) == ("busy", "no ASR pods · 1 pre-warm job running · download ETA 31s")
    asr = pod("lightning-asr-0", ModelState.WAITING)
    h = health(_snap(running, asr))
    assert h.text == "0/1 ready · 1 waiting · 1 pre-warm job running · download ETA 31s"
    assert h.level == "busy"


def test_job_trouble_is_still_attention() -> None:
    stalled = _job_pod("model-preload-x1", ModelState.STALLED, "Running")
    asr = pod("lightning-asr-0", ModelState.READY, ready=True)
    h = health(_snap(stalled, asr))
    assert (h.level, h.text) == ("bad", "1/1 ready · 1 pre-warm job stalled")
    failed = JobInfo("model-preload", "Job", "Failed", failed=3)
    gone = _job_pod("model-preload-x2", ModelState.FAILED, "Failed")
    h = health(_snap(gone, asr, jobs=[failed]))
    assert (h.level, h.text) == ("bad", "1/1 ready · 1 pre-warm job failed")


def test_preload_wget_seen_live(start) -> None:
    """The reviewer's scenario: the header during the pre-warm Job and after it."""
    world = start("preload-wget", speed=1 * MiB, selector="app=lightning-asr")
    world.watch()
    during = world.wait_snapshot(
        lambda s: (
            any(p.owner == "Job/model-preload" and p.phase == "Running" for p in s.pods)
            and not any(p.name.startswith("lightning-asr") for p in s.pods)
        ),
        30,
        "the Job running before any ASR pod",
    )
    text = health(during).text
    assert text.startswith("no ASR pods") and "1 pre-warm job running" in text, text
    after = world.wait_snapshot(
        lambda s: (
            any(j.kind == "Job" and j.state == "Complete" for j in s.jobs)
            and sum(1 for p in s.pods if p.name.startswith("lightning-asr") and p.ready) == 2
        ),
        60,
        "the Job complete and both ASR pods ready",
    )
    h = health(after)
    assert (h.level, h.text) == ("ok", "2/2 ready"), h


def test_downloads_say_when_the_last_one_should_end() -> None:
    def downloading(name: str, rate: float | None) -> PodInfo:
        p = pod(name, ModelState.DOWNLOADING)
        return dataclasses.replace(p, progress=progress(GiB, 4 * GiB, rate))

    one = downloading("lightning-asr-0", 10 * MiB)  # 3 GiB left: 307 s
    assert health(_snap(one)).text == "0/1 ready · 1 downloading · download ETA 5m07s"
    two = downloading("lightning-asr-1", 20 * MiB)  # 154 s
    waiting = pod("lightning-asr-2", ModelState.WAITING)
    h = health(_snap(one, two, waiting))
    assert h.text == "0/3 ready · 2 downloading · 1 waiting · downloads ETA 5m07s"
    # One whose ETA is not known makes "the last" a guess: none is said.
    unknown = downloading("lightning-asr-3", None)
    assert health(_snap(one, two, unknown)).text == "0/3 ready · 3 downloading"
    # A pre-warm Job's download is one the waiting pods wait for.
    job = dataclasses.replace(two, name="model-preload-x1", owner="Job/model-preload")
    h = health(_snap(job, waiting))
    assert h.text == "0/1 ready · 1 waiting · 1 pre-warm job running · download ETA 2m34s"


def test_a_pod_being_deleted_is_not_counted_and_one_on_a_lost_node_is_said_apart() -> None:

    ready = pod("lightning-asr-new", ModelState.READY, ready=True)
    going = dataclasses.replace(pod("lightning-asr-old", ModelState.FAILED), deleting=True)
    assert health(_snap(ready, going)).text == "1/1 ready"
    lost = NodeLost("node-2", None, "node node-2 is unreachable")
    ghost = dataclasses.replace(going, node_lost=lost)
    h = health(_snap(ready, ghost))
    assert (h.level, h.text) == ("busy", "1/1 ready · 1 Terminating on a lost node")
