"""Every action's plan, from hand-built snapshots: what it targets, calls, runs, and refuses."""

from __future__ import annotations

import dataclasses
import json
import shlex

import pytest

from actions import registry
from actions.fix import (
    DISK_FULL,
    FS_SLACK,
    LOOK,
    choose_evictions,
    diagnose,
    missing_room,
    plan_fix,
    protected_paths,
)
from actions.grow_advice import claim_growth
from actions.options import (
    PREVIOUS_URL_ANNOTATION,
    ActionOptions,
    CacheEntry,
    CacheFacts,
    DeploymentFacts,
    PodFacts,
)
from actions.plan import BODY_LINE_CHARS, BODY_LINES, ActionPlan, ApiCall, ExecStep
from actions.prewarm import plan_prewarm
from actions.purge import plan_purge
from actions.restart import RESTARTED_AT, plan_restart
from actions.sightings import KEEP_SECONDS, CacheSightings
from actions.switch import plan_switch
from actions.verify import plan_verify
from collectors.model import (
    ClusterSnapshot,
    DownloadPhase,
    DownloadProgress,
    EventInfo,
    ModelSettings,
    ModelState,
    PodInfo,
    StartBlocker,
    VerificationResult,
    VolumeInfo,
)
from tests.actions.builders import (
    CHECKSUM,
    NS,
    api_server_object,
    deployment_object,
    pod,
    rollout,
    settings,
    snapshot,
    stalled,
)

OPTS = ActionOptions()


def execs(plan: ActionPlan) -> list[ExecStep]:
    return [s for s in plan.steps if isinstance(s, ExecStep)]


def calls(plan: ActionPlan, verb: str | None = None) -> list[ApiCall]:
    return [s for s in plan.steps if isinstance(s, ApiCall) and (verb is None or s.verb == verb)]


def pod_facts(name: str) -> PodFacts:
    return PodFacts(
        name=name,
        node="node-1",
        volume={"name": "models", "persistentVolumeClaim": {"claimName": "models-aws-efs-pvc"}},
        mounts=({"name": "models", "mountPath": "/app/models"},),
    )


# -- restart ---------------------------------------------------------------------------------


def test_restart_pod_deletes_it_and_follows() -> None:
    snap = snapshot(pod("asr-a"), pod("asr-b"))
    plan = plan_restart(snap, "asr-a", OPTS)
    assert plan.runnable and plan.action == registry.RESTART_POD
    delete = calls(plan, "delete")[0]
    assert (delete.resource, delete.name, delete.namespace) == ("pods", "asr-a", NS)
    assert delete.body == {"propagationPolicy": "Background"}
    assert calls(plan, "list"), "the plan follows the replacement"
    assert plan.affected_pods == ("asr-a",)
    assert "delete pods in smallest" in [p.describe() for p in plan.permissions]


def test_restart_refuses_a_pod_without_controller_and_unknown_pods() -> None:
    snap = snapshot(pod("bare", owner=None))
    assert "not managed by any controller" in (plan_restart(snap, "bare", OPTS).refused or "")
    assert "not in namespace" in (plan_restart(snap, "pod/ghost", OPTS).refused or "")
    for plan in (plan_restart(snap, None, OPTS), plan_verify(snap, None, OPTS)):
        assert plan.refused and plan.target == "no target", plan  # never "None" on screen
    assert "No target" in (plan_restart(snap, "", OPTS).refused or "")
    assert "not supported" in (plan_restart(snap, "node/x", OPTS).refused or "")


def test_restart_warns_that_an_emptydir_pod_downloads_again() -> None:
    snap = snapshot(pod("asr-a", kind="emptyDir"))
    plan = plan_restart(snap, "asr-a", OPTS)
    assert plan.runnable and any("from zero" in w for w in plan.warnings)


