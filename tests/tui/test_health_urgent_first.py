"""The header's health: what is red comes first (a narrow header cuts from the end), no ETA a
probe or an eviction will never let come, and evicted pods counted apart from the replicas."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from collectors.model import (
    ClusterSnapshot,
    JobInfo,
    ModelState,
    NodeNotReady,
    PodInfo,
    ProbeDeadline,
    RolloutInfo,
)
from tests.actions.world import World
from tests.tui.fakes import GiB, MiB, pod, progress, sample_snapshot
from tui.health import health
from tui.widgets.header import HeaderFacts, header_text

CALM = ("downloading", "waiting", "pending", "pre-warm job running", "ETA", "↻")


def _snap(*pods: PodInfo, **changes: object) -> ClusterSnapshot:
    empty: dict[str, object] = {"volumes": (), "rollouts": (), "jobs": ()}
    return sample_snapshot(pods=tuple(pods), **{**empty, **changes})


def _downloading(name: str, rate: float = 10 * MiB, **changes: object) -> PodInfo:
    """3 GiB left: at 10 MiB/s, an ETA of 307 s."""
    p = pod(name, ModelState.DOWNLOADING, progress=progress(GiB, 4 * GiB, rate))
    return dataclasses.replace(p, **changes)  # type: ignore[arg-type]


def _doomed(name: str, left: float) -> PodInfo:
    p = _downloading(name, restarts=1, previous_run="killed by its liveness probe")
    deadline = ProbeDeadline("lightning-asr", "liveness", left, 307.0, "…")
    return dataclasses.replace(p, probe_deadline=deadline)


def _evicted(name: str) -> PodInfo:
    p = pod(name, ModelState.FAILED, phase="Failed", ready=False)
    return dataclasses.replace(p, status_reason="Evicted", status_message="emptyDir over limit")


def test_a_download_its_probe_kills_first_has_no_eta_and_the_kill_comes_first() -> None:
    h = health(_snap(_doomed("lightning-asr-a", left=2.0)))
    assert h.level == "bad"
    assert h.text == (
        "0/1 ready · 1 to be killed by a probe · 1 downloading · 1 ↻ after a failed run"
    ), h.text
    # At 80 columns the audit's header kept only the calm start; now the urgent part shows.
    facts = HeaderFacts("kind-asr", "smallest", "https://127.0.0.1:6443", h)
    assert header_text(facts, 80).plain.rstrip().endswith("0/1 ready · 1 to be killed by a probe …")


def test_the_eta_is_the_last_download_that_will_end_and_none_when_none_will() -> None:
    slow, fast = _downloading("lightning-asr-a"), _downloading("lightning-asr-b", 20 * MiB)
    assert health(_snap(slow, fast)).text.endswith("downloads ETA 5m07s")
    # The slow one is killed in 60 s, before its 307 s: the last that will end is the fast one.
    killed = dataclasses.replace(
        slow, probe_deadline=ProbeDeadline("lightning-asr", "liveness", 60.0, 307.0, "…")
    )
    assert health(_snap(killed, fast)).text.endswith("download ETA 2m34s")
    # A probe that allows more than the ETA ends nothing.
    late = dataclasses.replace(
        slow, probe_deadline=ProbeDeadline("lightning-asr", "liveness", 400.0, 307.0, "…")
    )
    assert health(_snap(late, fast)).text.endswith("downloads ETA 5m07s")
    # Its NotReady node evicts it in 90 s: no ETA of its own either.
    stranded = dataclasses.replace(
        slow, node_not_ready=NodeNotReady("node-2", None, "cni", 90.0, "…")
    )
    assert health(_snap(stranded, fast)).text.endswith("download ETA 2m34s")
    tolerated = dataclasses.replace(
        slow, node_not_ready=NodeNotReady("node-2", None, "cni", None, "…")
    )
    assert health(_snap(tolerated, fast)).text.endswith("downloads ETA 5m07s")
    # Every download in flight ends first: nothing rather than an ETA that never comes.
    assert "ETA" not in health(_snap(killed, stranded)).text


def test_every_red_part_comes_before_every_calm_one() -> None:
    failed_job = JobInfo("model-preload", "Job", "Failed", failed=3)
    stuck = RolloutInfo("lightning-asr", 3, 1, 2, 2, problem="FailedCreate: exceeded quota")
    unready = dataclasses.replace(
        pod("lightning-asr-u", ModelState.READY), unready_because="HTTP probe failed"
    )
    stranded = dataclasses.replace(
        pod("lightning-asr-n", ModelState.READY, ready=True),
        node_not_ready=NodeNotReady("node-2", None, "cni", None, "…"),
    )
    job_pod = dataclasses.replace(
        _downloading("model-preload-x1"), owner="Job/model-preload", name="model-preload-x1"
    )
    h = health(
        _snap(
            _downloading("lightning-asr-d"),
            pod("lightning-asr-w", ModelState.WAITING),
            pod("lightning-asr-p", ModelState.PENDING, phase="Pending"),
            pod("lightning-asr-s", ModelState.STALLED),
            pod("lightning-asr-c", ModelState.CORRUPT),
            pod("lightning-asr-b", ModelState.BLOCKED, phase="Pending"),
            _doomed("lightning-asr-k", 2.0),
            _evicted("lightning-asr-e"),
            unready,
            stranded,
            job_pod,
            jobs=(failed_job,),
            rollouts=(stuck,),
        )
    )
    parts = h.text.split(" · ")
    assert parts[0] == "1/9 ready", parts
    first_calm = min(i for i, part in enumerate(parts) if any(w in part for w in CALM))
    red = [
        "1 corrupt",
        "1 stalled",
        "1 blocked",
        "1 evicted",
        "1 to be killed by a probe",
        "1 failing readiness",
        "1 on a NotReady node",
        "1 pre-warm job failed",
        "1 rollout stuck",
    ]
    assert parts[1 : len(red) + 1] == red, parts
    assert first_calm == len(red) + 1, parts
    assert parts[-1] == "downloads ETA 5m07s", parts  # the pre-warm Job's and one pod's


def test_evicted_pods_are_no_replicas_and_are_counted_apart() -> None:
    gone = [_evicted(f"lightning-asr-e{i}") for i in range(3)]
    h = health(_snap(*gone, _downloading("lightning-asr-d")))
    assert h.level == "bad"
    assert h.text == "0/1 ready · 3 evicted · 1 downloading · download ETA 5m07s"
    ready = pod("lightning-asr-r", ModelState.READY, ready=True)
    assert health(_snap(*gone, ready)).text == "1/1 ready · 3 evicted"
    # Another end of a pod's phase (a node shut down) is said with its reason.
    shut = dataclasses.replace(gone[0], status_reason="Terminated")
    assert health(_snap(shut, ready)).text == "1/1 ready · 1 ended (Terminated)"
    assert health(_snap(*gone)).text == "none serving · 3 evicted"


def test_liveness_kills_download_on_the_simulator(start: Callable[..., World]) -> None:
    """The audit's scenario: between kills the header says the kill, first, and no ETA."""
    world = start("liveness-kills-download", speed=640 * 1024)
    world.watch()
    snap = world.wait_snapshot(
        lambda s: any(p.probe_deadline is not None for p in s.pods),
        40,
        "a run the liveness probe will end",
    )
    doomed = next(p for p in snap.pods if p.probe_deadline is not None)
    assert doomed.progress is not None and doomed.progress.in_flight
    text = health(snap).text
    assert "ETA" not in text, text
    parts = text.split(" · ")
    assert parts[1] == "1 to be killed by a probe", parts


def test_emptydir_evicted_on_the_simulator(start: Callable[..., World]) -> None:
    """The audit's scenario: the Deployment wants 1; its evicted pods are not replicas."""
    world = start("emptydir-evicted", model_size=4 * MiB, speed=512 * 1024)
    world.watch()
    snap = world.wait_snapshot(
        lambda s: (
            any(p.evicted for p in s.pods)
            and any(p.phase in ("Pending", "Running") for p in s.pods)
        ),
        40,
        "a pod evicted and its replacement",
    )
    evicted = sum(1 for p in snap.pods if p.evicted)
    text = health(snap).text
    assert text.startswith(f"0/1 ready · {evicted} evicted"), text
