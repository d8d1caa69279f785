"""The pod detail's cache listing and df when the pod's own container is not running: read in
a running pod that mounts the same claim at the same path, else said in words."""

from __future__ import annotations

import pytest

from collectors import execs
from collectors.model import ModelState
from tests.collectors.setups import MiB, asr_deployment, job, pvc


def test_a_stopped_pod_has_its_cache_read_in_a_running_one_on_the_same_claim(
    make_sim, start_feed
) -> None:
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=1 * MiB, seed=7)
    sim.apply(
        [
            pvc(name="models-pvc", sc="standard", size="1Gi"),
            asr_deployment(sim.model_server.url(f.path), f.sha256, replicas=1, claim="models-pvc"),
            job("crashed", ["sh", "-c", "exit 3"], claim="models-pvc"),
        ]
    )
    feed, rec = start_feed(sim, refresh=1)
    snap = rec.wait(
        lambda s: (
            any(p.model_state is ModelState.READY for p in s.pods)
            and any(p.phase == "Failed" and p.cache_claim == "models-pvc" for p in s.pods)
        ),
        30,
        "a ready pod and the failed Job pod on the same claim",
    )
    stopped = next(p.name for p in snap.pods if p.phase == "Failed")
    files = {f.name: f for f in feed.cache_files(stopped)}
    assert files["model.bin"].size == 1 * MiB
    usage = feed.disk_usage(stopped)
    assert usage.source == "df" and (usage.used_bytes or 0) >= 1 * MiB


def test_no_running_container_on_the_claim_is_said_in_words(start, start_feed) -> None:
    world = start("corrupt-model", speed=1 * MiB)
    feed, rec = start_feed(world.cluster, refresh=1)
    snap = rec.wait(
        lambda s: (
            len(s.pods) == 2
            and all(p.model_state is ModelState.CORRUPT for p in s.pods)
            and not any(c.state == "running" for p in s.pods for c in p.containers)
        ),
        30,
        "both pods crash-looping on the corrupt model, neither container up",
    )
    pod = snap.pods[0]
    with pytest.raises(execs.ExecError, match="no running container sees claim") as caught:
        feed.cache_files(pod.name)
    assert "400" not in str(caught.value)