def test_rollout_restart_patches_the_annotation_as_kubectl_does() -> None:
    snap = snapshot(pod("asr-a"), pod("asr-b"))
    plan = plan_restart(snap, "deployment/lightning-asr", OPTS)
    assert plan.action == registry.ROLLOUT_RESTART and plan.runnable
    patch = calls(plan, "patch")[0]
    assert (patch.resource, patch.group, patch.name) == ("deployments", "apps", "lightning-asr")
    stamp = patch.body["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]  # type: ignore[index]
    assert stamp == "2023-11-14T22:13:20Z"
    assert set(plan.affected_pods) == {"asr-a", "asr-b"}
    # From a pod with --rollout: its Deployment.
    assert plan_restart(snap, "asr-a", ActionOptions(rollout=True)).target == (
        "deployment/lightning-asr"
    )


# -- verify ----------------------------------------------------------------------------------


def test_verify_tries_the_bundled_downloader_then_sha256sum() -> None:
    snap = snapshot(pod("asr-a", model=settings(version="v1")))
    plan = plan_verify(snap, "asr-a", OPTS)
    assert plan.runnable and not plan.destructive
    bundled, fallback = execs(plan)
    assert bundled.argv == (
        "asr-cache-download",
        "verify",
        "/app/models/v1/model.bin",
        "--checksum",
        CHECKSUM,
        "--progress",
        "json",
    )
    assert fallback.argv == ("sha256sum", "/app/models/v1/model.bin")
    assert bundled.pod == "asr-a" and bundled.container == "lightning-asr"


def test_verify_needs_a_checksum() -> None:
    snap = snapshot(pod("asr-a", model=settings(checksum=None)))
    assert "no MODEL_CHECKSUM" in (plan_verify(snap, "asr-a", OPTS).refused or "")
    snap = snapshot(pod("asr-a", model=settings(checksum="md5:abc")))
    assert "no MODEL_CHECKSUM" in (plan_verify(snap, "asr-a", OPTS).refused or "")


def test_verify_of_a_crashlooping_pod_uses_a_running_sibling_or_a_helper_pod() -> None:
    crashing = pod("asr-a", running=False, state=ModelState.CORRUPT)
    snap = snapshot(crashing, pod("asr-b"))
    plan = plan_verify(snap, "asr-a", OPTS)
    assert execs(plan)[0].pod == "asr-b" and "shares its volume" in plan.summary
    snap = snapshot(crashing, pod("asr-b", running=False, state=ModelState.CORRUPT))
    plan = plan_verify(snap, "asr-a", OPTS, pod_facts("asr-a"))
    create = calls(plan, "create")[0]
    helper = create.body
    assert helper is not None and create.name == execs(plan)[0].pod
    spec = helper["spec"]
    assert spec["nodeName"] == "node-1" and spec["activeDeadlineSeconds"] > 0
    assert spec["volumes"][0]["persistentVolumeClaim"]["claimName"] == "models-aws-efs-pvc"
    assert spec["containers"][0]["volumeMounts"] == [{"name": "models", "mountPath": "/app/models"}]
    assert calls(plan, "delete")[-1].name == create.name, "the helper is removed afterwards"
    assert "create pods in smallest" in [p.describe() for p in plan.permissions]
    # Without knowing the mounts, or on an emptyDir, nothing can reach the files.
    assert "unknown" in (plan_verify(snap, "asr-a", OPTS).refused or "")
    snap = snapshot(pod("asr-e", running=False, kind="emptyDir", state=ModelState.CORRUPT))
    assert "emptyDir" in (plan_verify(snap, "asr-e", OPTS).refused or "")


def test_a_crash_loop_caught_running_is_not_trusted_to_run_a_command() -> None:
    """Its container is gone again by the time the exec arrives: use a helper pod instead."""
    base = pod("asr-a", state=ModelState.CORRUPT, ready=False)
    container = dataclasses.replace(base.containers[0], restarts=3)
    flapping = dataclasses.replace(base, containers=(container,), restarts=3)
    snap = snapshot(flapping)
    plan = plan_verify(snap, "asr-a", OPTS, pod_facts("asr-a"))
    assert calls(plan, "create") and execs(plan)[0].pod != "asr-a"
    # A first run that is still downloading (no restarts yet) is a fine place to exec.
    downloading = pod("asr-b", state=ModelState.DOWNLOADING, ready=False)
    plan = plan_verify(snapshot(downloading), "asr-b", OPTS)
    assert execs(plan)[0].pod == "asr-b"
    # Downloading again after its last run failed: the loop's next crash is coming.
    again = dataclasses.replace(
        downloading,
        name="asr-a",
        containers=(container,),
        restarts=3,
        previous_run="previous run ended with: checksum mismatch (exit code 1 (Error))",
    )
    plan = plan_verify(snapshot(again), "asr-a", OPTS, pod_facts("asr-a"))
    assert calls(plan, "create") and execs(plan)[0].pod != "asr-a"


# -- purge -----------------------------------------------------------------------------------


def test_purge_names_the_path_the_volume_and_every_pod_sharing_it() -> None:
    other_version = pod("asr-v2", release="lightning-asr-v2", model=settings(version="v2"))
    snap = snapshot(pod("asr-a", state=ModelState.CORRUPT), pod("asr-b"), other_version)
    plan = plan_purge(snap, "asr-a", OPTS)
    assert plan.runnable and plan.destructive
    resolve, kinds, rm = execs(plan)
    files = (
        "/app/models/model.bin",
        "/app/models/model.bin.part",
        "/app/models/model.bin.part.json",
    )  # never the .lock: a holder's lock deleted lets a second downloader lock a new file
    assert resolve.argv == ("realpath", "-m", "/app/models", *files)
    assert kinds.argv == ("stat", "-c", "%n|%F", *files)
    assert rm.argv == ("rm", "-f", *files)
    # Pods on the same claim that load the same file restart; the v2 pod (other file) does not.
    assert [c.name for c in calls(plan, "delete")] == ["asr-a", "asr-b"]
    assert set(plan.affected_pods) == {"asr-a", "asr-b"}
    assert "models-aws-efs-pvc" in plan.summary and "/app/models/model.bin" in plan.summary
    assert any("asr-b" in w for w in plan.warnings), "serving pods are called out"
    text = plan.describe()
    assert "EXEC in asr-a/lightning-asr: rm -f /app/models/model.bin" in text


@pytest.mark.parametrize(
    ("path", "words"),
    [("", "empty"), ("/", "'/'"), ("../../etc", "'..'"), ("/etc/passwd", "outside")],
)
def test_purge_refuses_hostile_paths(path: str, words: str) -> None:
    snap = snapshot(pod("asr-a", state=ModelState.CORRUPT))
    plan = plan_purge(snap, "asr-a", ActionOptions(path=path))
    assert not plan.runnable and words in (plan.refused or "")
    assert not plan.steps


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (settings(cache_dir="/"), "'/'"),
        (settings(cache_dir="relative/dir"), "absolute"),
        (settings(cache_dir="/app/../etc"), "'..'"),
        (settings(version="../../etc"), "model version"),
        (settings(model_path="/etc/shadow"), "outside the cache directory"),
    ],
)
def test_purge_refuses_hostile_settings_from_the_cluster(model: ModelSettings, words: str) -> None:
    snap = snapshot(pod("asr-a", state=ModelState.CORRUPT, model=model))
    plan = plan_purge(snap, "asr-a", OPTS)
    assert not plan.runnable and words in (plan.refused or "")


