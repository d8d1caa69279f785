"""Downloads by other tools, seen through their logs: an ``aws s3 cp`` init container, a
``wget`` pre-warm Job, and a server whose model fails its checksum and crash-loops."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from collectors.model import DownloadPhase, ModelState
from simcluster.kubelet.programs.standins import standin_commands
from simcluster.modelserver import Faults
from tests.collectors.setups import NS, MiB, asr_deployment, job, pvc


@pytest.fixture(autouse=True)
def tools() -> Iterator[None]:
    """The wget and aws stand-ins the scenarios use (a bare cluster has neither)."""
    with standin_commands():
        yield


def test_s3_init_container_progress_then_ready(make_sim, start_feed) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=4 * MiB, seed=21)
    sim.model_server.set_faults(f.path, Faults(rate_limit=1 * MiB))
    base = sim.model_server.url("/").rstrip("/")
    dep = asr_deployment("", f.sha256, replicas=1, claim=None)
    spec = dep["spec"]["template"]["spec"]
    spec["containers"][0]["env"] = [
        e for e in spec["containers"][0]["env"] if e["name"] != "MODEL_URL"
    ]
    spec["initContainers"] = [
        {
            "name": "s3-init",
            "image": "amazon/aws-cli:2",
            "command": ["aws", "s3", "cp", "s3://models/v1/model.bin", "/app/models/model.bin"],
            "env": [{"name": "AWS_ENDPOINT_URL", "value": base}],
            "volumeMounts": [{"name": "models", "mountPath": "/app/models"}],
        }
    ]
    sim.apply([dep])
    feed, rec = start_feed(sim, refresh=1, disk_check_interval=0.5)
    # aws writes bare \r updates: the kubelet keeps them until 16 KiB or a newline, so while
    # it runs the partial file on disk is the evidence.
    snap = rec.wait(
        lambda s: any(
            p.model_state is ModelState.DOWNLOADING and p.progress and p.progress.source == "disk"
            for p in s.pods
        ),
        20,
        "download seen on disk",
    )
    (pod,) = snap.pods
    assert pod.phase == "Pending" and pod.cache_kind == "emptyDir"
    assert pod.evidence[0].startswith("disk: /app/models/model.bin.")
    assert "growing" in pod.evidence[0]
    # When the init container ends, its whole output arrives; \r updates replace each other
    # as on a terminal, where the final "download:" line overwrites the last "Completed".
    rec.wait(
        lambda s: any(p.progress and p.progress.source == "aws" for p in s.pods),
        20,
        "aws output",
    )
    lines = [line for line in feed.recent_log(pod.name) if line.container == "s3-init"]
    assert sum(1 for line in lines if line.text.startswith("Completed")) <= 1
    assert lines[-1].text.startswith("download: s3://models/v1/model.bin")
    assert len(lines) <= 3
    pod_log = rec.lines[pod.name]
    assert not any(line.text.startswith("Completed") for line in pod_log[-2:])
    done = rec.wait(lambda s: bool(s.pods) and s.pods[0].ready, 30, "ready after the init")
    assert done.pods[0].model_state is ModelState.READY
    # The emptyDir cache is reported per pod, from the kubelet's stats.
    emptydir = rec.wait(
        lambda s: any(v.kind == "emptyDir" and v.usage for v in s.volumes), 10, "emptyDir usage"
    )
    (vol,) = [v for v in emptydir.volumes if v.kind == "emptyDir"]
    assert vol.name == f"{pod.name}/models" and vol.usage is not None
    assert vol.usage.source == "kubelet" and (vol.usage.used_bytes or 0) >= 4 * MiB


def test_wget_prewarm_job_progress_and_completion(make_sim, start_feed) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=3 * MiB, seed=22)
    sim.model_server.set_faults(f.path, Faults(rate_limit=1 * MiB))
    url = sim.model_server.url(f.path)
    sim.apply(
        [
            pvc(sc="standard"),
            job(
                "model-preload",
                ["wget", "-O", "/app/models/model.bin", url],
                {"MODEL_URL": url},
                claim="models-aws-efs-pvc",
            ),
        ]
    )
    _feed, rec = start_feed(sim, refresh=1)
    running = rec.wait(
        lambda s: any(
            j.progress and j.progress.source == "wget" and (j.progress.bytes_done or 0) > 0
            for j in s.jobs
        ),
        20,
        "wget progress on the Job",
    )
    (j,) = running.jobs
    assert j.kind == "Job" and j.state == "Running" and len(j.pods) == 1
    assert j.progress is not None and j.progress.bytes_total == 3 * MiB
    pod = running.pod(j.pods[0])
    assert pod is not None and pod.model_state is ModelState.DOWNLOADING
    done = rec.wait(lambda s: bool(s.jobs) and s.jobs[0].state == "Complete", 20, "Complete")
    (j,) = done.jobs
    assert j.succeeded == 1
    assert j.progress is not None and j.progress.phase is DownloadPhase.DONE
    assert done.pod(j.pods[0]).model_state is ModelState.READY  # type: ignore[union-attr]


def test_corrupt_model_crash_loop_is_corrupt_with_evidence(make_sim, start_feed) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=1 * MiB, seed=23)
    sim.apply(
        [pvc(sc="standard"), asr_deployment(sim.model_server.url(f.path), "0" * 64, replicas=1)]
    )
    _feed, rec = start_feed(sim, refresh=1)
    snap = rec.wait(
        lambda s: any(p.model_state is ModelState.CORRUPT for p in s.pods), 20, "corrupt"
    )
    (pod,) = snap.pods
    assert "checksum mismatch" in pod.evidence[0]
    looping = rec.wait(
        lambda s: any("CrashLoopBackOff" in " ".join(p.evidence) for p in s.pods),
        20,
        "the crash loop named",
    )
    assert looping.pods[0].model_state is ModelState.CORRUPT
    assert looping.pods[0].evidence[0] == pod.evidence[0]
    assert len(sim.store.list("pods", NS)[0]) == 1


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="a full volume needs root (tmpfs PVCs)")
def test_disk_full_is_failed_with_the_cause(make_sim, start_feed) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=4 * MiB, seed=24)
    sim.apply(
        [
            pvc(name="small-pvc", size="2Mi", sc="standard"),
            asr_deployment(sim.model_server.url(f.path), f.sha256, replicas=1, claim="small-pvc"),
        ]
    )
    volume = sim.root_dir / "volumes" / f"pvc-{NS}-small-pvc"
    _feed, rec = start_feed(sim, refresh=1)
    snap = rec.wait(lambda s: any(p.model_state is ModelState.FAILED for p in s.pods), 20, "fail")
    if not os.path.ismount(volume):
        pytest.skip("the simulator could not mount a tmpfs here (restricted container)")
    (pod,) = snap.pods
    assert "no space left" in pod.evidence[0].lower()
    assert "Download failed after" in pod.evidence[0]


def test_log_stream_reconnects_without_gaps_or_duplicates(make_sim, start_feed) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=600 * 1024, seed=25)
    sim.model_server.set_faults(f.path, Faults(rate_limit=200 * 1024))
    url = sim.model_server.url(f.path)
    sim.apply(
        [job("model-preload", ["wget", "-O", "/app/models/model.bin", url], {"MODEL_URL": url})]
    )
    feed, rec = start_feed(sim, refresh=1)
    rec.wait(
        lambda s: any(j.progress and (j.progress.bytes_done or 0) >= 100 * 1024 for j in s.jobs),
        15,
        "the download under way",
    )
    sim.run(sim.stop_api())
    time.sleep(1.0)  # wget keeps writing while the API is gone
    sim.run(sim.start_api())
    done = rec.wait(lambda s: bool(s.jobs) and s.jobs[0].state == "Complete", 20, "Complete")
    pod = done.jobs[0].pods[0]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(
        "saved [" in line.text for line in rec.lines.get(pod, [])
    ):
        time.sleep(0.1)
    offsets = [
        int(line.text.split("K", 1)[0])
        for line in rec.lines[pod]
        if line.text.lstrip()[:1].isdigit() and "K ." in line.text
    ]
    assert offsets == list(range(0, 600, 50))  # every dot row once, in order
    assert feed.cluster.counters.requests("get", "pods/log") >= 2  # it did reconnect
