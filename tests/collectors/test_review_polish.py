"""Review findings from an on-call walkthrough of the demo, through the live feed on the
simulator: the cache listing of a partial download."""

from __future__ import annotations

from pathlib import Path

from collectors.model import ModelState
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