def test_purge_argv_is_never_a_shell_string() -> None:
    hostile = settings(url="http://h/$(rm%20-rf%20~);x.bin")
    snap = snapshot(pod("asr-a", model=hostile))
    plan = plan_purge(snap, "asr-a", OPTS)
    for step in execs(plan):
        assert step.argv[0] in ("realpath", "stat", "rm")
        assert "sh" not in step.argv
    assert execs(plan)[2].argv[2] == "/app/models/$(rm -rf ~);x.bin"


def test_purge_of_a_stopped_emptydir_pod_is_deleting_the_pod() -> None:
    snap = snapshot(pod("asr-e", running=False, kind="emptyDir", state=ModelState.CORRUPT))
    plan = plan_purge(snap, "asr-e", OPTS)
    assert plan.runnable and not execs(plan)
    assert [c.name for c in calls(plan, "delete")] == ["asr-e"]


# -- fix -------------------------------------------------------------------------------------


def test_fix_restarts_a_resumable_stalled_download() -> None:
    snap = snapshot(pod("asr-a", state=ModelState.STALLED, progress=stalled()))
    d = diagnose(snap, snap.pods[0])
    assert d.kind == "stalled-resumable" and "40.0 MiB" in d.why
    plan = plan_fix(snap, "asr-a", OPTS)
    assert plan.action == registry.FIX and plan.decision == "stalled-resumable"
    assert [c.name for c in calls(plan, "delete")] == ["asr-a"] and not execs(plan)
    assert "Evidence:" in plan.summary
    assert "kept and resumed" in plan.summary


def refused_event(message: str) -> str:
    """The downloader's error line for a refused download (exit 4), as a pod logs it."""
    fields = {"v": 1, "event": "error", "file": "model.bin", "code": "http_refused", "exit": 4}
    return json.dumps({**fields, "message": message})


def test_fix_does_not_restart_a_pod_whose_url_is_refused() -> None:
    """A 403 on an expired presigned URL comes back after a restart: say what to change."""
    snap = snapshot(pod("asr-a", state=ModelState.FAILED))
    log = refused_event(
        "http://s3/m.bin?X-Amz-Signature=REDACTED refused the download: "
        "HTTP 403 Forbidden (the presigned URL has probably expired; sign a new one)"
    )
    plan = plan_fix(snap, "asr-a", OPTS, log=log)
    assert plan.decision == "url-refused"
    assert plan.refused is not None and "HTTP 403" in plan.refused
    assert "MODEL_URL" in plan.refused and not calls(plan, "delete")


def test_fix_of_an_untrusted_certificate_says_to_give_the_pod_its_ca() -> None:
    """The downloader refuses a certificate it cannot trust (exit 4): a restart changes nothing,
    and the advice is about trust, not about the URL's signature."""
    snap = snapshot(pod("asr-a", state=ModelState.FAILED))
    log = refused_event(
        "the TLS certificate of minio.internal:9000 is not trusted (self-signed certificate); "
        "if a private CA signs it, set SSL_CERT_FILE to that CA's bundle"
    )
    plan = plan_fix(snap, "asr-a", OPTS, log=log)
    assert plan.decision == "url-refused" and not calls(plan, "delete")
    assert plan.refused is not None
    assert "does not trust the model server's TLS certificate" in plan.refused
    assert "minio.internal:9000" in plan.refused and "SSL_CERT_FILE" in plan.refused
    assert "presigned" not in plan.refused


def test_fix_of_a_stall_on_an_emptydir_does_not_promise_a_resume() -> None:
    """An emptyDir goes with its pod: the restart starts from zero, and the plan says so."""
    snap = snapshot(pod("asr-a", state=ModelState.STALLED, progress=stalled(), kind="emptyDir"))
    plan = plan_fix(snap, "asr-a", OPTS)
    assert [c.name for c in calls(plan, "delete")] == ["asr-a"]
    assert "kept and resumed" not in plan.summary
    assert "emptyDir" in plan.summary and "downloads from zero" in plan.summary
    assert any("from zero" in w for w in plan.warnings)


def test_fix_is_not_fooled_by_a_port_number_that_looks_like_a_status() -> None:
    """A model server on port 41627 once made a resumable stall look like an HTTP 416."""
    snap = snapshot(pod("asr-a", state=ModelState.STALLED, progress=stalled()))
    log = '{"v": 1, "event": "start", "url": "http://127.0.0.1:41627/models/v1/model.bin"}'
    assert diagnose(snap, snap.pods[0], log).kind == "stalled-resumable"
    assert diagnose(snap, snap.pods[0], "no longer has bytes 0-9 (416)").kind == (
        "partial-unresumable"
    )


def test_fix_drops_a_partial_that_cannot_resume() -> None:
    p = pod(
        "asr-a",
        state=ModelState.STALLED,
        progress=stalled(message="retry 2/5: validator changed on the server"),
    )
    snap = snapshot(p)
    plan = plan_fix(snap, "asr-a", OPTS)
    assert plan.decision == "partial-unresumable" and plan.runnable
    rm = execs(plan)[-1]
    assert rm.argv == ("rm", "-f", "/app/models/model.bin.part", "/app/models/model.bin.part.json")
    assert calls(plan, "delete")[-1].name == "asr-a"


