"""A crash-looping pod keeps its last run's verdict from one restart to the next.

Each scenario's pods fail every run the same way: a cached model that fails validation, a
memory limit too small to load it, a volume too small to hold it. The kubelet restarts them
again and again; each new run says nothing (or only what the last one said before failing)
for a while. Seen through the live feed, every snapshot after a pod's first failure shows
that failure, never "unknown" nor a new run passed off as healthy.
"""

from __future__ import annotations

import os

import pytest

from collectors.model import ClusterSnapshot, ModelState, PodInfo

RESTARTS_WATCHED = 2

CRASH_LOOPS = [
    pytest.param("corrupt-model", ModelState.CORRUPT, "checksum mismatch", id="corrupt-model"),
    pytest.param("oom-on-load", ModelState.FAILED, "OOMKilled", id="oom-on-load"),
    pytest.param(
        "disk-full",
        ModelState.FAILED,
        "no space left",
        id="disk-full",
        marks=[
            pytest.mark.root,
            pytest.mark.skipif(os.geteuid() != 0, reason="a full volume needs root (tmpfs PVCs)"),
        ],
    ),
]


def _servers(snap: ClusterSnapshot) -> list[PodInfo]:
    return [p for p in snap.pods if p.release == "lightning-asr" and not p.deleting]


@pytest.mark.parametrize(("scenario", "state", "cause"), CRASH_LOOPS)
def test_a_crash_loop_keeps_its_verdict_over_several_restarts(
    start, start_feed, scenario: str, state: ModelState, cause: str
) -> None:
    world = start(scenario)
    _feed, rec = start_feed(world.cluster, refresh=1)
    first = rec.wait(
        lambda s: bool(_servers(s)) and all(p.model_state is state for p in _servers(s)),
        30,
        f"every pod {state.value}",
    )
    if scenario == "disk-full" and not os.path.ismount(world.claim_dir("models-ebs-pvc")):
        pytest.skip("the simulator could not mount a tmpfs here (restricted container)")
    since = {p.name: p.restarts for p in _servers(first)}
    rec.wait(
        lambda s: all(p.restarts >= since[p.name] + RESTARTS_WATCHED for p in _servers(s)),
        60,
        f"{RESTARTS_WATCHED} more restarts of each pod",
    )
    failed_seen: set[str] = set()
    cause_seen: set[str] = set()
    shown: list[tuple[str, int, str, tuple[str, ...]]] = []
    lost: list[tuple[str, int, tuple[str, ...]]] = []
    for snap in list(rec.snapshots):
        for pod in _servers(snap):
            if pod.name in failed_seen or pod.model_state is state:
                failed_seen.add(pod.name)
                shown.append((pod.name, pod.restarts, pod.model_state.value, pod.evidence[:2]))
            # Once the log said why, every later snapshot says it too.
            said = any(cause.lower() in e.lower() for e in pod.evidence[:2])
            if said:
                cause_seen.add(pod.name)
            elif pod.name in cause_seen:
                lost.append((pod.name, pod.restarts, pod.evidence[:2]))
    off = [s for s in shown if s[2] != state.value]
    assert not off, f"after a first failure, snapshots showed: {off[:5]}"
    assert not lost, f"snapshots that lost the cause ({cause}): {lost[:5]}"
    assert failed_seen == cause_seen == set(since)
