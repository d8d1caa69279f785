"""Fix, from evidence: a stalled download resumes from its partial; a full disk is cleaned by
evicting an unused version, never the one a running pod uses."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from actions import registry
from collectors.model import ModelState
from tests.actions.test_e2e_corrupt import volume_dir
from tests.actions.world import World, asr_deployment, pvc, ready_pods

SIZE = 4 * 2**20


def test_stalled_download_is_fixed_by_a_restart_that_resumes(sim: Any, tmp_path: Path) -> None:
    from simcluster.modelserver import Faults

    world = World(sim, tmp_path, stall_after=1.5)
    try:
        f = sim.model_server.add_file("/models/v1/model.bin", size=SIZE, seed=7)
        # The first connection stops sending at 40%; a new one is served in full.
        sim.model_server.set_faults(
            "/models/v1/model.bin", Faults(stall_after=int(SIZE * 0.4), stall_requests=1)
        )
        world.watch()
        sim.apply(
            [
                pvc(),
                asr_deployment(
                    "lightning-asr",
                    sim.model_server.url("/models/v1/model.bin"),
                    "sha256:" + f.sha256,
                ),
            ]
        )
        snap = world.wait_snapshot(
            lambda s: any(p.model_state == ModelState.STALLED for p in s.pods), 30, "stalled"
        )
        stuck = next(p for p in snap.pods if p.model_state == ModelState.STALLED)
        plan = world.service.plan(registry.FIX, snap, stuck.name, _opts())
        assert plan.runnable and plan.decision == "stalled-resumable", plan.describe()
        result = world.execute(plan, timeout=30)
        assert result.ok, result.message
        assert result.details["decision"] == "stalled-resumable"
        stats = sim.model_server.stats("/models/v1/model.bin")
        # Resumed from the partial: the server sent about one file in all, not 1.4 files.
        assert stats.bytes_sent < SIZE * 1.2, stats
        assert stats.range_requests >= 1 and stats.statuses.get(206, 0) >= 1, stats
        on_disk = volume_dir(world) / "model.bin"
        assert hashlib.sha256(on_disk.read_bytes()).hexdigest() == f.sha256
        (line,) = world.audit_lines()
        assert line["action"] == "fix" and line["plan"]["decision"] == "stalled-resumable"
        assert world.events("AsrCacheTuiFix")
    finally:
        world.close()


def _opts(**kw: Any) -> Any:
    from actions.options import ActionOptions

    return ActionOptions(**kw)


def _manifest_entry(path: str, size: int, version: str, last_used: str) -> dict[str, Any]:
    return {
        "path": path,
        "size": size,
        "sha256": None,
        "version": version,
        "source": None,
        "last_used": last_used,
    }


def test_disk_full_evicts_an_unused_version_and_the_download_finishes(
    sim: Any, tmp_path: Path
) -> None:
    """v1 serves from the volume; an old unused v0 fills it; v2 cannot fit until v0 goes."""
    world = World(sim, tmp_path)
    try:
        v1 = sim.model_server.add_file("/models/v1/model.bin", size=SIZE, seed=1)
        v2 = sim.model_server.add_file("/models/v2/model.bin", size=SIZE, seed=2)
        sim.apply(
            [
                pvc(),
                asr_deployment(
                    "lightning-asr",
                    sim.model_server.url("/models/v1/model.bin"),
                    "sha256:" + v1.sha256,
                    version="v1",
                ),
            ]
        )
        world.wait_snapshot(lambda s: len(ready_pods(s, "lightning-asr")) == 1, 30, "v1 ready")
        vol = volume_dir(world)
        (vol / "v0").mkdir()
        (vol / "v0" / "model.bin").write_bytes(b"\1" * (6 * 2**20))
        manifest = vol / ".asr-cache-manifest.json"
        doc = json.loads(manifest.read_text())
        doc["entries"].append(
            _manifest_entry("v0/model.bin", 6 * 2**20, "v0", "2020-01-01T00:00:00Z")
        )
        manifest.write_text(json.dumps(doc))
        # The cap leaves no room for v2 next to v1 and v0: the download fails as full.
        sim.apply(
            asr_deployment(
                "lightning-asr-v2",
                sim.model_server.url("/models/v2/model.bin"),
                "sha256:" + v2.sha256,
                version="v2",
                extra_env={"MODEL_CACHE_MAX_SIZE": "12MiB", "MODEL_CACHE_EVICTION": "none"},
            )
        )
        snap = world.wait_snapshot(
            lambda s: any(
                p.release == "lightning-asr-v2"
                and p.model_state in (ModelState.FAILED, ModelState.CORRUPT)
                for p in s.pods
            ),
            30,
            "v2 failing for space",
        )
        failing = next(p for p in snap.pods if p.release == "lightning-asr-v2")
        plan = world.service.plan(registry.FIX, snap, failing.name, _opts())
        assert plan.decision == "disk-full", plan.describe()
        assert plan.runnable, plan.describe()
        rm = next(s for s in plan.steps if getattr(s, "argv", ("",))[0] == "rm")
        assert "/app/models/v0/model.bin" in rm.argv
        assert not any("v1/" in a for a in rm.argv), "never the model a running pod uses"
        result = world.execute(plan, timeout=30)
        assert result.ok, result.message
        assert not (vol / "v0" / "model.bin").exists()
        assert hashlib.sha256((vol / "v1" / "model.bin").read_bytes()).hexdigest() == v1.sha256
        world.wait_snapshot(lambda s: len(ready_pods(s, "lightning-asr-v2")) == 1, 30, "v2 ready")
        assert hashlib.sha256((vol / "v2" / "model.bin").read_bytes()).hexdigest() == v2.sha256
        assert ready_pods(world.snapshot(), "lightning-asr"), "v1 kept serving"
    finally:
        world.close()