def test_fix_drops_the_partial_of_a_bare_pod_but_does_not_delete_the_pod() -> None:
    """Nothing would bring a pod without a ReplicaSet back: remove the partial, keep the pod."""
    p = pod(
        "asr-a",
        state=ModelState.STALLED,
        progress=stalled(message="retry 2/5: validator changed on the server"),
        owner=None,
    )
    plan = plan_fix(snapshot(p), "asr-a", OPTS)
    assert plan.decision == "partial-unresumable" and plan.runnable
    assert execs(plan)[-1].argv[0] == "rm"
    assert not calls(plan, "delete")
    assert any("not managed by any controller" in w for w in plan.warnings)


def test_fix_of_a_corrupt_model_is_a_purge() -> None:
    p = pod(
        "asr-a",
        state=ModelState.CORRUPT,
        evidence=("log: checksum mismatch (expected ab…, got cd…)",),
    )
    plan = plan_fix(snapshot(p), "asr-a", OPTS)
    assert plan.action == registry.FIX and plan.decision == "corrupt"
    assert execs(plan)[-1].argv[:3] == ("rm", "-f", "/app/models/model.bin")


def test_fix_lock_held_by_a_dead_pod_says_the_kernel_released_it() -> None:
    waiting = DownloadProgress(
        phase=DownloadPhase.WAITING, source="bundled", message="lock held by pid 7 on asr-gone"
    )
    snap = snapshot(pod("asr-a", state=ModelState.WAITING, progress=waiting))
    plan = plan_fix(snap, "asr-a", OPTS)
    assert plan.runnable and not plan.steps and plan.decision == "lock-released"
    assert "kernel released" in plan.summary
    alive = snapshot(
        pod(
            "asr-a",
            state=ModelState.WAITING,
            progress=dataclasses.replace(waiting, message="held by pid 7 on asr-b"),
        ),
        pod("asr-b", state=ModelState.DOWNLOADING),
    )
    assert "asr-b" in (plan_fix(alive, "asr-a", OPTS).refused or "")


def test_fix_refuses_when_nothing_is_wrong() -> None:
    snap = snapshot(pod("asr-a"))
    plan = plan_fix(snap, "asr-a", OPTS)
    assert not plan.runnable and plan.nothing_to_do
    assert plan.refusal == "Nothing to fix: Pod asr-a is ready.", plan.refusal
    assert "NOTHING TO FIX: Pod asr-a is ready." in plan.describe()
    assert "REFUSED" not in plan.describe()


def disk_full_snapshot() -> ClusterSnapshot:
    failing = pod(
        "asr-v2",
        release="lightning-asr-v2",
        running=True,
        state=ModelState.FAILED,
        model=settings(version="v2"),
        progress=DownloadProgress(
            phase=DownloadPhase.FAILED,
            source="bundled",
            bytes_done=10 * 2**20,
            bytes_total=100 * 2**20,
        ),
        evidence=("log: error disk_full: no space left on device",),
    )
    serving = pod("asr-v1", model=settings(version="v1"))
    events = (EventInfo("Pod", "asr-v2", "Warning", "BackOff", "Back-off restarting", 3, 0.0),)
    return snapshot(failing, serving, events=events)


def test_disk_full_evicts_least_recently_used_unused_versions_only() -> None:
    snap = disk_full_snapshot()
    assert diagnose(snap, snap.pods[0]).kind == DISK_FULL
    cache = CacheFacts(
        pod="asr-v1",
        root="/app/models",
        entries=(
            CacheEntry("v1/model.bin", 100 * 2**20, "v1", last_used=10.0),  # used by asr-v1
            CacheEntry("v0/model.bin", 60 * 2**20, "v0", last_used=5.0),
            CacheEntry("old/model.bin", 70 * 2**20, "old", last_used=1.0),
            CacheEntry("../../etc/passwd", 1, None, last_used=0.0),  # hostile: never
        ),
        available_bytes=20 * 2**20,
    )
    plan = plan_fix(snap, "asr-v2", OPTS, cache=cache)
    assert plan.decision == DISK_FULL and plan.runnable, plan.refused
    rm = execs(plan)[-1]
    # Needs 90 MiB - 20 MiB free = 70 MiB: the oldest unused (old, 70 MiB) is enough.
    assert rm.argv == (
        "rm",
        "-f",
        "/app/models/old/model.bin",
        "/app/models/old/model.bin.part",
        "/app/models/old/model.bin.part.json",
    )
    assert "v1/model.bin" not in " ".join(rm.argv)
    assert "old/model.bin (70.0 MiB, version old)" in plan.summary
    assert execs(plan)[0].pod == "asr-v2"


def test_eviction_never_touches_what_a_pod_uses() -> None:
    snap = disk_full_snapshot()
    keep = protected_paths(snap, snap.pods[0], "/app/models")
    assert {"v1/model.bin", "v2/model.bin", "v2/model.bin.part"} <= keep
    entries = (CacheEntry("v1/model.bin", 100, "v1", 0.0), CacheEntry("v2/model.bin", 1, "v2", 0.0))
    assert choose_evictions(entries, keep, None) == ((), 0)
    cache = CacheFacts(pod="asr-v1", root="/app/models", entries=entries, available_bytes=0)
    plan = plan_fix(snap, "asr-v2", OPTS, cache=cache)
    assert not plan.runnable and "every cached model is used" in (plan.refused or "")
    assert "grow PVC models-aws-efs-pvc" in (plan.refused or "")


def test_disk_full_without_a_listing_points_at_the_pvc() -> None:
    snap = disk_full_snapshot()
    plan = plan_fix(snap, "asr-v2", OPTS, cache=None)
    assert not plan.runnable and "is not known" in (plan.refused or "")


