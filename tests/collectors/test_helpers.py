"""Pure helpers: request classification, quantities, selectors, values, serving, disk output."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.cluster import RequestCounters, classify_request
from collectors.files import parse_stat_lines
from collectors.jobs import job_info
from collectors.kube import quantity, timestamp
from collectors.logstream import (
    STOP,
    ContainerRun,
    LogTarget,
    choose_target,
    container_runs,
    split_timestamp,
)
from collectors.model import DownloadPhase, DownloadProgress, ModelSettings, PodInfo
from collectors.report import attention
from collectors.rollouts import serving_deployment, url_from_configmap
from collectors.selectors import SelectorError, parse_selector
from collectors.stall import cache_dirs, model_file_name, parse_listing, pick_candidates
from collectors.values import ValuesError, load_values
from collectors.volumes import index_summary, parse_df, parse_du
from tests.collectors.podfactory import make_pod, terminated, waiting


def test_request_classification_and_counting() -> None:
    cases = {
        ("GET", "/api/v1/namespaces/s/pods?limit=500"): ("list", "pods"),
        ("GET", "/api/v1/namespaces/s/pods?watch=true&resourceVersion=5"): ("watch", "pods"),
        ("GET", "/api/v1/namespaces/s/pods/p/log?follow=true"): ("get", "pods/log"),
        ("GET", "/api/v1/nodes/n/proxy/stats%2Fsummary"): ("get", "nodes/proxy"),
        ("GET", "/apis/batch/v1/namespaces/s/cronjobs"): ("list", "cronjobs"),
        ("PATCH", "/apis/apps/v1/namespaces/s/deployments/d"): ("patch", "deployments"),
        ("DELETE", "/api/v1/namespaces/s/pods"): ("deletecollection", "pods"),
        ("GET", "/api/v1/namespaces/s"): ("get", "namespaces"),
    }
    for (method, url), expected in cases.items():
        assert classify_request(method, "https://h:6443" + url) == expected
    counters = RequestCounters()
    counters.count_request("list", "pods")
    counters.count_bytes("list", "pods", 100)
    counters.count_request("watch", "pods")
    assert counters.requests("list") == 1 and counters.requests(resource="pods") == 2
    assert counters.snapshot()["list pods"] == {"requests": 1, "bytes": 100}


def test_quantities_and_timestamps() -> None:
    assert quantity("5Gi") == 5 * 1024**3
    assert quantity("500M") == 500_000_000
    assert quantity("1e3") == 1000
    assert quantity("bogus") is None
    assert timestamp("2026-11-27T10:00:00.123456789Z") == pytest.approx(1795773600.123456, abs=1e-5)
    assert timestamp("2026-11-27T10:00:00Z") == 1795773600.0
    when, rest = split_timestamp("2026-11-27T10:00:00.5Z INFO: hi")
    assert when == 1795773600.5 and rest == "INFO: hi"
    assert split_timestamp("INFO: no stamp") == (None, "INFO: no stamp")


def test_selectors() -> None:
    s = parse_selector("app=lightning-asr,tier in (gpu, cpu),!canary,env!=dev")
    assert s.matches({"app": "lightning-asr", "tier": "gpu"})
    assert not s.matches({"app": "lightning-asr", "tier": "gpu", "canary": "1"})
    assert not s.matches({"app": "lightning-asr", "tier": "tpu"})
    assert not s.matches({"app": "lightning-asr", "tier": "cpu", "env": "dev"})
    assert parse_selector("").matches({})
    with pytest.raises(SelectorError, match="near"):
        parse_selector("app in (x")


def test_values_file(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(
        "models:\n  asrModelUrl: s3://bucket/model.smlst?X-Amz-Signature=secret\n"
        "  volumes:\n    aws:\n      efs: {enabled: true, namePrefix: shared}\n"
        "lightningAsr:\n  namePrefix: asr\n  port: 2269\n"
        "  env:\n    - {name: MODEL_CACHE_MAX_SIZE, value: 50GB}\n"
        "apiServer:\n  env:\n    LIGHTNING_ASR_BASE_URL: http://asr-v2:2269\n"
    )
    values = load_values(str(path))
    assert values.selector == "app=asr" and values.efs_claim == "shared-aws-efs-pvc"
    assert values.cache_quota == 50_000_000_000 and values.port == 2269
    assert "secret" not in (values.model_url or "")
    assert values.api_server_env == {"LIGHTNING_ASR_BASE_URL": "http://asr-v2:2269"}
    with pytest.raises(ValuesError, match="does not exist"):
        load_values(str(tmp_path / "missing.yaml"))
    path.write_text("- a list\n")
    with pytest.raises(ValuesError, match="not a mapping"):
        load_values(str(path))


def _dep(name: str, labels: dict[str, str]) -> dict:
    return {"metadata": {"name": name}, "spec": {"template": {"metadata": {"labels": labels}}}}


def test_serving_release() -> None:
    deps = [
        _dep("lightning-asr", {"app": "lightning-asr", "release": "v1"}),
        _dep("lightning-asr-v2", {"app": "lightning-asr", "release": "v2"}),
    ]
    assert serving_deployment("http://lightning-asr-v2:2269", deps) == "lightning-asr-v2"
    assert serving_deployment("http://lightning-asr-internal:2269", deps) == "lightning-asr"
    assert serving_deployment("http://asr.smallest.svc:2269", deps, {"release": "v2"}) == (
        "lightning-asr-v2"
    )
    assert serving_deployment("http://asr:2269", deps, {"app": "lightning-asr"}) is None
    toml = '[asr]\nlightning_asr_url = "http://lightning-asr-internal:2269"\n'
    assert url_from_configmap({"data": {"api.toml": toml}}) == "http://lightning-asr-internal:2269"


def test_disk_output_parsers() -> None:
    df = "Filesystem     1-blocks    Used Available Capacity Mounted on\n"
    df += "/dev/sdb1    1073741824 2097152 1071644672       1% /app/models\n"
    assert parse_df(df) == (1073741824, 2097152, 1071644672)
    wrapped = "Filesystem 1-blocks Used Available Capacity Mounted on\n"
    wrapped += (
        "fs-0123.efs.us-east-1.amazonaws.com:/\n 9223372036854771712 0 9223372036854771712 0% /m\n"
    )
    assert parse_df(wrapped) == (9223372036854771712, 0, 9223372036854771712)
    assert parse_du("6291456\t/app/models\n") == 6291456
    assert parse_du("6144\t/app/models\n", 1024) == 6291456
    assert parse_du("du: cannot access\n") is None
    summary = {
        "pods": [
            {
                "podRef": {"name": "a", "namespace": "smallest"},
                "volume": [
                    {"name": "models", "usedBytes": 5, "pvcRef": {"name": "pvc-1"}},
                    {"name": "scratch", "usedBytes": 7},
                ],
            }
        ]
    }
    by_claim, by_pod = index_summary(summary)
    assert by_claim["pvc-1"]["usedBytes"] == 5 and by_pod[("a", "scratch")]["usedBytes"] == 7
    lines = parse_stat_lines(
        "6291456 1795773600 regular file /app/models/model.bin\n"
        "4096 1795773600 directory /app/models/v2\n"
    )
    assert lines == [
        (6291456, 1795773600.0, "regular file", "/app/models/model.bin"),
        (4096, 1795773600.0, "directory", "/app/models/v2"),
    ]


def test_partial_file_candidates() -> None:
    settings = ModelSettings(url="http://x/models/v2/model.bin?sig=1", version="v2", cache_dir="/m")
    assert model_file_name(settings.url) == "model.bin"
    assert model_file_name("http://x/") == "model.bin"
    assert cache_dirs(settings) == ["/m/v2", "/m"]
    listing = parse_listing(
        "/m/v2:\nmodel.bin.part\nmodel.bin.part.json\nmodel.bin.lock\n\n/m:\nv2\n"
        "model.bin.Ab3xYz12\n.asr-cache-manifest.json\n",
        ["/m/v2", "/m"],
    )
    assert pick_candidates(listing, "model.bin") == [
        "/m/v2/model.bin.part",
        "/m/model.bin.Ab3xYz12",
    ]


def test_log_target_choice() -> None:
    init = [{"name": "fetch", "image": "aws"}]
    pod = make_pod(
        phase="Pending",
        init_containers=init,
        init_statuses=[{"name": "fetch", "restartCount": 0, "state": {"running": {}}}],
        statuses=[waiting("lightning-asr", "PodInitializing")],
    )
    target = choose_target(pod, set(), follow=True)
    assert isinstance(target, LogTarget) and target.container == "fetch" and target.follow
    pod = make_pod(statuses=[waiting("lightning-asr", "CrashLoopBackOff", 2, last_exit=1)])
    target = choose_target(pod, set(), follow=True)
    assert isinstance(target, LogTarget) and target.previous
    assert choose_target(pod, {target.key}, follow=True) is None
    done = make_pod(phase="Succeeded", statuses=[terminated("lightning-asr", 0, "Completed")])
    target = choose_target(done, set(), follow=True)
    assert isinstance(target, LogTarget) and not target.follow
    assert choose_target(done, {target.key}, follow=True) == STOP
    assert choose_target(None, set(), follow=True) == STOP
    # Running again after a restart: the run before's end first (the kubelet restarts a
    # crashed container at once the first time, maybe before its last lines were read).
    again = make_pod(statuses=[_running("lightning-asr", 1, "2026-11-27T10:01:00Z")])
    first = choose_target(again, set(), follow=True)
    assert isinstance(first, LogTarget) and first.previous and not first.follow
    then = choose_target(again, {first.key}, follow=True)
    assert isinstance(then, LogTarget) and then.follow and not then.previous


def _running(name: str, restarts: int, started: str) -> dict:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"running": {"startedAt": started}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}} if restarts else {},
    }


def test_container_runs_tell_a_new_run_of_a_container() -> None:
    init = [{"name": "fetch", "image": "aws"}]
    sidecar = {"name": "metrics", "image": "exporter"}
    main = make_pod()["spec"]["containers"][0]
    first = make_pod(
        containers=[main, sidecar],
        init_containers=init,
        init_statuses=[terminated("fetch", 0, "Completed")],
        statuses=[
            _running("lightning-asr", 0, "2026-11-27T10:00:00Z"),
            _running("metrics", 3, "x"),
        ],
    )
    runs = container_runs(first)
    assert set(runs) == {"fetch", "lightning-asr"}, "only the containers whose log is read"
    assert runs["lightning-asr"] == ContainerRun(0, timestamp("2026-11-27T10:00:00Z"))
    assert runs["fetch"].started_at is None  # a terminated state without startedAt
    before = runs["lightning-asr"]

    # Between runs (CrashLoopBackOff) nothing new has started; the kubelet's next start has.
    backoff = container_runs(
        make_pod(statuses=[waiting("lightning-asr", "CrashLoopBackOff", 0, 1)])
    )
    assert backoff["lightning-asr"].started_at is None
    assert not backoff["lightning-asr"].follows(before)
    again = container_runs(
        make_pod(statuses=[_running("lightning-asr", 1, "2026-11-27T10:00:09Z")])
    )
    assert again["lightning-asr"].follows(before) and again["lightning-asr"].follows(
        backoff["lightning-asr"]
    )
    assert again["lightning-asr"].exited == "exit code 1 (Error)"
    assert not before.follows(again["lightning-asr"]), "an older object is not a new run"
    # The same restart count with a later start is a new instance too; the same start is not.
    moved = ContainerRun(0, timestamp("2026-11-27T10:05:00Z"))
    assert moved.follows(before) and not before.follows(before)
    # The first start after ContainerCreating is the first run, not a restart.
    creating = container_runs(make_pod(statuses=[waiting("lightning-asr", "ContainerCreating")]))
    assert not before.follows(creating["lightning-asr"])


def test_attention_for_volumes() -> None:
    from collectors.model import ClusterSnapshot, VolumeInfo, VolumeUsage

    full = VolumeInfo("a", "pvc", usage=VolumeUsage("kubelet", 95, 100, 5))
    over = VolumeInfo("b", "pvc", quota_bytes=50, usage=VolumeUsage("du", 60))
    fine = VolumeInfo("c", "pvc", quota_bytes=50, usage=VolumeUsage("du", 10, 2**63))
    snap = ClusterSnapshot("ctx", "smallest", "http://h", 0.0, volumes=(full, over, fine))
    notes = attention(snap)
    assert notes == [
        "volume a: 95% full (95 B of 100 B)",
        "volume b: 60 B used, over the cache quota of 50 B",
    ]


def test_full_is_counted_as_df_counts_it() -> None:
    """Reserved blocks are not free: 28 used + 74 available on a 252 (this machine's root) is
    27% full, as df's Use% says, not 11% -- everywhere a fraction is shown or judged."""
    from collectors.model import ClusterSnapshot, VolumeInfo, VolumeUsage
    from collectors.report import used_fraction
    from tui.format import usage_cell
    from tui.screens.detail import df_text

    usage = VolumeUsage("df", 28 * 2**30, 252 * 2**30, 74 * 2**30)
    vol = VolumeInfo("root", "pvc", usage=usage)
    assert usage.fraction_full == pytest.approx(28 / 102)
    assert used_fraction(vol) == pytest.approx(28 / 102)
    assert " 27% 28.0/252.0 GiB" in usage_cell(vol).plain
    assert "28.0 GiB of 252.0 GiB (27% full), 74.0 GiB free" in df_text("/m", usage, None).plain
    tight = VolumeInfo("t", "pvc", usage=VolumeUsage("df", 90, 200, 5))  # 95% of what pods get
    snap = ClusterSnapshot("ctx", "smallest", "http://h", 0.0, volumes=(tight,))
    assert attention(snap) == ["volume t: 95% full (90 B of 200 B)"]


def test_a_complete_job_has_a_finished_download_whatever_its_log_said_last() -> None:
    job = {
        "metadata": {"name": "model-preload-v1"},
        "status": {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1},
    }
    moving = DownloadProgress(
        DownloadPhase.DOWNLOADING, "wget", bytes_done=99, bytes_total=100, rate=5.0, eta_seconds=1
    )
    pod = PodInfo("p", "ns", "u", "node", "Succeeded", False, 0, 0.0, "Job/x", "x", progress=moving)
    info = job_info(job, [pod])
    assert info.state == "Complete" and info.progress is not None
    assert info.progress.phase is DownloadPhase.DONE and info.progress.bytes_done == 100
    assert info.progress.rate is None and info.progress.eta_seconds is None
    running = dict(job, status={"active": 1})
    assert job_info(running, [pod]).progress == moving  # not complete: as the log says
