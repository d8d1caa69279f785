"""The guide's storage strategies reach the state they promise, seen through the client."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime

from tests.polling import wait_until
from tests.scenarios.conftest import MODEL, NS, World
from tests.scenarios.proc_helpers import sha256_of

KiB = 1024


def events_of(log: bytes) -> list[dict]:
    out = []
    for line in log.splitlines():
        if line.startswith(b"{"):
            out.append(json.loads(line))
    return out


def test_efs_shared_downloads_once_and_a_fourth_pod_starts_fast(
    start: Callable[..., World],
) -> None:
    w = start("efs-shared", speed=512 * KiB)  # four workers: about 2 s for the one download
    wait_until(lambda: len(w.ready()) == 4, 30, "four ready lightning-asr pods (3, then scaled)")
    assert w.apps.read_namespaced_deployment("lightning-asr", NS).spec.replicas == 4
    pods = w.ready()
    logs = {p.metadata.name: w.log(p.metadata.name) for p in pods}
    done = {name: [e for e in events_of(log) if e["event"] == "done"] for name, log in logs.items()}
    fetched = [name for name, evs in done.items() if evs and not evs[-1]["cached"]]
    assert len(fetched) == 1, done  # exactly one pod downloaded
    waited = [name for name, log in logs.items() if b'"event": "wait"' in log]
    assert waited and fetched[0] not in waited  # the others waited on its lock
    assert all(b"INFO: Server ready on port 2269" in log for log in logs.values())
    # One copy crossed the wire, however many pods started.
    stats = w.stats("v1")
    assert MODEL <= stats.bytes_sent < MODEL + 64 * KiB
    # The fourth pod (scaled up by the scenario) started from the shared file.
    newest = max(pods, key=lambda p: p.metadata.creation_timestamp)
    assert b"Model found in cache: /app/models/v1/model.bin" in logs[newest.metadata.name]
    ready_at = next(c for c in newest.status.conditions if c.type == "Ready").last_transition_time
    assert (ready_at - newest.metadata.creation_timestamp).total_seconds() < 5
    # The shared volume holds the verified model; any pod sees the same file.
    out = w.exec(newest.metadata.name, "sha256sum", "/app/models/v1/model.bin")
    assert out.split()[0] == w.runtime.models["v1"].sha256
    pvc = w.core.read_namespaced_persistent_volume_claim("models-aws-efs-pvc", NS)
    assert pvc.spec.access_modes == ["ReadWriteMany"]
    assert pvc.spec.storage_class_name == "models-aws-efs-sc"
    env = {e.name: e.value for e in newest.spec.containers[0].env}
    assert env["MODEL_CHECKSUM"] == "sha256:" + w.runtime.models["v1"].sha256
    assert env["MODEL_URL"].endswith("/models/lightning-asr/v1/model.bin")
    assert newest.spec.containers[0].ports[0].container_port == 2269


def test_baked_image_starts_without_downloading(start: Callable[..., World]) -> None:
    w = start("baked-image")
    wait_until(lambda: len(w.ready()) == 2, 20, "two ready pods")
    for pod in w.ready():
        log = w.log(pod.metadata.name)
        assert b"INFO: Model found in cache: /app/models/v1/model.bin" in log
        assert b"Downloading" not in log
    assert w.stats("v1").requests == 0
    name = w.ready()[0].metadata.name
    assert w.exec(name, "ls", "/app/models/v1").split() == ["model.bin"]


def test_emptydir_pods_each_download_and_a_restarted_pod_downloads_again(
    start: Callable[..., World],
) -> None:
    w = start("emptydir", speed=2 * 1024 * KiB)
    first = {p.metadata.name for p in wait_until(lambda: w.pods() if len(w.pods()) == 2 else None)}
    wait_until(lambda: 0 in w.runtime.steps_done, 30, "the scenario to delete a pod")

    def replaced() -> list:
        ready = w.ready()
        return ready if len(ready) == 2 and {p.metadata.name for p in ready} != first else []

    pods = wait_until(replaced, 30, "a replacement pod that is ready")
    new = [p for p in pods if p.metadata.name not in first]
    assert len(new) == 1
    log = w.log(new[0].metadata.name)
    done = [e for e in events_of(log) if e["event"] == "done"]
    assert done and done[-1]["cached"] is False  # its emptyDir was empty: it downloaded
    assert w.stats("v1").bytes_sent >= 3 * MODEL  # two first copies and the replacement's
    out = w.exec(new[0].metadata.name, "sha256sum", "/app/models/model.bin")
    assert out.split()[0] == w.runtime.models["v1"].sha256
    killing = [e for e in w.core.list_namespaced_event(NS).items if e.reason == "Killing"]
    assert killing


def test_s3_init_container_logs_like_aws_s3_cp(start: Callable[..., World]) -> None:
    w = start("s3-init", model_size=3 * 1024 * KiB, speed=1024 * KiB)
    wait_until(lambda: len(w.ready()) == 2, 30, "two ready pods after their init containers")
    pod = w.ready()[0]
    assert [c.name for c in pod.spec.init_containers] == ["fetch-model"]
    raw = w.log(pod.metadata.name, container="fetch-model")
    assert raw.count(b"\n") == 1 and raw.endswith(b"\n")  # \r between updates, one newline
    *updates, final = raw.decode().split("\r")
    assert len(updates) >= 12  # one per 256 KiB of 3 MiB
    assert all(
        re.match(
            r"^Completed [\d.]+ (KiB|MiB)/3\.0 MiB \([\d.]+ \w+/s\) with 1 file\(s\) remaining *$",
            u,
        )
        for u in updates
    ), updates[:3]
    assert final.rstrip() == (
        "download: s3://smallest-models/lightning-asr/v1/model.bin to ../app/models/model.bin"
    )
    main = w.log(pod.metadata.name, container="lightning-asr")
    assert b"INFO: Model found in cache: /app/models/model.bin" in main
    stats = w.stats("v1")
    assert stats.head_requests == 2 and stats.statuses.get(200) == 4  # HEAD + GET per pod


def test_preload_wget_job_warms_the_volume_and_a_cronjob_repeats_it(
    start: Callable[..., World],
) -> None:
    w = start("preload-wget", speed=2 * 1024 * KiB)
    job = wait_until(
        lambda: (j := w.batch.read_namespaced_job("model-preload", NS)).status.succeeded and j,
        30,
        "the model-preload Job to succeed",
    )
    assert job.spec.template.spec.containers[0].command == [
        "sh",
        "-c",
        "wget -O /app/models/model.bin $MODEL_URL",
    ]
    job_pod = w.pods("app=model-preload")[0].metadata.name
    log = w.log(job_pod).decode()
    rows = [ln for ln in log.splitlines() if re.match(r"^ *\d+K \.", ln)]
    assert len(rows) == MODEL // (50 * KiB) + 1
    assert all(
        re.match(r"^ *\d+K( \.{1,10}){1,5} *\s+\d+% +[\d.]+[KMG ](=[\d.]+s| \d+s)$", r)
        for r in rows
    )
    assert f"'/app/models/model.bin' saved [{MODEL}/{MODEL}]" in log
    cron = w.batch.read_namespaced_cron_job("model-preload", NS)
    assert cron.spec.schedule == "0 */6 * * *"
    # The scenario scales lightning-asr up once the volume is warm; pods start from it.
    wait_until(lambda: len(w.ready()) == 2, 20, "lightning-asr scaled to 2 and ready")
    for pod in w.ready():
        assert b"Model found in cache: /app/models/model.bin" in w.log(pod.metadata.name)
    assert w.stats("v1").requests == 1  # only wget fetched it
    assert (
        sha256_of(w.claim_dir("models-aws-efs-pvc") / "model.bin") == w.runtime.models["v1"].sha256
    )


def test_blue_green_v2_downloads_beside_a_ready_v1(start: Callable[..., World]) -> None:
    w = start("blue-green", speed=1024 * KiB)
    wait_until(lambda: len(w.ready("app=lightning-asr")) == 2, 20, "v1 ready")
    v2 = wait_until(
        lambda: w.pods("app=lightning-asr-v2") if len(w.pods("app=lightning-asr-v2")) == 2 else None
    )
    start_events = wait_until(
        lambda: [e for p in v2 for e in events_of(w.log(p.metadata.name)) if e["event"] == "start"],
        10,
        "a v2 pod's downloader to start (the other waits on its lock)",
    )
    assert start_events[0]["version"] == "v2"
    wait_until(lambda: len(w.ready("app=lightning-asr-v2")) == 2, 30, "v2 ready after its download")
    for pod in w.ready("app=lightning-asr-v2"):
        assert b"/app/models/v2/model.bin" in w.log(pod.metadata.name)
    api = w.apps.read_namespaced_deployment("api-server", NS)
    env = {e.name: e.value for e in api.spec.template.spec.containers[0].env}
    assert env["LIGHTNING_ASR_BASE_URL"] == "http://lightning-asr:2269"
    assert w.stats("v1").requests == 0  # v1 was already on the volume
    assert w.stats("v2").bytes_sent >= MODEL
    root = w.claim_dir("models-aws-efs-pvc")
    assert sha256_of(root / "v1" / "model.bin") == w.runtime.models["v1"].sha256
    assert sha256_of(root / "v2" / "model.bin") == w.runtime.models["v2"].sha256
    assert isinstance(api.metadata.creation_timestamp, datetime)