def test_disk_full_where_only_a_helper_could_see_the_cache_plans_a_look_first() -> None:
    words = "log: no space left for model.bin in /app/models/v2: 4.0 MiB more needed"
    lone = pod(
        "asr-v2",
        release="lightning-asr-v2",
        running=False,
        state=ModelState.FAILED,
        model=settings(version="v2"),
        evidence=(words,),
    )
    snap = snapshot(lone)
    look = plan_fix(snap, "asr-v2", OPTS, facts=pod_facts("asr-v2"), cache=None)
    assert look.decision == LOOK and look.looks_only and look.runnable, look.describe()
    assert not look.destructive and "only looks" in look.consequence
    assert [c.verb for c in calls(look)] == ["create", "get", "delete"]
    assert [e.argv[0] for e in execs(look)] == ["cat", "df"]
    assert all(e.pod.startswith("asr-cache-helper-") for e in execs(look))
    assert look.evidence == words
    # What the look saw: the eviction, from the same evidence.
    seen = CacheFacts(
        pod="asr-cache-helper-x",
        root="/app/models",
        entries=(CacheEntry("v0/model.bin", 10, "v0", 1.0),),
        available_bytes=0,
    )
    evict = plan_fix(snap, "asr-v2", OPTS, facts=pod_facts("asr-v2"), cache=seen)
    assert evict.decision == DISK_FULL and not evict.looks_only and evict.irreversible
    assert "/app/models/v0/model.bin" in execs(evict)[-1].argv


def test_a_look_is_kept_briefly_for_its_claim_and_forgotten_after_files_change() -> None:
    now = [1000.0]
    kept = CacheSightings(clock=lambda: now[0])
    facts = CacheFacts(pod="h", root="/app/models", read_at=1000.0)
    kept.put(NS, "claim-a", facts)
    assert kept.get(NS, "claim-a", "/app/models") == facts
    assert kept.get(NS, "claim-b", "/app/models") is None
    assert kept.get(NS, "claim-a", "/other") is None
    now[0] += KEEP_SECONDS + 1
    assert kept.get(NS, "claim-a", "/app/models") is None
    now[0] = 1000.0
    kept.forget(NS)
    assert kept.get(NS, "claim-a", "/app/models") is None


def test_disk_full_says_how_much_the_pvc_must_grow_in_the_downloaders_words() -> None:
    words = (
        "log: Download failed after 1 attempts (no space left for model.bin in /app/models: "
        "4.0 MiB more needed, 2.0 MiB free; the partial download is kept for a later resume)"
    )
    snap = snapshot(
        pod("asr-a", state=ModelState.FAILED, running=False, evidence=(words,)),
        volumes=(VolumeInfo("models-aws-efs-pvc", "pvc", requested_bytes=2 * 2**20),),
    )
    plan = plan_fix(snap, "asr-a", OPTS, cache=CacheFacts(pod="x", root="/app/models"))
    refused = plan.refused or ""
    assert plan.decision == DISK_FULL and not plan.runnable
    assert "4.0 MiB more needed" in refused, "the evidence is quoted as written"
    assert (
        "Or grow PVC models-aws-efs-pvc (requests 2.0 MiB) by at least 2.0 MiB (the download "
        "needs 4.0 MiB more, 2.0 MiB are free)." in refused
    )


def test_a_refused_disk_full_fix_gives_the_command_that_grows_the_claim() -> None:
    words = (
        "log: no space left for model.bin in /app/models: 4.0 MiB more needed, 2.0 MiB free; "
        "the partial download is kept for a later resume"
    )
    gp3 = VolumeInfo("models-ebs-pvc", "pvc", requested_bytes=2 * 2**20, storage_class="gp3")
    snap = snapshot(
        pod("asr-a", state=ModelState.FAILED, running=False, evidence=(words,)),
        volumes=(gp3,),
    )
    snap = dataclasses.replace(
        snap, pods=tuple(dataclasses.replace(p, cache_claim=gp3.name) for p in snap.pods)
    )
    facts = CacheFacts(pod="x", root="/app/models")
    plan = plan_fix(snap, "asr-a", OPTS, cache=facts, expands=True)
    assert not plan.runnable and plan.refused is not None
    assert plan.refused.endswith("The command below grows it to 1Gi."), plan.refused
    (command,) = plan.commands
    argv = shlex.split(command)
    assert argv[:6] == ["kubectl", "-n", NS, "patch", "pvc", "models-ebs-pvc"]
    assert json.loads(argv[7]) == {"spec": {"resources": {"requests": {"storage": "1Gi"}}}}
    # Not known whether the class allows it: the command, with that condition said.
    unknown = plan_fix(snap, "asr-a", OPTS, cache=facts, expands=None)
    assert "(its StorageClass must allow volume expansion)" in (unknown.refused or "")
    assert unknown.commands == plan.commands
    # A class that does not allow it: no command, and what to do instead.
    fixed = plan_fix(snap, "asr-a", OPTS, cache=facts, expands=False)
    assert not fixed.commands
    assert (fixed.refused or "").endswith(
        "Its StorageClass gp3 does not allow volume expansion: move the cache to a claim of at "
        "least 1Gi."
    )


