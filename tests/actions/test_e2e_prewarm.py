"""efs-shared -> pre-warm a new version with a Job (and a CronJob): it completes, the file
verifies, and the version the pods use is untouched."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from actions import registry
from tests.actions.conftest import MODEL
from tests.actions.world import CLAIM, NS, World, efs_shared

IMAGE = "registry.local/asr-cache-download:0.1.0"


def test_prewarm_job_on_a_new_version_completes_and_the_file_verifies(
    start: Callable[..., World],
) -> None:
    world, _pods = efs_shared(start, selector="")  # every pod, the Job's too
    # A new version is published next to v1 in the bucket.
    v2 = world.sim.model_server.add_file("/models/lightning-asr/v2/model.bin", MODEL, seed=2)
    plan = world.plan(
        registry.PREWARM,
        "deployment/lightning-asr",
        version="v2",
        url=world.sim.model_server.url(v2.path),
        checksum="sha256:" + v2.sha256,
        image=IMAGE,
        schedule="0 8 * * *",
    )
    assert plan.runnable, plan.refused
    assert CLAIM in plan.summary and IMAGE in plan.summary
    result = world.execute(plan)
    assert result.ok, result.message
    assert "completed" in result.message
    job_name = result.details["job"]
    assert job_name.startswith("model-preload-v2-")
    assert any(line.startswith(f"job {job_name}") for line in world.progress)
    # The Job ran the bundled downloader with the Deployment's own settings, on its claim.
    job = world.cluster.batch.read_namespaced_job(job_name, NS)
    assert job.status.succeeded == 1
    (container,) = job.spec.template.spec.containers
    env = {e.name: e.value for e in container.env}
    assert (container.image, container.command) == (IMAGE, ["asr-cache-download"])
    assert env["MODEL_VERSION"] == "v2" and env["MODEL_CHECKSUM"] == "sha256:" + v2.sha256
    assert env["MODEL_DOWNLOAD_WORKERS"] == "4" and env["MODEL_CACHE_DIR"] == "/app/models"
    assert job.spec.template.spec.volumes[0].persistent_volume_claim.claim_name == CLAIM
    # The file verifies: verify, run for the Job's pod, hashes it through a helper pod.
    (job_pod,) = result.details["pods"]
    check = world.plan(registry.VERIFY, job_pod)
    assert check.runnable and "/app/models/v2/model.bin" in check.summary, check.describe()
    verified = world.execute(check)
    assert verified.ok and verified.details["verification"]["actual"] == v2.sha256
    on_claim = world.claim_dir() / "v2" / "model.bin"
    assert hashlib.sha256(on_claim.read_bytes()).hexdigest() == v2.sha256
    # The CronJob exists with the schedule asked for, mounting the same claim.
    cron = world.cluster.batch.read_namespaced_cron_job("model-preload-v2", NS)
    assert cron.spec.schedule == "0 8 * * *"
    vols = cron.spec.job_template.spec.template.spec.volumes
    assert vols[0].persistent_volume_claim.claim_name == CLAIM
    # The v1 file the running pods use is untouched, and nothing re-downloaded it.
    v1 = world.claim_dir() / "v1" / "model.bin"
    assert hashlib.sha256(v1.read_bytes()).hexdigest() == world.model("v1").sha256
    assert world.stats("v1").bytes_sent < 2 * MODEL
    assert world.sim.model_server.stats(v2.path).bytes_sent < 2 * MODEL
    audit = world.audit_lines()
    assert [line["action"] for line in audit] == ["prewarm", "verify"]
    assert "REDACTED" not in audit[0]["plan"]["summary"]
    world.assert_recorded("verify", "AsrCacheTuiVerify", f"pod/{job_pod}")
    prewarm_events = world.events("AsrCacheTuiPrewarm")
    assert [e["involvedObject"]["name"] for e in prewarm_events] == ["lightning-asr"]
    assert audit[0]["event"] == prewarm_events[0]["metadata"]["name"]
