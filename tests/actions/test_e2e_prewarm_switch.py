"""Pre-warm a new version with a Job (and a CronJob); blue-green switch refused, done, undone."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from actions import registry
from collectors.model import ModelState
from tests.actions.test_e2e_corrupt import volume_dir
from tests.actions.world import NS, api_server, asr_deployment, pvc, ready_pods

SIZE = 4 * 2**20


def _v1_ready(world: Any, model: Any, replicas: int = 1) -> None:
    url = world.sim.model_server.url("/models/v1/model.bin")
    world.sim.apply(
        [
            pvc(),
            asr_deployment(
                "lightning-asr", url, "sha256:" + model.sha256, replicas=replicas, version="v1"
            ),
            api_server(),
        ]
    )
    world.wait_snapshot(lambda s: len(ready_pods(s, "lightning-asr")) == replicas, 30, "v1 ready")


def test_prewarm_job_downloads_a_new_version_that_verifies(world: Any, model: Any) -> None:
    _v1_ready(world, model)
    v2 = world.sim.model_server.add_file("/models/v2/model.bin", size=SIZE, seed=2)
    plan = world.plan(
        registry.PREWARM,
        "deployment/lightning-asr",
        version="v2",
        url=world.sim.model_server.url("/models/v2/model.bin"),
        checksum="sha256:" + v2.sha256,
        image="registry.local/asr-cache-download:test",
        schedule="0 8 * * *",
    )
    assert plan.runnable, plan.refused
    result = world.execute(plan, timeout=40)
    assert result.ok, result.message
    assert "completed" in result.message
    job_name = result.details["job"]
    assert job_name.startswith("model-preload-v2-")
    path = volume_dir(world) / "v2" / "model.bin"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == v2.sha256
    assert any("downloading" in line or "job" in line for line in world.progress)
    # The CronJob exists with the schedule asked for, mounting the same claim.
    cron = world.cluster.batch.read_namespaced_cron_job("model-preload-v2", NS)
    assert cron.spec.schedule == "0 8 * * *"
    vols = cron.spec.job_template.spec.template.spec.volumes
    assert vols[0].persistent_volume_claim.claim_name == "models-aws-efs-pvc"
    # The v1 file the running pod uses is untouched.
    assert hashlib.sha256((volume_dir(world) / "v1" / "model.bin").read_bytes()).hexdigest() == (
        model.sha256
    )
    assert world.events("AsrCacheTuiPrewarm")
    (line,) = world.audit_lines()
    assert line["action"] == "prewarm" and "REDACTED" not in line["plan"]["summary"]


def test_blue_green_switch_refused_while_v2_downloads_then_done_and_undone(
    world: Any, model: Any
) -> None:
    from simcluster.modelserver import Faults

    _v1_ready(world, model)
    v2 = world.sim.model_server.add_file("/models/v2/model.bin", size=SIZE, seed=3)
    # v2 downloads slowly enough to be caught downloading.
    world.sim.model_server.set_faults("/models/v2/model.bin", Faults(rate_limit=SIZE // 4))
    world.sim.apply(
        asr_deployment(
            "lightning-asr-v2",
            world.sim.model_server.url("/models/v2/model.bin"),
            "sha256:" + v2.sha256,
            version="v2",
        )
    )
    world.wait_snapshot(lambda s: any(p.release == "lightning-asr-v2" for p in s.pods), 10, "v2")
    plan = world.plan(registry.SWITCH, "lightning-asr-v2")
    assert not plan.runnable and "lightning-asr-v2" in (plan.refused or "")
    refused = world.execute(plan)
    assert not refused.ok and refused.details.get("refused")
    env = _base_url(world)
    assert env == "http://lightning-asr:2269", "nothing changed"

    world.wait_snapshot(lambda s: len(ready_pods(s, "lightning-asr-v2")) == 1, 30, "v2 ready")
    plan = world.plan(registry.SWITCH, "lightning-asr-v2")
    assert plan.runnable, plan.refused
    result = world.execute(plan, timeout=30)
    assert result.ok, result.message
    assert _base_url(world) == "http://lightning-asr-v2:2269"
    assert result.details["previous_url"] == "http://lightning-asr:2269"
    snap = world.snapshot()
    assert snap.serving_url in (None, "http://lightning-asr-v2:2269")

    back = world.plan(registry.SWITCH, None, back=True)
    assert back.runnable, back.refused
    result = world.execute(back, timeout=30)
    assert result.ok, result.message
    assert _base_url(world) == "http://lightning-asr:2269"
    assert [line["action"] for line in world.audit_lines()] == ["switch", "switch"]
    assert len(world.events("AsrCacheTuiSwitch")) == 2


def _base_url(world: Any) -> str:
    dep = world.cluster.apps.read_namespaced_deployment("api-server", NS)
    env = dep.spec.template.spec.containers[0].env
    return next(e.value for e in env if e.name == "LIGHTNING_ASR_BASE_URL")


def test_viewer_sees_every_action_forbidden_and_nothing_changes(
    sim: Any, model: Any, tmp_path: Path
) -> None:
    from tests.actions.world import World

    admin = World(sim, tmp_path / "admin")
    _v1_ready(admin, model)
    viewer = World(sim, tmp_path / "viewer", user="viewer")
    try:
        perms = viewer.service.permissions()
        assert set(perms) == {s.id for s in registry.SPECS}
        for action_id, why in perms.items():
            assert why and why.startswith("needs "), (action_id, why)
        assert "delete pods in smallest" in (perms[registry.RESTART_POD] or "")
        assert "patch deployments.apps in smallest" in (perms[registry.SWITCH] or "")
        pod = ready_pods(viewer.snapshot(), "lightning-asr")[0]
        for action_id in (registry.RESTART_POD, registry.PURGE, registry.VERIFY):
            result = viewer.execute(viewer.plan(action_id, pod))
            assert not result.ok and result.message.startswith("Forbidden: needs"), result.message
        assert ready_pods(viewer.snapshot(), "lightning-asr") == [pod]
        assert viewer.audit_lines() == []
        # The admin's view agrees: nothing is forbidden there.
        assert all(v is None for v in admin.service.permissions().values())
    finally:
        viewer.close()
        admin.close()
    assert ModelState.READY