def test_a_claim_grows_by_the_shortfall_or_to_hold_the_model_in_whole_gibibytes() -> None:
    gib = 2**30
    ebs = VolumeInfo("c", "pvc", requested_bytes=20 * gib, storage_class="gp3")
    by_words = claim_growth(NS, ebs, 3 * gib + 1, None, True)
    assert by_words is not None and by_words.size == "24Gi"  # 20 + 3 and a byte, rounded up
    to_hold = claim_growth(NS, ebs, None, int(23.3 * gib), True)
    assert to_hold is not None and to_hold.size == "24Gi"
    # Never a size the claim already has: growing must grow.
    assert (claim_growth(NS, ebs, None, 5 * gib, True) or to_hold).size == "21Gi"
    assert claim_growth(NS, ebs, None, None, True) is None, "nothing says how much"


def test_the_room_to_free_is_read_from_the_downloaders_words_rounded_up() -> None:
    mib = 2**20
    disk = "no space left for model.bin in /app/models: 4.0 MiB more needed, 2.0 MiB free; ..."
    # 4.0 may be 4.05 and 2.0 may be 1.95: 2.1 MiB at most, plus the file system's slack.
    half_digit = mib // 20
    assert missing_room(disk) == 2 * mib + 2 * half_digit + FS_SLACK
    cap = "model.bin (4.0 MiB) does not fit under the cache cap 14.0 MiB (12.0 MiB in use) and"
    assert missing_room(cap) == 2 * mib + 3 * half_digit + FS_SLACK
    assert missing_room("x: 25 GiB more needed, 512 B free") == 25 * 2**30 + 2**29 - 512 + FS_SLACK
    assert missing_room("the download failed after 5 attempts") is None


# -- pre-warm --------------------------------------------------------------------------------


def test_prewarm_of_a_model_ready_pods_already_load_says_so() -> None:
    snap = snapshot(
        pod("asr-a", model=settings(version="v1")),
        pod("asr-b", model=settings(version="v1"), state=ModelState.DOWNLOADING),
        pod("asr-c", model=settings(version="v1"), claim="another-pvc"),
        pod("asr-d", model=settings(version="v0")),
    )
    dep = DeploymentFacts.from_object(deployment_object())
    plan = plan_prewarm(snap, "lightning-asr", ActionOptions(image="img:1"), dep)
    assert plan.runnable
    assert plan.warnings == (
        "Version v1 is already on PVC models-aws-efs-pvc: Ready pods load it (asr-a). The Job "
        "will find it verified and end at once.",
    )


def test_prewarm_job_mounts_the_deployment_volume_with_its_model_env() -> None:
    snap = snapshot(pod("asr-a"))
    dep = DeploymentFacts.from_object(deployment_object())
    opts = ActionOptions(image="registry.local/asr-cache-download:1", version="v2")
    plan = plan_prewarm(snap, "lightning-asr", opts, dep)
    # It creates a Job that writes into the cache: it says so, and how to take it back.
    assert plan.runnable and plan.destructive and not plan.irreversible
    assert plan.warnings == ()  # v2 is new: nothing serves it yet
    create = calls(plan, "create")[0]
    job = create.body
    assert job is not None and create.resource == "jobs" and create.group == "batch"
    assert plan.way_back == (
        f"kubectl -n {snap.namespace} delete job/{create.name} "
        "(a model it wrote stays in the cache)"
    )
    assert job["metadata"]["name"].startswith("model-preload-v2-")
    assert len(job["metadata"]["name"]) <= 63
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.local/asr-cache-download:1"
    assert container["command"] == ["asr-cache-download"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MODEL_VERSION"] == "v2" and env["MODEL_DOWNLOAD_WORKERS"] == "4"
    assert env["MODEL_CACHE_DIR"] == "/app/models" and "HF_HOME" not in env
    assert container["volumeMounts"] == [{"name": "models", "mountPath": "/app/models"}]
    vol = job["spec"]["template"]["spec"]["volumes"][0]
    assert vol["persistentVolumeClaim"]["claimName"] == "models-aws-efs-pvc"
    assert calls(plan, "get")[0].name == job["metadata"]["name"]
    # The signed URL never shows in the plan text.
    assert "secret" not in plan.describe() and "REDACTED" in plan.describe()
    assert "secret" not in plan.summary


def test_a_shown_plan_prints_bodies_indented_bounded_and_redacted() -> None:
    url = "https://bucket.example/model.bin?X-Amz-Signature=secret"
    env = [{"name": f"K{i}", "value": "v"} for i in range(200)] + [{"name": "U", "value": url}]
    call = ApiCall("create", "jobs", "smallest", "j", "batch", body={"spec": {"env": env}})
    plan = ActionPlan("prewarm", "t", "deployment/x", "smallest", steps=(call,))
    shown = plan.describe().splitlines()
    assert shown[2] == "1. CREATE jobs/j (namespace smallest)"
    assert shown[3] == "body of step 1 (CREATE jobs):"
    assert shown[4:7] == ["     {", '       "spec": {', '         "env": [']
    assert shown[-1].startswith("     … ") and shown[-1].endswith(" more lines")
    assert len(shown) == 4 + BODY_LINES + 1
    long = ApiCall("patch", "deployments", "smallest", "d", body={"k": "x" * 500, "u": url})
    text = dataclasses.replace(plan, steps=(long,)).describe()
    assert "secret" not in text and "REDACTED" in text
    assert max(len(line) for line in text.splitlines()) <= BODY_LINE_CHARS + 5
    # The audit log keeps one line per step, the body compact on it.
    assert "\n" not in call.describe() and '{"spec":{"env":[' in call.describe()


def test_prewarm_with_a_schedule_adds_a_cronjob() -> None:
    snap = snapshot(pod("asr-a"))
    dep = DeploymentFacts.from_object(deployment_object())
    plan = plan_prewarm(snap, "asr-a", ActionOptions(schedule="0 8 * * *"), dep)
    cron = next(c for c in calls(plan, "create") if c.resource == "cronjobs")
    assert cron.body is not None and cron.body["spec"]["schedule"] == "0 8 * * *"
    assert cron.name == "model-preload-v1"
    assert "create cronjobs.batch in smallest" in [p.describe() for p in plan.permissions]
    bad = plan_prewarm(snap, "asr-a", ActionOptions(schedule="every morning"), dep)
    assert "5-field cron" in (bad.refused or "")


def test_prewarm_keeps_secret_references_and_refuses_what_it_cannot_share() -> None:
    snap = snapshot(pod("asr-a"))
    env = [{"name": "MODEL_URL", "valueFrom": {"secretKeyRef": {"name": "m", "key": "url"}}}]
    dep = DeploymentFacts.from_object(deployment_object(env=env))
    plan = plan_prewarm(snap, "lightning-asr", OPTS, dep)
    job = calls(plan, "create")[0].body
    assert job is not None
    assert job["spec"]["template"]["spec"]["containers"][0]["env"] == env
    empty = DeploymentFacts.from_object(
        deployment_object(volume={"name": "models", "emptyDir": {}})
    )
    assert "PersistentVolumeClaim" in (
        plan_prewarm(snap, "lightning-asr", OPTS, empty).refused or ""
    )
    baked = DeploymentFacts.from_object(deployment_object(mount_path="/data"))
    assert "baked image" in (plan_prewarm(snap, "lightning-asr", OPTS, baked).refused or "")
    none = DeploymentFacts.from_object(deployment_object(env=[]))
    assert "MODEL_URL" in (plan_prewarm(snap, "lightning-asr", OPTS, none).refused or "")
    assert "not in namespace" in (plan_prewarm(snap, "lightning-asr", OPTS, None).refused or "")
    hostile = plan_prewarm(snap, "lightning-asr", ActionOptions(version="../x"), dep)
    assert "model version" in (hostile.refused or "")


# -- switch ----------------------------------------------------------------------------------


def blue_green(v2_state: ModelState = ModelState.READY, v2_ready: int = 2) -> ClusterSnapshot:
    v1 = [pod(f"v1-{i}") for i in range(2)]
    v2 = [
        pod(f"v2-{i}", release="lightning-asr-v2", state=v2_state, model=settings(version="v2"))
        for i in range(2)
    ]
    return snapshot(
        *v1,
        *v2,
        rollouts=(rollout("lightning-asr"), rollout("lightning-asr-v2", 2, ready=v2_ready)),
    )


def test_switch_refuses_a_release_that_is_still_downloading() -> None:
    api = DeploymentFacts.from_object(api_server_object())
    plan = plan_switch(blue_green(ModelState.DOWNLOADING, 0), "lightning-asr-v2", OPTS, api)
    assert not plan.runnable and "still getting the model" in (plan.refused or "")
    plan = plan_switch(blue_green(ModelState.READY, 1), "lightning-asr-v2", OPTS, api)
    assert "1/2 pods Ready" in (plan.refused or "")


def test_switch_patches_the_env_by_name_and_records_the_way_back() -> None:
    api = DeploymentFacts.from_object(api_server_object())
    plan = plan_switch(blue_green(), "lightning-asr-v2", OPTS, api)
    assert plan.runnable, plan.refused
    patch = calls(plan, "patch")[0]
    assert patch.body == {
        "metadata": {"annotations": {PREVIOUS_URL_ANNOTATION: "http://lightning-asr:2269"}},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "api-server",
                            "env": [
                                {
                                    "name": "LIGHTNING_ASR_BASE_URL",
                                    "value": "http://lightning-asr-v2:2269",
                                }
                            ],
                        }
                    ]
                }
            }
        },
    }
    assert "switch --back" in plan.summary


def test_switch_needs_a_verified_model() -> None:
    api = DeploymentFacts.from_object(api_server_object())
    snap = blue_green()
    unchecked = dataclasses.replace(
        snap,
        pods=tuple(
            dataclasses.replace(p, model=dataclasses.replace(p.model, checksum=None))
            for p in snap.pods
        ),
    )
    assert "not verified" in (plan_switch(unchecked, "lightning-asr-v2", OPTS, api).refused or "")
    good = VerificationResult("/app/models/v2/model.bin", CHECKSUM, "ab" * 32, True, 1.0)
    verified = dataclasses.replace(
        unchecked,
        pods=tuple(
            dataclasses.replace(p, verification=good) if p.name == "v2-0" else p
            for p in unchecked.pods
        ),
    )
    assert plan_switch(verified, "lightning-asr-v2", OPTS, api).runnable
    bad = dataclasses.replace(good, ok=False)
    failed = dataclasses.replace(
        snap,
        pods=tuple(
            dataclasses.replace(p, verification=bad) if p.name == "v2-1" else p for p in snap.pods
        ),
    )
    assert "failed verification" in (
        plan_switch(failed, "lightning-asr-v2", OPTS, api).refused or ""
    )


def test_switch_back_uses_the_recorded_url() -> None:
    api = DeploymentFacts.from_object(
        api_server_object(
            "http://lightning-asr-v2:2269",
            annotations={PREVIOUS_URL_ANNOTATION: "http://lightning-asr:2269"},
        )
    )
    plan = plan_switch(blue_green(), None, ActionOptions(back=True), api)
    assert plan.runnable
    env = calls(plan, "patch")[0].body["spec"]["template"]["spec"]["containers"][0]["env"]  # type: ignore[index]
    assert env == [{"name": "LIGHTNING_ASR_BASE_URL", "value": "http://lightning-asr:2269"}]
    fresh = DeploymentFacts.from_object(api_server_object())
    assert "No previous URL" in (
        plan_switch(blue_green(), None, ActionOptions(back=True), fresh).refused or ""
    )


def test_switch_refusals_name_the_reason() -> None:
    snap = blue_green()
    already = DeploymentFacts.from_object(api_server_object("http://lightning-asr-v2:2269"))
    assert "already points" in (plan_switch(snap, "lightning-asr-v2", OPTS, already).refused or "")
    cm = DeploymentFacts.from_object(api_server_object(value_from=True))
    assert "ConfigMap or Secret" in (plan_switch(snap, "lightning-asr-v2", OPTS, cm).refused or "")
    assert "not in namespace" in (plan_switch(snap, "lightning-asr-v2", OPTS, None).refused or "")
    api = DeploymentFacts.from_object(api_server_object())
    assert "not in namespace" in (plan_switch(snap, "lightning-asr-v9", OPTS, api).refused or "")


# -- shared ----------------------------------------------------------------------------------


def test_every_registered_action_has_permissions_and_a_key() -> None:
    keys = [s.key for s in registry.SPECS]
    assert len(set(keys)) == len(keys)
    for spec in registry.SPECS:
        assert spec.permissions(NS), spec.id
    from tui import actions_port

    assert set(actions_port.ACTION_IDS) == {s.id for s in registry.SPECS}


def test_plans_serialise_to_json() -> None:
    from actions.audit import plan_record

    snap = snapshot(pod("asr-a", state=ModelState.CORRUPT))
    record = plan_record(plan_purge(snap, "asr-a", OPTS))
    assert json.loads(json.dumps(record))["steps"][0].startswith("EXEC in asr-a")


MULTI_ATTACH = 'Multi-Attach error for volume "pvc-1" Volume is already used by pod(s) asr-b'


def blocked(name: str, kind: str, cause: str, gist: str = "") -> PodInfo:
    return dataclasses.replace(
        pod(name, state=ModelState.BLOCKED, running=False, evidence=(cause,)),
        blocker=StartBlocker(kind=kind, cause=cause, gist=gist, settled=True),
    )


@pytest.mark.parametrize(
    ("kind", "cause", "words"),
    [
        ("image", "container lightning-asr: image x:typo cannot be pulled", "rollout undo"),
        ("config", 'container lightning-asr cannot be created: secret "t" not found', "Secret"),
        ("volume", f"volume cannot be attached: {MULTI_ATTACH}", "ReadWriteMany"),
        (
            "schedule",
            "not scheduled for 5 min: 0/3 nodes are available: pod has unbound immediate "
            "PersistentVolumeClaims.",
            "claim's events",
        ),
        ("schedule", "not scheduled for 5 min: 0/3 nodes are available: Insufficient cpu.", "add"),
    ],
)
def test_fix_of_a_pod_that_cannot_start_says_what_to_change(
    kind: str, cause: str, words: str
) -> None:
    plan = plan_fix(snapshot(blocked("asr-a", kind, cause)), "asr-a", OPTS)
    assert plan.decision == "cannot-start" and not plan.steps
    assert plan.refused is not None and words in plan.refused
    # The cause once (its own full stop kept, not doubled); the refusal says what to do.
    assert plan.summary == f"Evidence: {cause.removesuffix('.')}."


def test_fix_of_a_pod_evicted_over_its_emptydir_limit_says_the_replacement_fares_the_same() -> None:
    limit = 'Usage of EmptyDir volume "cache" exceeds the limit "1Gi". '
    evicted = dataclasses.replace(
        pod("asr-a", state=ModelState.FAILED, running=False, kind="emptyDir"),
        phase="Failed",
        status_reason="Evicted",
        status_message=limit,
    )
    plan = plan_fix(snapshot(evicted), "asr-a", OPTS)
    assert plan.decision == "evicted" and not plan.steps
    assert "evicted again" in (plan.refused or "") and "sizeLimit" in (plan.refused or "")
    on_pvc = dataclasses.replace(evicted, cache_kind="pvc", status_message="low on memory")
    assert "replacement" in (plan_fix(snapshot(on_pvc), "asr-a", OPTS).refused or "")


def test_switch_refuses_a_release_whose_pods_cannot_start() -> None:
    api = DeploymentFacts.from_object(api_server_object())
    snap = blue_green(ModelState.READY, 1)
    stuck = blocked("v2-1", "image", "image x:typo cannot be pulled", "cannot pull x:typo")
    pods = tuple(
        dataclasses.replace(stuck, release="lightning-asr-v2") if p.name == "v2-1" else p
        for p in snap.pods
    )
    refusal = plan_switch(dataclasses.replace(snap, pods=pods), "lightning-asr-v2", OPTS, api)
    assert "cannot start: v2-1 (cannot pull x:typo)" in (refusal.refused or "")


def test_fix_of_a_pending_pod_with_a_cause_says_it_and_that_it_may_pass() -> None:
    cause = "not scheduled for 20 s: 0/3 nodes are available: 3 Insufficient cpu."
    waiting = dataclasses.replace(
        pod("asr-a", state=ModelState.PENDING, running=False, evidence=(cause,)),
        blocker=StartBlocker(kind="schedule", cause=cause, settled=False),
    )
    refusal = plan_fix(snapshot(waiting), "asr-a", OPTS).refused or ""
    assert refusal.startswith("This may still pass by itself") and "add nodes" in refusal
